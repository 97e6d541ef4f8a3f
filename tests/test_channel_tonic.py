"""The channel mean "tonic": with the key as side information, low rates drift to the tonic.

A tiny model trained in seconds on block chords of C, F, G and A minor (the pattern of
tests/test_generate.py) is queried through ``ChannelOptions(mean="tonic")``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from qbdi_musicology.analysis.chroma import bars_chroma, best_triad, triad_name
from qbdi_musicology.channel import ChannelOptions, transmit, transmit_many
from qbdi_musicology.errors import ParameterError
from qbdi_musicology.grid import DEFAULT_GRID
from qbdi_musicology.pianoroll import bars_to_score, score_to_bars
from tiny_models import TRIADS, block

G = DEFAULT_GRID
TONIC = ChannelOptions(mean="tonic")


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture
def model(chord_model):
    return chord_model


def chord_score(names):
    bars = np.stack([block(TRIADS[n], pulses=False) for n in names])
    return bars_to_score(bars, G, tempo=90, title="tonic test")


def chords(score):
    return [triad_name(i) for i in best_triad(bars_chroma(score_to_bars(score, G), G))]


def test_rate_zero_decodes_the_query_tonic_in_every_bar(model):
    from qbdi_musicology.generate import encode, query

    q = chord_score(["C", "Am", "F", "Am", "G", "C"])
    assert encode(q, model).key == (0, "major")  # music21 hears C major
    assert chords(query(q, model, rate=0, channel=TONIC)) == ["C"] * 6


def test_the_tonic_follows_the_key_not_the_model(model):
    """A piece in G major drifts to G, not to the C the model heard most in training."""
    from qbdi_musicology.generate import encode, query

    q = chord_score(["G", "C", "G", "G"])
    assert encode(q, model).key == (7, "major")
    assert chords(query(q, model, rate=0, channel=TONIC)) == ["G"] * 4


def test_tonic_code_is_the_code_of_a_block_tonic_chord(model):
    from qbdi_musicology.generate import encode, encode_bars, tonic_bar, tonic_code

    bar = tonic_bar(7, "major", G)
    assert triad_name(int(best_triad(bars_chroma(bar[None], G))[0])) == "G"
    assert sorted({int(p) + G.low_pitch for p in np.flatnonzero(bar[0, :, 1])}) == [55, 67, 71, 74]
    enc = encode(chord_score(["G", "C", "G", "G"]), model)
    assert np.allclose(tonic_code(model.model, enc), encode_bars(model.model, bar[None])[0][0])
    # A minor key gets a minor triad: A3 under A4-C5-E5.
    am = tonic_bar(9, "minor", G)
    assert sorted({int(p) + G.low_pitch for p in np.flatnonzero(am[0, :, 1])}) == [57, 69, 72, 76]


def test_full_rate_is_unchanged_and_rates_between_differ(model):
    from qbdi_musicology.generate import sweep

    q = chord_score(["C", "G", "Am", "F"])
    plain = sweep(q, model, [math.inf], seed=3)[0][1]
    tonic = sweep(q, model, [math.inf], seed=3, channel=TONIC)[0][1]
    assert np.array_equal(score_to_bars(plain, G), score_to_bars(tonic, G))
    assert chords(tonic) == ["C", "G", "Am", "F"]


def test_tonic_mean_is_the_given_vector_at_rate_zero():
    rng = np.random.default_rng(0)
    mu = rng.standard_normal((5, 4))
    code = np.array([1.0, -2.0, 0.5, 3.0])
    zero, full = transmit_many(mu, None, [0, math.inf], options=TONIC, mean_vector=code)
    assert np.array_equal(zero.z_hat, np.tile(code, (5, 1)))
    assert np.array_equal(full.z_hat, mu)
    assert zero.to_record()["mean_option"] == "tonic"


@pytest.mark.parametrize("options, vector, needle", [
    (TONIC, None, "needs the tonic"),
    (ChannelOptions(), np.zeros(4), "mean_vector was given"),
    (TONIC, np.zeros(3), "shape"),
    (TONIC, np.array([0.0, np.nan, 0.0, 0.0]), "non-finite"),
])
def test_bad_use_is_a_parameter_error(options, vector, needle):
    mu = np.zeros((3, 4))
    with pytest.raises(ParameterError, match=needle):
        transmit(mu, None, 8, options=options, mean_vector=vector)


def test_only_the_harmony_part_falls_back_to_the_tonic(model):
    """The chord part of the mean is the tonic's code; the texture part the piece's average."""
    from qbdi_musicology.generate import channel_mean_vector, encode, tonic_code

    enc = encode(chord_score(["G", "C", "G", "Am"]), model)
    k = model.config.harmony_dims
    vec = channel_mean_vector(model.model, enc, TONIC)
    assert np.allclose(vec[:k], tonic_code(model.model, enc)[:k])
    assert np.allclose(vec[k:], enc.mu.mean(axis=0)[k:])
    assert channel_mean_vector(model.model, enc, ChannelOptions()) is None
