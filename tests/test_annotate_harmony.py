"""Annotated scores: chord symbols, Roman numerals, collisions, rate, legend, overview."""

from __future__ import annotations

import math

import pytest
from lxml import etree
from music21 import corpus, harmony, interval, stream

from qbdi_musicology import pianoroll
from qbdi_musicology.annotate.harmony import (annotate_pair, drift_overview, write_annotated,
                                              write_overview)
from qbdi_musicology.annotate.labels import COLLISION_COLOUR
from qbdi_musicology.errors import InputError
from qbdi_musicology.musicxml import read_musicxml_fields
from chord_scores import bars_score



C, G, D, F = ["C4", "E4", "G4"], ["G3", "B3", "D4"], ["D4", "F#4", "A4"], ["F3", "A3", "C4"]


def _xml(path):
    return etree.parse(str(path)).getroot()


def test_pair_has_symbols_numerals_collision_rate_and_legend(tmp_path, assert_valid_musicxml):
    query = bars_score([C, G, C, F], title="Little cadence")
    improv = bars_score([C, D, C, F])
    path = write_annotated(query, improv, tmp_path / "rate-8.musicxml", rate=8.0, key="C")
    assert_valid_musicxml(path)
    root = _xml(path)
    parts = root.findall("part")
    assert len(parts) == 2
    q_part, i_part = parts
    assert [h.findtext("root/root-step") for h in q_part.iter("harmony")] == ["C", "G", "C", "F"]
    assert [h.findtext("root/root-step") for h in i_part.iter("harmony")] == ["C", "D", "C", "F"]
    assert [t.text for t in q_part.iter("text")] == ["I", "V", "I", "IV"]
    assert [t.text for t in i_part.iter("text")] == ["I", "II", "I", "IV"]
    # the collision: bar 2, "G vs D", and the improvisation's D-F#-A in red
    assert [w.text for w in i_part.iter("words")] == ["G vs D"]
    bar2 = i_part.findall("measure")[1]
    assert {n.get("color") for n in bar2.findall("note")} == {COLLISION_COLOUR}
    assert all(n.get("color") is None for n in i_part.findall("measure")[0].findall("note"))
    assert all(n.get("color") is None for n in q_part.iter("note"))
    # the rate: title, rehearsal mark, provenance field
    assert "8 bits/bar" in root.findtext("movement-title")
    assert [r.text for r in root.iter("rehearsal")] == ["8 bits/bar"]
    fields = read_musicxml_fields(path)
    assert fields["rate"] == "8" and fields["query title"] == "Little cadence"
    assert fields["analysis key"] == "C major"
    credits = " ".join(c.text for c in root.iter("credit-words"))
    assert "Roman numerals" in credits and "collision" in credits and "Key: C major" in credits
    # the inputs are untouched
    assert not list(query.recurse().getElementsByClass(harmony.ChordSymbol))
    assert not list(improv.recurse().getElementsByClass(harmony.ChordSymbol))


def test_pickup_chorale_aligns_with_piano_roll_improvisation(tmp_path, assert_valid_musicxml):
    query = corpus.parse("bwv66.6")
    conv = pianoroll.convert_score(query)
    improv = pianoroll.bars_to_score(conv.bars, structure=conv.structure)
    path = write_annotated(query, improv, tmp_path / "full.mxl", rate=math.inf, per="beat")
    assert_valid_musicxml(path)
    from music21 import converter
    back = converter.parse(path)
    lengths = {len(p.getElementsByClass(stream.Measure)) for p in back.parts}
    assert lengths == {10}
    # every bar has the same length in every staff; the upbeat stays a one-beat bar 0
    for i in range(10):
        assert len({p.getElementsByClass(stream.Measure)[i].duration.quarterLength
                    for p in back.parts}) == 1
    firsts = [p.getElementsByClass(stream.Measure)[0] for p in back.parts]
    assert {m.duration.quarterLength for m in firsts} == {1.0}
    assert {m.number for m in firsts} == {0}
    # the last bar is the chorale's three-beat final bar, in every staff
    assert {p.getElementsByClass(stream.Measure)[-1].duration.quarterLength
            for p in back.parts} == {3.0}
    root_xml = etree.fromstring(__import__("zipfile").ZipFile(path).read("score.musicxml"))
    # the improvisation is one piano on a grand staff
    assert [p.findtext("attributes/staves") for p in
            (part.find("measure") for part in root_xml.findall("part"))][-1] == "2"
    assert "full rate" in root_xml.findtext("movement-title")


def test_overview_stacks_query_and_rates_from_full_to_zero(tmp_path, assert_valid_musicxml):
    query = bars_score([C, G, C, F])
    sweep = {0.0: bars_score([C, C, C, C]), math.inf: bars_score([C, G, C, F]),
             8.0: bars_score([C, D, C, F])}
    score = drift_overview(query, sweep, key="C")
    names = [p.partName for p in score.parts]
    assert names == ["Query", "Query", "full rate", "full rate", "8 bits/bar", "8 bits/bar",
                     "0 bits/bar", "0 bits/bar"]
    path = write_overview(query, sweep, tmp_path / "overview.musicxml", key="C")
    assert_valid_musicxml(path)
    root = _xml(path)
    parts = root.findall("part")
    assert len(parts) == 4  # four grand staves
    symbols = [[h.findtext("root/root-step") for h in p.iter("harmony")] for p in parts]
    # a symbol at every bar, even where the chord stays (the rate-0 staff: C four times)
    assert symbols == [["C", "G", "C", "F"], ["C", "G", "C", "F"], ["C", "D", "C", "F"],
                       ["C", "C", "C", "C"]]
    words = [[w.text for w in p.iter("words")] for p in parts]
    assert words == [[], [], ["G vs D"], ["G vs C", "F vs C"]]
    again = write_overview(query, sweep, tmp_path / "again.musicxml", key="C")
    assert again.read_bytes() == path.read_bytes()


def test_different_meters_cannot_be_aligned():
    # as many bars as the query: the improvisation is written again on the query's bars
    score = annotate_pair(bars_score([C, G]), bars_score([C, G], "3/4"))
    assert {ts.ratioString for ts in score.recurse().getElementsByClass("TimeSignature")} \
        == {"4/4"}
    with pytest.raises(InputError, match="different meters"):
        annotate_pair(bars_score([C, G]), bars_score([C, G, C], "3/4"))


def test_transposed_chorale_collides_and_shows_it():
    query = corpus.parse("bwv66.6")
    score = annotate_pair(query, query.transpose(interval.Interval("P5")), rate=0.0)
    texts = [t.content for t in score.recurse().getElementsByClass("TextExpression")]
    assert len(texts) >= 5 and all(" vs " in t for t in texts)


@pytest.mark.musescore
def test_musescore_draws_every_symbol_and_numeral(tmp_path, musescore):
    query = bars_score([C, G, C, F])
    improv = bars_score([C, D, C, F])
    pair = write_annotated(query, improv, tmp_path / "pair.mxl", rate=8, key="C")
    result = musescore(pair, tmp_path / "pair.png")
    assert result.ok and result.warnings == []
    assert (result.harmonies, result.lyrics) == (8, 8)
    overview = write_overview(query, {math.inf: query, 0.0: bars_score([C] * 4)},
                              tmp_path / "overview.musicxml", key="C")
    result = musescore(overview, tmp_path / "overview.png")
    assert result.ok and result.warnings == []
    assert (result.harmonies, result.lyrics) == (12, 12)


def test_every_quality_and_spelling_writes_valid_chord_symbols(tmp_path, assert_valid_musicxml):
    bars = [["C4", "E4", "G4"], ["C4", "E-4", "G4"], ["B3", "D4", "F4"], ["C4", "E4", "G#4"],
            ["G3", "B3", "D4", "F4"], ["D4", "F4", "A4", "C5"], ["F3", "A3", "C4", "E4"],
            ["B3", "D4", "F4", "A4"], ["C#4", "E4", "G4", "B-4"], ["E#3", "G##3", "B#3"],
            ["C-4", "E-4", "G-4"]]
    query = bars_score(bars)
    path = write_annotated(query, query, tmp_path / "qualities.musicxml", rate=1.0, key="C")
    assert_valid_musicxml(path)
    part = _xml(path).findall("part")[0]
    got = [(h.findtext("root/root-step") + {"1": "#", "2": "##", "-1": "b"}.get(
        h.findtext("root/root-alter") or "", ""), h.findtext("kind"),
        [d.findtext("degree-value") for d in h.findall("degree")]) for h in part.iter("harmony")]
    assert got == [("C", "major", []), ("C", "minor", []), ("B", "diminished", []),
                   ("C", "augmented", []), ("G", "dominant", []), ("D", "minor-seventh", []),
                   ("F", "major-seventh", []), ("B", "half-diminished", []),
                   ("C#", "diminished-seventh", []), ("E#", "major", []), ("Cb", "major", [])]


def test_overview_of_eight_rates_gets_smaller_staves_on_an_a4_page(tmp_path,
                                                                   assert_valid_musicxml):
    """18 staves at 7 mm do not fit a page: the staff shrinks, the page stays A4."""
    from qbdi_musicology.musicxml import musicxml_bytes
    from qbdi_musicology.annotate.layout import staff_height_mm
    query = bars_score([C, G, C, F])
    sweep = {rate: bars_score([C, D, C, F]) for rate in (0.0, 8.0, 16.0, 32.0, 64.0, 128.0,
                                                          256.0, math.inf)}
    path = write_overview(query, sweep, tmp_path / "overview.musicxml", key="C")
    assert_valid_musicxml(path)
    root = _xml(path)
    mm = float(root.findtext("defaults/scaling/millimeters"))
    # the staves share the page with the header actually written: title to lowest credit
    ys = [float(c.get("default-y")) for c in root.iter("credit-words")]
    header_mm = (max(ys) - min(ys)) * mm / 40
    assert mm == staff_height_mm(18, header_mm=header_mm) and mm < 5.0
    height = float(root.findtext("defaults/page-layout/page-height"))
    assert abs(height * mm / 40 - 297) < 1.0  # still an A4 page, in tenths of this scaling
    # the overview written by the batch (a score built only to be written, written twice)
    score = drift_overview(query, sweep, key="C")
    assert musicxml_bytes(score) == musicxml_bytes(score) == path.read_bytes()


def _improvisation_symbols(score):
    """Chord-symbol figures over the improvisation (the last staff of the pair)."""
    return [h.figure for h in score.parts[-1].recurse().getElementsByClass(harmony.Harmony)]


def test_an_improvisation_edited_in_place_is_analysed_again():
    """Analyses are reused for the same score, but not once its notes changed."""
    query = bars_score([C, G, C, F])
    improv = bars_score([C, G, C, F])
    assert _improvisation_symbols(annotate_pair(query, improv, key="C")) == ["C", "G", "C", "F"]
    improv.transpose(interval.Interval("M2"), inPlace=True)  # now D, A, D, G
    assert _improvisation_symbols(annotate_pair(query, improv, key="C")) == ["D", "A", "D", "G"]


def test_analyses_given_by_the_caller_are_used_as_they_are():
    """The batch has analysed the scores already: the scores get the labels it was given."""
    from qbdi_musicology.analysis.collisions import analyse_score
    query = bars_score([C, G, C, F])
    sweep = {8.0: bars_score([C, G, C, F])}
    q = analyse_score(query, key="C", name="query")
    # the analysis of another score stands in for the improvisation's: its labels are written
    other = analyse_score(bars_score([D, D, D, D]), key=q.key, name="improvisation")
    overview = drift_overview(query, sweep, key="C", query_analysis=q, analyses={8.0: other})
    treble = overview.parts[2]  # the 8 bits/bar grand staff, under the query's two staves
    assert [h.figure for h in treble.recurse().getElementsByClass(harmony.Harmony)] == \
        ["D", "D", "D", "D"]
    pair = annotate_pair(query, sweep[8.0], key="C", query_analysis=q,
                         improvisation_analysis=other)
    assert _improvisation_symbols(pair) == ["D", "D", "D", "D"]
