"""MusicXML writing: schema-valid, MuseScore-friendly, deterministic, provenance round trip."""

from __future__ import annotations

import math
import zipfile

import pytest
from music21 import chord, converter, corpus, harmony, meter, note, roman, stream, tempo

from qbdi_musicology.errors import InputError, OutputError
from qbdi_musicology.musicxml import (
    musicxml_bytes, read_musicxml_fields, score_fields, set_score_fields, write_midi,
    write_musicxml)


def _tricky_score() -> stream.Score:
    """Two parts, four bars: G (V in C), no chord, C+maj7, then a D symbol over F-A-C.

    It carries every known pitfall: a tempo mark in both parts, a Roman numeral object, a
    chord kind outside the schema, a no-chord symbol and a chord symbol with an F sharp over
    notes without one.
    """
    parts = []
    for pi in range(2):
        part = stream.Part(id=f"voice{pi}")
        spec = [("G", ["G3", "B3", "D4"]), ("N.C.", []), ("C+M7", ["C4", "E4", "G#4", "B4"]),
                ("D", ["F4", "A4", "C5"])]
        for i, (symbol, pitches) in enumerate(spec):
            m = stream.Measure(number=i + 1)
            if i == 0:
                m.insert(0, meter.TimeSignature("4/4"))
                m.insert(0, tempo.MetronomeMark(number=72))
            if pitches:
                m.insert(0, harmony.ChordSymbol(symbol))
                m.append(chord.Chord(pitches, quarterLength=4))
            else:
                m.insert(0, harmony.NoChord())
                m.append(note.Rest(quarterLength=4))
            if pi == 0 and i == 0:
                m.insert(0, roman.RomanNumeral("V", "C"))
            part.append(m)
        parts.append(part)
    return stream.Score(parts)


def _root(path):
    from lxml import etree
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            name = [n for n in z.namelist() if n.endswith(".musicxml")][0]
            return etree.fromstring(z.read(name))
    return etree.parse(str(path)).getroot()


def test_tricky_score_is_valid_and_clean(tmp_path, assert_valid_musicxml):
    score = _tricky_score()
    path = write_musicxml(score, tmp_path / "tricky.musicxml")
    assert_valid_musicxml(path)
    root = _root(path)
    # chord symbols: G, C+maj7 and D in each part; the no-chord bars became plain text
    kinds = [k.text for k in root.iter("kind")]
    assert kinds.count("none") == 0
    assert len(kinds) == 6
    words = [w.text for w in root.iter("words")]
    assert words.count("N.C.") == 2
    # the Roman numeral is a lyric "V" on the G chord, not extra notes
    lyrics = [t.text for t in root.iter("text")]
    assert lyrics == ["V"]
    first_bar_notes = root.find("part").find("measure").findall("note")
    assert [n.findtext("pitch/step") for n in first_bar_notes] == ["G", "B", "D"]
    # one tempo mark for the whole score, not one per part
    assert len(root.findall(".//sound[@tempo]")) == 1
    # the chord symbol D (with F#) puts no natural on the F under it (plain music21 does)
    last_bar = root.find("part").findall("measure")[-1]
    assert [a.text for a in last_bar.iter("accidental")] == []
    assert [a.text for a in last_bar.iter("alter")] == []
    # the input score is untouched: its Roman numeral object is still there
    assert len(list(score.recurse().getElementsByClass(roman.RomanNumeral))) == 1


def test_augmented_major_seventh_becomes_valid_kind_with_raised_fifth(tmp_path):
    score = _tricky_score()
    root = _root(write_musicxml(score, tmp_path / "k.musicxml"))
    harmonies = [h for h in root.find("part").iter("harmony")]
    aug = harmonies[1]
    assert aug.findtext("root/root-step") == "C"
    assert aug.findtext("kind") == "major-seventh"
    assert aug.findtext("degree/degree-value") == "5"
    assert aug.findtext("degree/degree-alter") == "1"


def test_same_score_same_bytes_and_fields_round_trip(tmp_path):
    score = _tricky_score()
    set_score_fields(score, {"model": "bar-vae-test", "rate": math.inf})
    assert score_fields(score) == {"model": "bar-vae-test", "rate": "inf"}
    a = write_musicxml(score, tmp_path / "a.mxl", fields={"seed": 3, "query title": "bwv66.6"})
    b = write_musicxml(score, tmp_path / "b.mxl", fields={"seed": 3, "query title": "bwv66.6"})
    assert a.read_bytes() == b.read_bytes()
    assert read_musicxml_fields(a) == {"model": "bar-vae-test", "rate": "inf", "seed": "3",
                                       "query title": "bwv66.6"}
    assert b"encoding-date" not in musicxml_bytes(score)


def test_mxl_beside_musicxml_keeps_both(tmp_path, assert_valid_musicxml):
    score = corpus.parse("bwv66.6")
    plain = write_musicxml(score, tmp_path / "x.musicxml")
    packed = write_musicxml(score, tmp_path / "x.mxl")
    assert plain.exists() and packed.exists()
    assert zipfile.is_zipfile(packed) and not zipfile.is_zipfile(plain)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.musicxml", "x.mxl"]
    assert_valid_musicxml(plain)
    assert_valid_musicxml(packed)
    # music21 reads it back with the same four voices and notes
    back = converter.parse(packed)
    assert len(back.parts) == 4
    assert [p.pitch.nameWithOctave for p in back.parts[0].recurse().notes][:4] == \
        [p.pitch.nameWithOctave for p in score.parts[0].recurse().notes][:4]
    # bwv66.6 has a tempo mark in every part: one is written
    assert len(_root(plain).findall(".//sound[@tempo]")) == 1


def test_never_overwrites_the_input(tmp_path):
    path = write_musicxml(_tricky_score(), tmp_path / "in.musicxml")
    parsed = converter.parse(path)
    with pytest.raises(OutputError):
        write_musicxml(parsed, path)
    with pytest.raises(OutputError):
        write_midi(parsed, path)


def test_not_a_score_and_unreadable_file(tmp_path):
    with pytest.raises(InputError):
        write_musicxml("not a score", tmp_path / "x.musicxml")
    junk = tmp_path / "junk.musicxml"
    junk.write_text("this is not xml")
    with pytest.raises(InputError):
        read_musicxml_fields(junk)
    assert not (tmp_path / "x.musicxml").exists()


def test_midi_has_the_notes_and_no_analysis(tmp_path):
    score = _tricky_score()
    path = write_midi(score, tmp_path / "t.mid")
    back = converter.parse(path)
    pitches = sorted(p.midi for p in back.flatten().pitches)
    # 2 parts x (G-B-D + C-E-G#-B + F-A-C): the chord symbols and the V are not sounded
    expected = sorted([55, 59, 62, 60, 64, 68, 71, 65, 69, 72] * 2)
    assert pitches == expected


@pytest.mark.musescore
def test_musescore_draws_chord_symbols_and_lyrics(tmp_path, musescore):
    path = write_musicxml(_tricky_score(), tmp_path / "tricky.mxl")
    result = musescore(path, tmp_path / "tricky.png")
    assert result.ok, result.error
    assert result.warnings == []
    assert result.harmonies == 6
    assert result.lyrics == 1
    assert result.png.stat().st_size > 1000
