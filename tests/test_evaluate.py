"""Evaluation measures on hand-made bars, where the right answer is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qbdi_musicology.evaluate import (as_common_time, bar_metrics, markdown_table,
                                      score_tonic_triad, summarise)
from qbdi_musicology.grid import DEFAULT_GRID

G = DEFAULT_GRID


def bar(pitches, onsets=(0,), length=16):
    b = np.zeros((G.steps, G.pitches, 2), dtype=bool)
    for p in pitches:
        for start in onsets:
            b[start:start + length, p - G.low_pitch, 0] = True
            b[start, p - G.low_pitch, 1] = True
    return b


C, G_MAJ, C_MIN, A_MIN = (60, 64, 67), (55, 59, 62), (60, 63, 67), (57, 60, 64)


def test_c_major_against_g_major_disagrees():
    m = bar_metrics(np.stack([bar(C)]), np.stack([bar(G_MAJ)]), tonic_triad=0)
    assert m["triad_agreement"] == 0.0 and m["root_agreement"] == 0.0
    assert m["tonic_share"] == 0.0 and m["main_chord"] == "G"


def test_identical_bars_agree_with_no_texture_difference():
    bars = np.stack([bar(C), bar(A_MIN), bar(G_MAJ)])
    m = bar_metrics(bars, bars.copy(), tonic_triad=0)
    assert m["triad_agreement"] == 1.0 and m["root_agreement"] == 1.0
    assert m["texture_difference"] == 0.0 and m["rhythm_difference"] == 0.0
    assert m["tonic_share"] == pytest.approx(1 / 3) and m["distinct_chords"] == 3


def test_same_chord_new_texture():
    query = np.stack([bar(C)])  # a whole-note C major triad
    improv = np.stack([bar((48, 64, 67), onsets=(0, 4, 8, 12), length=4)])  # pulsing, new bass
    m = bar_metrics(query, improv, tonic_triad=0)
    assert m["triad_agreement"] == 1.0
    # onsets: query {C4,E4,G4 at step 0}; improv 12 onsets sharing E4 and G4 at step 0
    assert m["texture_difference"] == pytest.approx(1 - 2 / 13)
    assert m["rhythm_difference"] == pytest.approx(1 - 1 / 4)


def test_major_against_minor_keeps_the_root_only():
    m = bar_metrics(np.stack([bar(C)]), np.stack([bar(C_MIN)]), tonic_triad=0)
    assert m["triad_agreement"] == 0.0 and m["root_agreement"] == 1.0


def test_silent_improvisation_bar_counts_as_lost():
    m = bar_metrics(np.stack([bar(C), bar(C)]), np.stack([bar(C), bar(())]), tonic_triad=0)
    assert m["triad_agreement"] == 0.5 and m["silent_share"] == 0.5


def test_summary_mean_and_spread():
    rows = [{"rate": math.inf, "triad_agreement": 1.0, "tonic_share": 0.2},
            {"rate": math.inf, "triad_agreement": 0.5, "tonic_share": 0.4},
            {"rate": 0.0, "triad_agreement": 0.0, "tonic_share": 1.0}]
    s = summarise(rows)
    assert list(s["rate"]) == [math.inf, 0.0]
    assert s.loc[0, "triad_agreement_mean"] == pytest.approx(0.75)
    assert s.loc[0, "triad_agreement_sd"] == pytest.approx(0.25)
    table = markdown_table(s, columns=("triad_agreement", "tonic_share"))
    assert "| inf | 2 | 0.75 ± 0.25 | 0.30 ± 0.10 |" in table


def test_two_four_is_read_as_common_time():
    from music21 import meter, note, stream

    part = stream.Part([meter.TimeSignature("2/4")] + [note.Note("C4", quarterLength=2)
                                                      for _ in range(4)])
    score = stream.Score([part.makeMeasures()])
    out = as_common_time(score)
    measures = out.parts[0].getElementsByClass("Measure")
    assert len(measures) == 2
    assert {t.ratioString for t in out.recurse().getElementsByClass("TimeSignature")} == {"4/4"}
    assert len(score.parts[0].getElementsByClass("Measure")) == 4  # input untouched


def test_tonic_of_a_chorale_by_music21():
    from music21 import corpus

    assert score_tonic_triad(corpus.parse("bach/bwv66.6"))[2] == 18  # F# minor
