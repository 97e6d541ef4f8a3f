"""Query versus improvisation: agreement, functions, collisions, bad input."""

from __future__ import annotations

import logging

import pytest
from music21 import corpus, interval

from qbdi_musicology.analysis.collisions import compare_scores
from qbdi_musicology.errors import InputError
from chord_scores import bars_score



C, G, D = ["C4", "E4", "G4"], ["G3", "B3", "D4"], ["D4", "F#4", "A4"]
G7, B_DIM, F = ["G3", "B3", "D4", "F4"], ["B3", "D4", "F4"], ["F3", "A3", "C4"]


def test_g_against_d_is_a_collision():
    table = compare_scores(bars_score([C, G, C]), bars_score([C, D, C]), key="C")
    row = table.iloc[1]
    assert (row.query_chord, row.improv_chord) == ("G", "D")
    assert (row.query_function, row.improv_function) == ("D", "S")
    assert row.collision and row.collision_text == "G vs D"
    assert row.foreign_share == pytest.approx(2 / 3)  # F# and A are not in G-B-D
    assert not table.iloc[0].collision and table.iloc[0].same_chord
    assert table["collision"].sum() == 1


def test_same_root_or_same_function_is_not_a_collision():
    table = compare_scores(bars_score([C, G, G, G]), bars_score([C, G7, B_DIM, F]), key="C")
    assert list(table["same_root"]) == [True, True, False, False]
    assert list(table["same_function"]) == [True, True, True, False]
    # G vs F: different root and function, and A and C are foreign to G-B-D
    assert list(table["collision"]) == [False, False, False, True]
    assert table.iloc[3].collision_text == "G vs F"


def test_thresholds_are_parameters():
    q, i = bars_score([G]), bars_score([D])
    assert compare_scores(q, i, key="C").collision.all()
    assert not compare_scores(q, i, key="C", min_foreign_share=0.9).collision.any()
    assert not compare_scores(q, i, key="C", min_tonnetz_distance=5.0).collision.any()


def test_chorale_against_itself_and_its_transposition():
    score = corpus.parse("bwv66.6")
    itself = compare_scores(score, score, per="beat")
    assert itself["same_chord"].all() and itself["same_function"].all()
    assert (itself["tonnetz_distance"] == 0).all() and not itself["collision"].any()
    moved = compare_scores(score, score.transpose(interval.Interval("M2")), per="beat")
    assert len(moved) == len(itself)
    assert moved["same_chord"].mean() < 0.1
    assert moved["tonnetz_distance"].mean() > 0.5
    assert moved["collision"].mean() > 0.5


def test_different_lengths_compare_the_overlap_and_say_so(caplog):
    # the warning is asserted whatever level other code in this process gave the loggers
    caplog.set_level(logging.WARNING, logger="qbdi_musicology.analysis")
    table = compare_scores(bars_score([C, G, C, F, G]), bars_score([C, G, C]), key="C")
    assert len(table) == 3
    assert any("only the first 3 bars" in w for w in table.attrs["warnings"])
    assert "only the first 3 bars" in caplog.text


def test_empty_improvisation_is_well_defined():
    table = compare_scores(bars_score([C, G]), bars_score([[], []]), key="C")
    assert list(table["improv_chord"]) == ["N.C.", "N.C."]
    assert not table["same_chord"].any() and not table["collision"].any()
    assert table["foreign_share"].isna().all()
    assert any("no sounding notes" in w for w in table.attrs["warnings"])


def test_bad_input_is_a_clear_error():
    with pytest.raises(InputError):
        compare_scores(bars_score([C]), "improvisation.musicxml")
    with pytest.raises(InputError, match="no key"):
        compare_scores(bars_score([[]]), bars_score([C]))
    with pytest.raises(InputError, match="3/4"):
        compare_scores(bars_score([C]), bars_score([C], "3/4"), per="beat")
    table = compare_scores(bars_score([C]), bars_score([C], "3/4"), per="bar")
    assert any("different meters" in w for w in table.attrs["warnings"])
