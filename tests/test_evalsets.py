"""Named evaluation sets: what they hold, how they are read and cached, how they are reported."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qbdi_musicology import evalsets
from qbdi_musicology.evalsets import (EVALUATION_SETS, SetPiece, load_evaluation_set,
                                      read_piece, sounding_chord_symbols)

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def test_broad_set_has_forty_pieces_in_six_styles_named_once():
    pieces = EVALUATION_SETS["broad"]
    styles = {p.style for p in pieces}
    assert len(pieces) >= 40 and len(styles) >= 6
    assert len({p.spec for p in pieces}) == len(pieces)
    assert all(p.spec.startswith("corpus:") for p in pieces)
    # the pop models' training songs are never queried: only clips of the held-out songs
    pop = [p.spec for p in pieces if "pop-music-midi" in p.spec]
    assert pop and all(any(s in spec for s in evalsets.HELD_OUT_POP_SONGS) for spec in pop)


def test_evaluate_names_its_queries_in_evalsets_only():
    from qbdi_musicology import evaluate

    assert evaluate.CHORALES is evalsets.CHORALES
    assert evaluate.HELD_OUT_POP_SONGS is evalsets.HELD_OUT_POP_SONGS


def test_unknown_set_is_a_parameter_error():
    from qbdi_musicology.errors import ParameterError

    with pytest.raises(ParameterError, match="broad"):
        evalsets.set_pieces("nonesuch")


def test_chord_symbols_sound_until_the_next_one():
    from music21 import harmony, meter, note, stream

    part = stream.Part([meter.TimeSignature("4/4")])
    part.insert(0, harmony.ChordSymbol("D"))
    part.insert(2, harmony.ChordSymbol("A7"))
    for i in range(4):
        part.insert(i, note.Note("F#5", quarterLength=1))
    score = stream.Score([part.makeMeasures()])
    out = sounding_chord_symbols(score)
    assert len(out.parts) == 2 and len(score.parts) == 1  # input untouched
    chords = list(out.parts[1].flatten().getElementsByClass("Chord"))
    assert [c.offset for c in chords] == [0.0, 2.0]
    assert [c.quarterLength for c in chords] == [2.0, 2.0]
    assert chords[0].pitches[0].midi == 50  # D3 in the bass
    assert {p.pitchClass for p in chords[1].pitches} == {9, 1, 4, 7}


def test_piece_is_cached_and_read_back_the_same(tmp_path):
    piece = SetPiece("chorales", "corpus:bach-chorales/bwv66.6")
    first = read_piece(piece, cache_dir=tmp_path)
    assert list(tmp_path.rglob("*.npz"))
    again = read_piece(piece, cache_dir=tmp_path)
    assert again.score is None and np.array_equal(first.bars, again.bars)
    assert again.structure == first.structure and again.key == first.key == (6, "minor")
    assert again.tonic_triad == first.tonic_triad


def test_pieces_of_an_absent_data_folder_are_skipped_with_a_message(tmp_path, monkeypatch):
    monkeypatch.setitem(EVALUATION_SETS, "tiny", (
        SetPiece("chorales", "corpus:bach-chorales/bwv66.6"),
        SetPiece("visions-fugitives", "corpus:visions-fugitives/vf_no1")))
    queries, skipped = load_evaluation_set("tiny", data_dir=tmp_path / "absent",
                                           cache_dir=tmp_path / "cache")
    assert [q.name for q in queries] == ["bwv66.6"]
    assert skipped[0][0] == "corpus:visions-fugitives/vf_no1" and "not found" in skipped[0][1]
    (line,) = evalsets.skipped_summary(skipped * 3)
    assert line.startswith("skipped 3 pieces (corpus:visions-fugitives/vf_no1, ")


def test_cached_query_measures_as_the_score_does(chord_model, tmp_path):
    from qbdi_musicology.evaluate import evaluate_model, load_query_set

    (from_score,) = load_query_set(["corpus:bach-chorales/bwv66.6"])
    cached = read_piece(SetPiece("bach-chorales", "corpus:bach-chorales/bwv66.6"),
                        cache_dir=tmp_path)
    rates = [math.inf, 8.0, 0.0]
    a = evaluate_model(chord_model, [from_score], rates, seed=3)
    b = evaluate_model(chord_model, [cached], rates, seed=3)
    for ra, rb in zip(a, b):
        assert ra["triad_agreement"] == rb["triad_agreement"]
        assert ra["tonic_share"] == rb["tonic_share"]


def test_draws_average_the_channel(chord_model):
    from qbdi_musicology.evaluate import evaluate_model, load_query_set

    queries = load_query_set(["corpus:bach-chorales/bwv66.6"])
    one = [evaluate_model(chord_model, queries, [16.0], seed=s)[0]["triad_agreement"]
           for s in (5, 6, 7)]
    mean = evaluate_model(chord_model, queries, [16.0], seed=5, draws=3)[0]
    assert mean["triad_agreement"] == pytest.approx(np.mean(one))


def test_monotone_within_tolerance():
    from qbdi_musicology.evaluate import _monotone

    assert _monotone([0.8, 0.82, 0.6, 0.3], 0.03)  # a rise of 0.02 passes
    assert not _monotone([0.8, 0.82, 0.84, 0.3], 0.03)  # two small rises add up
    assert not _monotone([0.5, 0.3, 0.6], 0.03)


def _rows():
    rows = []
    for seed, shift in ((1, 0.0), (2, 0.1)):
        for group, query, agr in (("a", "p1", 0.8), ("a", "p2", 0.6), ("b", "p3", 0.4)):
            for rate, factor in ((math.inf, 1.0), (8.0, 0.5), (0.0, 0.25)):
                rows.append({"seed": seed, "group": group, "query": query, "rate": rate,
                             "triad_agreement": (agr + shift) * factor,
                             "texture_difference": 0.7, "tonic_share": 0.9,
                             "main_chord_is_tonic": query != "p3"})
    return rows


def test_style_table_columns_per_seed_and_overall():
    from qbdi_musicology.evaluate import style_table

    table = style_table(_rows())
    assert "| a | 2 | 0.700 ± 0.10 | 0.800 ± 0.10 | 0.750 | 0.071 |" in table
    assert "| **overall** | 3 | 0.600 ± 0.16 | 0.700 ± 0.16 | 0.650 | 0.071 |" in table


def test_targets_per_seed():
    from qbdi_musicology.evaluate import per_seed_targets

    t = per_seed_targets(_rows())
    assert list(t["seed"]) == [1, 2]
    assert t.loc[0, "agreement_inf"] == pytest.approx(0.6)
    assert t.loc[0, "weakest_style"] == "b"
    assert t.loc[0, "monotone_share"] == 1.0
    assert t.loc[0, "rate0_tonic"] == pytest.approx(2 / 3)


def test_cli_rejects_seeds_with_a_model(capsys):
    from qbdi_musicology.cli import main

    assert main(["evaluate", "--seeds", "1,2", "--model", "x.qbdi", "--out", "o"]) == 2
    assert "--preset" in capsys.readouterr().err
