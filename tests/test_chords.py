"""Chord labels: musical facts on hand-made bars, and the Bach chorales with music21 as oracle."""

from __future__ import annotations


import pytest
from music21 import chord, corpus, meter, note, stream

from qbdi_musicology.analysis.chords import (NO_CHORD, label_chords, resolve_key,
                                             roman_numeral, score_segments)
from qbdi_musicology.errors import InputError, ParameterError
from chord_scores import bars_score



C, F, G = ["C4", "E4", "G4"], ["F3", "A3", "C4"], ["G3", "B3", "D4"]
G7 = ["G3", "B3", "D4", "F4"]


def test_g_major_bar_is_g_and_v_in_c():
    table = label_chords(bars_score([[C], [G]]), key="C")
    row = table.iloc[1]
    assert (row.chord_symbol, row.roman, row.function) == ("G", "V", "D")
    assert row.root_pc == 7 and row.quality == "major" and not row.is_fallback
    assert row.pitch_classes == (2, 7, 11)
    assert table.iloc[0].roman == "I" and table.iloc[0].function == "T"


def test_cadence_per_beat_and_key_estimate():
    score = bars_score([[C, F, G7, C]])
    table = label_chords(score, per="beat")
    assert table["key"].iloc[0] == "C major"
    assert list(table["beat"]) == [1.0, 2.0, 3.0, 4.0]
    assert list(table["chord_symbol"]) == ["C", "F", "G7", "C"]
    assert list(table["roman"]) == ["I", "IV", "V7", "I"]
    assert list(table["function"]) == ["T", "S", "D", "T"]


def test_inversions_and_incomplete_seventh():
    score = bars_score([[["B2", "D4", "G4"]], [["F3", "G3", "B3", "D4"]], [["G3", "B3", "F4"]]])
    table = label_chords(score, key="C")
    assert list(table["chord_symbol"]) == ["G", "G7", "G7"]
    assert list(table["roman"]) == ["V6", "V42", "V7"]
    assert not table["is_fallback"].any()  # G-B-F is a dominant seventh without its fifth


def test_minor_key_numerals():
    score = bars_score([[["A3", "C4", "E4"]], [["E3", "G#3", "B3"]], [["G#3", "B3", "D4"]],
                        [["G3", "B3", "D4"]], [["F3", "A3", "C4"]]])
    table = label_chords(score, key="a")
    assert list(table["roman"]) == ["i", "V", "vii°", "VII", "VI"]
    assert list(table["function"]) == ["T", "D", "D", "D", "T"]
    assert table["key"].iloc[0] == "a minor"


def test_diminished_seventh_takes_the_bass_as_root():
    table = label_chords(bars_score([[["B3", "D4", "F4", "A-4"]]]), key="C")
    assert table.iloc[0].chord_symbol == "Bdim7"
    assert table.iloc[0].roman == "vii°7"


def test_passing_note_gives_fallback_and_rest_gives_no_chord():
    # C-E-G held over a bar with a passing D for one beat: still C, but not an exact triad
    part = stream.Part()
    m = stream.Measure(number=1)
    m.insert(0, meter.TimeSignature("4/4"))
    m.insert(0, chord.Chord(["C3", "E4", "G4"], quarterLength=4))
    m.insert(1, note.Note("D5", quarterLength=1))
    part.append(m)
    part.append(stream.Measure([note.Rest(quarterLength=4)], number=2))
    table = label_chords(stream.Score([part]), key="C")
    assert table.iloc[0].chord_symbol == "C" and table.iloc[0].is_fallback
    assert table.iloc[0].pitch_classes == (0, 2, 4, 7)
    assert 0.9 < table.iloc[0].fit < 1.0
    assert table.iloc[1].chord_symbol == NO_CHORD and table.iloc[1].roman == ""


def test_spelling_follows_the_score():
    table = label_chords(bars_score([[["E-4", "G4", "B-4"]], [["D#4", "F##4", "A#4"]]]))
    assert list(table["chord_symbol"]) == ["Eb", "D#"]


def test_roman_numeral_function_directly():
    from music21 import key
    assert roman_numeral(7, "dominant-seventh", 11, key.Key("C")) == ("V65", "D")
    assert roman_numeral(8, "diminished", 8, key.Key("a")) == ("vii°", "D")
    assert roman_numeral(2, "half-diminished-seventh", 2, key.Key("C")) == ("iiø7", "S")


def test_key_matches_music21_on_chorales():
    for name in ("bwv66.6", "bwv269", "bwv347", "bwv153.1"):
        score = corpus.parse(name)
        ours = resolve_key(None, score)
        theirs = score.analyze("key")
        assert (ours.tonic.pitchClass, ours.mode) == (theirs.tonic.pitchClass, theirs.mode), name


def test_chorales_label_every_beat_and_agree_with_music21_roots():
    for name in ("bwv66.6", "bwv269", "bwv347", "bwv153.1", "bwv86.6"):
        score = corpus.parse(name)
        segments = score_segments(score, "beat")
        table = label_chords(score, per="beat")
        assert len(table) == len(segments)
        assert (table["chord_symbol"] != "").all()
        assert not table["chord_symbol"].str.contains("Cannot").any()
        exact = table[~table["is_fallback"] & (table["chord_symbol"] != NO_CHORD)
                      & ~table["quality"].isin(["diminished-seventh", "augmented"])]
        assert len(exact) > len(table) / 3
        for j, root_pc in zip(exact.index, exact["root_pc"]):
            spelled = [n.replace("b", "-") if len(n) > 1 else n
                       for n in segments.spellings[j].values()]
            assert chord.Chord(spelled).root().pitchClass == root_pc, (name, j)


def test_bwv66_first_beats():
    table = label_chords(corpus.parse("bwv66.6"), per="beat")
    assert table["key"].iloc[0] == "f# minor"
    # bar 1 opens on the tonic F#m, and bar 0 is the one-beat pickup on beat 4
    assert (table.iloc[0].bar, table.iloc[0].beat) == (0, 4.0)
    assert (table.iloc[1].bar, table.iloc[1].chord_symbol, table.iloc[1].roman) == \
        (1, "F#m", "i")


def test_bad_input():
    with pytest.raises(InputError):
        label_chords("bwv66.6")
    with pytest.raises(ParameterError):
        label_chords(bars_score([[C]]), per="half-bar")
    with pytest.raises(ParameterError):
        label_chords(bars_score([[C]]), key="H sharp dorian")


def test_empty_score_is_all_no_chord():
    table = label_chords(bars_score([[[]], [[]]]))
    assert list(table["chord_symbol"]) == [NO_CHORD, NO_CHORD]
    assert (table["key"] == "").all()


@pytest.mark.slow
def test_all_bach_chorales_no_crash_no_unlabeled():
    from music21.corpus.chorales import Iterator
    count = 0
    for name in Iterator(returnType="filename"):
        score = corpus.parse(name)
        table = label_chords(score, per="beat")
        assert len(table) > 0 and (table["chord_symbol"] != "").all(), name
        count += 1
    assert count == 371
