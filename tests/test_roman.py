"""Roman-numeral analysis: musical facts on a Bach chorale and on hand-made progressions."""

from __future__ import annotations

import pytest
from music21 import converter, corpus, key, meter, note, roman, stream

from qbdi_musicology.analysis.roman import analyse_roman, figure
from qbdi_musicology.analysis.romantext import to_csv, to_romantext
from qbdi_musicology.annotate.roman import annotate_roman, write_roman_musicxml
from qbdi_musicology.errors import InputError


def satb(voices: list[str], time_signature: str = "4/4", key_sig: int = 0) -> stream.Score:
    """A score of parts from text lines, top part first: ``"C5:1 D5:0.5 E5:0.5 ..."``
    (pitch:quarter notes; ``r`` for a rest)."""
    score = stream.Score()
    for line in voices:
        part = stream.Part()
        part.append(meter.TimeSignature(time_signature))
        part.append(key.KeySignature(key_sig))
        for token in line.split():
            name, ql = token.split(":")
            n = note.Rest() if name == "r" else note.Note(name)
            n.quarterLength = float(ql)
            part.append(n)
        score.insert(0, part.makeMeasures())
    return score


def rows(score):
    table = analyse_roman(score).chords
    return [(r.measure, r.beat, r.key, r.roman) for r in table.itertuples()]


@pytest.fixture(scope="module")
def bwv347():
    return corpus.parse("bach/bwv347")


@pytest.fixture(scope="module")
def bwv347_analysis(bwv347):
    return analyse_roman(bwv347)


def keys_in_bar(analysis, bar: int) -> set[str]:
    c = analysis.chords
    # the key sounding at any point of the bar: chords starting in it and the one held into it
    before = c[c["measure"] < bar].tail(1)["key"].tolist()
    return set(c[c["measure"] == bar]["key"]) | set(before if not (
        (c["measure"] == bar) & (c["beat"] == 1.0)).any() else [])


def test_bwv347_local_keys_follow_the_human_analysis(bwv347_analysis):
    # the analysis shipped with music21 (Riemenschneider 2): A major, E major in bars 2-4,
    # B minor from bar 6 beat 4 to bar 8
    a = bwv347_analysis
    assert a.global_key().tonic.name == "A" and a.global_key().mode == "major"
    assert a.chords["key"].iloc[0] == "A"
    for bar in (2, 3, 4):
        assert keys_in_bar(a, bar) == {"E"}, bar
    assert "b" in keys_in_bar(a, 7)
    assert "b" in keys_in_bar(a, 6) | keys_in_bar(a, 8)
    assert a.chords["key"].iloc[-1] == "A"


def test_bwv347_chords_are_not_repeated_at_each_beat(bwv347_analysis):
    c = bwv347_analysis.chords
    same = (c["roman"] == c["roman"].shift()) & (c["key"] == c["key"].shift())
    assert not same.any()
    assert c["key_change"].sum() == len(bwv347_analysis.keys())


def test_a_passing_tone_between_I_and_I6_makes_no_chord():
    score = satb(["G4:2 G4:2 C5:4",
                  "E4:2 E4:2 E4:4",
                  "C4:2 C4:2 G3:4",
                  "C3:1 D3:1 E3:2 C3:4"])
    table = analyse_roman(score).chords
    assert [(r.measure, r.beat, r.roman) for r in table.itertuples()] == [
        (1, 1.0, "I"), (1, 3.0, "I6"), (2, 1.0, "I")]
    assert "D3 passing" in table["nonchord_tones"].iloc[0]


def test_applied_dominant_in_a_cadence_stays_in_the_key():
    # C: I  IV  V7/V  V | I  (one chord per half bar; D-F#-A-C over D)
    score = satb(["C5:1 C5:1 A4:1 B4:1 C5:4",
                  "G4:1 A4:1 F#4:1 G4:1 G4:4",
                  "E4:1 F4:1 C4:1 D4:1 E4:4",
                  "C3:1 F3:1 D3:1 G2:1 C3:4"])
    assert rows(score) == [(1, 1.0, "C", "I"), (1, 2.0, "C", "IV"), (1, 3.0, "C", "V7/V"),
                           (1, 4.0, "C", "V"), (2, 1.0, "C", "I")]


@pytest.mark.parametrize("sharps,tonic", [(0, "C"), (1, "G")])
def test_cadential_six_four_is_one_label_before_V(sharps, tonic):
    # I  IV | I64 V | I, in C and a fifth higher in G
    up = 7 if tonic == "G" else 0
    voices = ["E5:2 F5:2 E5:2 D5:2 C5:4",
              "G4:2 A4:2 G4:2 G4:2 G4:4",
              "C4:2 C4:2 C4:2 B3:2 E4:4",
              "C3:2 F3:2 G3:2 G3:2 C3:4"]
    score = satb(voices, key_sig=sharps)
    if up:
        score = score.transpose(up)
    table = analyse_roman(score).chords
    cad = table[table["cadential_64"]]
    assert len(cad) == 1
    i = cad.index[0]
    assert table.loc[i, "roman"] == "I64" and table.loc[i, "key"] == tonic
    assert table.loc[i + 1, "roman"] == "V"
    assert list(table["roman"]) == ["I", "IV", "I64", "V", "I"]


def test_figures_analysts_write():
    c_major, a_minor = 0, 21
    d7 = 4 * 12 + 2          # dominant seventh on D
    assert figure(d7, 0, c_major) == "V42/V"
    dim7_on_c_sharp = 8 * 12 + 1
    assert figure(dim7_on_c_sharp, 1, c_major) == "viio7/ii"
    neapolitan = 0 * 12 + 1  # D-flat major triad
    assert figure(neapolitan, 5, c_major) == "bII6"
    ger = 4 * 12 + 8         # A-flat dominant-seventh sound over A-flat
    assert figure(ger, 8, c_major) == "Ger65"
    assert figure(ger, 8, c_major, sounding={8, 0, 6}) == "It6"   # no E-flat
    leading = 2 * 12 + 8     # G#-B-D in A minor
    assert figure(leading, 8, a_minor) == "viio"
    assert figure(0 * 12 + 5, 5, a_minor) == "VI"


@pytest.mark.parametrize("semitones", [0, 1])
def test_romantext_reads_back_with_the_same_numerals(bwv347, bwv347_analysis, semitones):
    # a semitone up, bwv347 is in B-flat and visits F major and C minor: flat key names
    analysis = bwv347_analysis if not semitones else analyse_roman(bwv347.transpose(semitones))
    if semitones:
        assert analysis.chords["key"].iloc[0] == "B-"
    text = to_romantext(analysis)
    parsed = converter.parse(text, format="romanText")
    back = []
    for rn in parsed.recurse().getElementsByClass(roman.RomanNumeral):
        item = (rn.figure, rn.key.tonicPitchNameWithCase, rn.root().pitchClass)
        # music21 restates a chord held over the bar line at the downbeat: the same chord
        if not back or item != back[-1]:
            back.append(item)
    c = analysis.chords
    assert back == list(zip(c["roman"], c["key"], c["root_pc"]))


def test_csv_has_the_comparison_columns(bwv347_analysis):
    lines = to_csv(bwv347_analysis).splitlines()
    assert lines[0] == "measure,beat,root,quality,roman,key"
    assert lines[1].startswith("0,4,A,major,")


def test_annotated_musicxml_has_numerals_under_the_bass(tmp_path, bwv347, bwv347_analysis,
                                                        assert_valid_musicxml):
    path = write_roman_musicxml(bwv347, bwv347_analysis, tmp_path / "bwv347.musicxml")
    assert_valid_musicxml(path)
    back = converter.parse(path)
    bass = back.parts[-1]
    lyrics = [(float(n.getOffsetInHierarchy(bass)), n.lyrics[0].text)
              for n in bass.recurse().notes if n.lyrics]
    c = bwv347_analysis.chords
    expected = [(float(o), (f"{k}: " if ch else "") + r.replace("o", "°"))
                for o, k, ch, r in zip(c["offset"], c["key"], c["key_change"], c["roman"])]
    assert lyrics == expected
    assert lyrics[0][1] == "A: I" or lyrics[0][1].startswith("A: I")
    assert any(text.startswith("E: ") for _, text in lyrics)
    assert any(text.startswith("b: ") for _, text in lyrics)


def test_annotating_leaves_the_score_alone(bwv347, bwv347_analysis):
    before = [len(n.lyrics) for n in bwv347.parts[-1].recurse().notes]
    annotate_roman(bwv347, bwv347_analysis)
    assert [len(n.lyrics) for n in bwv347.parts[-1].recurse().notes] == before


def test_empty_score_is_an_input_error():
    score = satb(["r:4"])
    with pytest.raises(InputError, match="no sounding notes"):
        analyse_roman(score)


def test_cli_harmony_writes_three_files(tmp_path, capsys):
    from qbdi_musicology.cli import main
    score = satb(["C5:1 C5:1 A4:1 B4:1 C5:4",
                  "G4:1 A4:1 F#4:1 G4:1 G4:4",
                  "E4:1 F4:1 C4:1 D4:1 E4:4",
                  "C3:1 F3:1 D3:1 G2:1 C3:4"])
    src = tmp_path / "cadence.musicxml"
    score.write("musicxml", fp=str(src))
    assert main(["harmony", str(src), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "local keys: C (m1 b1)" in out
    for name in ("cadence_roman.musicxml", "cadence.rntxt", "cadence_roman.csv"):
        assert (tmp_path / "out" / name).exists()
    assert "V7/V" in (tmp_path / "out" / "cadence.rntxt").read_text()


def test_cli_harmony_unknown_piece_exits_2(tmp_path, capsys):
    from qbdi_musicology.cli import main
    assert main(["harmony", "no/such_piece", "--out", str(tmp_path)]) == 2
    assert "neither a file nor a music21 corpus piece" in capsys.readouterr().err


@pytest.mark.musescore
def test_musescore_draws_the_numerals(tmp_path, bwv347, bwv347_analysis, musescore):
    path = write_roman_musicxml(bwv347, bwv347_analysis, tmp_path / "bwv347.musicxml")
    result = musescore(path, tmp_path / "bwv347.png")
    assert result.ok, result
    assert result.lyrics >= len(bwv347_analysis.chords)


def test_neapolitan_and_german_sixth_in_context():
    # A minor: i iv | bII6 V | i  (B-flat major over D)
    naples = satb(["E5:2 F5:2 F5:2 E5:2 E5:4", "C5:2 D5:2 D5:2 B4:2 C5:4",
                   "A4:2 A4:2 Bb4:2 G#4:2 A4:4", "A3:2 D3:2 D3:2 E3:2 A2:4"])
    assert [r[2:] for r in rows(naples)] == [("a", "i"), ("a", "iv"), ("a", "bII6"),
                                             ("a", "V"), ("a", "i")]
    # C major: I Ger65 | I64 V | I  (A-flat C E-flat F-sharp over A-flat)
    german = satb(["C5:2 C5:2 C5:2 B4:2 C5:4", "G4:2 F#4:2 G4:2 G4:2 G4:4",
                   "E4:2 Eb4:2 E4:2 D4:2 E4:4", "C3:2 Ab2:2 G2:2 G2:2 C3:4"])
    assert [r[3] for r in rows(german)] == ["I", "Ger65", "I64", "V", "I"]
