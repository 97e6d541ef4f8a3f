"""The recipes' harmony-swap options keep the drift: the chord passes the channel, rate 0
plays the tonic whatever the query's bars were, full rate keeps the chords.

A tiny block-chord model (tests/tiny_models.py) is trained with the options of the
``pop-harmony``, ``pop-harmony-robust`` and ``pop-harmony-chroma`` recipes (harmony-swap
loss, texture codes drawn from the prior, triad-sharpened swap target, a harmony part read
from the chroma alone, its KL weighted twice, tonic fallback).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from qbdi_musicology.analysis.chroma import bars_chroma, best_triad, triad_name
from qbdi_musicology.grid import DEFAULT_GRID
from qbdi_musicology.pianoroll import bars_to_score, score_to_bars
from tiny_models import TRIADS, block, one_torch_thread, tiny_chord_model

G = DEFAULT_GRID
RECIPES = {
    "pop-harmony": {"harmony_swap_weight": 5.0, "channel_mean": "tonic"},
    "pop-harmony-robust": {"harmony_swap_weight": 5.0, "channel_mean": "tonic",
                           "swap_prior_texture": 0.5, "swap_target": "triad"},
    "pop-harmony-chroma": {"harmony_swap_weight": 5.0, "channel_mean": "tonic",
                           "harmony_encoder": "chroma"},
    "pop-harmony-chroma-kl2": {"harmony_swap_weight": 5.0, "channel_mean": "tonic",
                               "harmony_encoder": "chroma", "harmony_beta": 2.0},
}


@pytest.fixture(scope="module", params=sorted(RECIPES))
def model(request, tmp_path_factory):
    with one_torch_thread():
        return tiny_chord_model(tmp_path_factory.mktemp(request.param), **RECIPES[request.param])


def chord_score(names):
    bars = np.stack([block(TRIADS[n], pulses=False) for n in names])
    return bars_to_score(bars, G, tempo=90, title="recipe test")


def chords(score):
    return [triad_name(i) for i in best_triad(bars_chroma(score_to_bars(score, G), G))]


def test_full_rate_keeps_the_chords(model):
    from qbdi_musicology.generate import query

    with one_torch_thread():
        assert chords(query(chord_score(["C", "G", "Am", "F", "C"]), model)) == \
            ["C", "G", "Am", "F", "C"]


def test_rate_zero_is_the_tonic_whatever_the_query_bars(model):
    """Two C major queries with their chords in another order give the same rate-0 bars."""
    from qbdi_musicology.generate import query

    with one_torch_thread():
        a = score_to_bars(query(chord_score(["C", "G", "C", "F", "G", "C"]), model, rate=0), G)
        b = score_to_bars(query(chord_score(["C", "F", "G", "C", "G", "C"]), model, rate=0), G)
    assert np.array_equal(bars_chroma(a, G), bars_chroma(b, G))
    assert [triad_name(i) for i in best_triad(bars_chroma(a, G))] == ["C"] * 6


def test_the_chord_passes_the_channel(model):
    """The harmony part is rate-limited: fewer bits, fewer of the query's chords kept."""
    from qbdi_musicology.evaluate import bar_triads
    from qbdi_musicology.generate import sweep

    names = ["C", "G", "Am", "F", "G", "Am", "F", "C"]
    q = chord_score(names)
    with one_torch_thread():
        made = {rate: bar_triads(score_to_bars(s, G)) for rate, s, _ in
                sweep(q, model, [math.inf, 2.0, 0.0], seed=4)}
    want = bar_triads(score_to_bars(q, G))
    agreement = {rate: float(np.mean(t == want)) for rate, t in made.items()}
    assert agreement[math.inf] == 1.0
    assert agreement[0.0] == pytest.approx(2 / 8)  # only the two tonic bars
    assert agreement[2.0] <= agreement[math.inf]
