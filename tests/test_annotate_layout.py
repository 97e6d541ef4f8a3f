"""What a theorist sees in MuseScore: one meter sign per score, piano hands on one grand
staff, and a page-1 header that stays on the page."""

from __future__ import annotations

import math

import mido
import pytest
from lxml import etree
from music21 import converter, corpus, meter, stream

from qbdi_musicology import pianoroll
from qbdi_musicology.annotate.harmony import annotate_pair, write_annotated, write_overview
from qbdi_musicology.annotate.staves import piano_pair
from qbdi_musicology.scoreio import load_score
from chord_scores import bars_score



C, G, D, F = ["C4", "E4", "G4"], ["G3", "B3", "D4"], ["D4", "F#4", "A4"], ["F3", "A3", "C4"]


def _root(path):
    return etree.parse(str(path)).getroot()


def _first_times(root):
    """(symbol, beats, beat-type) of each part's first ``<time>``."""
    out = []
    for part in root.iter("part"):
        time = next(part.iter("time"))
        out.append((time.get("symbol"), time.findtext("beats"), time.findtext("beat-type")))
    return out


# ----------------------------------------------------------------------------------------
# 1. one meter sign per score


def test_chorale_query_and_piano_roll_improvisation_both_show_common_time(
        tmp_path, assert_valid_musicxml):
    """bwv66.6 writes its 4/4 as "C"; the improvisation from a piano roll says "4/4"."""
    query = corpus.parse("bwv66.6")
    improvisation = pianoroll.bars_to_score(pianoroll.score_to_bars(query))
    first = improvisation.parts[0].getElementsByClass(stream.Measure)[0]
    assert first.getElementsByClass(meter.TimeSignature)[0].symbol == ""  # as made: 4/4
    path = write_annotated(query, improvisation, tmp_path / "rate-8.musicxml", rate=8.0)
    assert_valid_musicxml(path)
    times = _first_times(_root(path))
    assert len(times) == 5  # four voices and the improvisation's grand staff
    assert set(times) == {("common", "4", "4")}
    # music21 reads the same sign back from every staff
    back = converter.parse(path)
    signs = {p.recurse().getElementsByClass(meter.TimeSignature)[0].symbol for p in back.parts}
    assert signs == {"common"}
    # the improvisation given is not changed
    assert first.getElementsByClass(meter.TimeSignature)[0].symbol == ""


def test_overview_rates_take_the_query_s_meter_sign(tmp_path):
    query = bars_score([C, G, C, F], symbol="common")
    sweep = {math.inf: bars_score([C, G, C, F]), 0.0: bars_score([C, C, C, C])}
    path = write_overview(query, sweep, tmp_path / "overview.musicxml", key="C")
    assert set(_first_times(_root(path))) == {("common", "4", "4")}


def test_a_plain_query_meter_makes_the_improvisation_plain_and_cut_time_stays_cut():
    plain = annotate_pair(bars_score([C, G]), bars_score([C, G], symbol="common"), key="C")
    cut = annotate_pair(bars_score([C, G], "2/2", symbol="cut"), bars_score([C, G], "2/2"),
                        key="C")
    for score, sign in ((plain, ""), (cut, "cut")):
        signs = [p.recurse().getElementsByClass(meter.TimeSignature)[0].symbol
                 for p in score.parts]
        assert signs == [sign, sign]


# ----------------------------------------------------------------------------------------
# 2. a two-hand MIDI query is one grand staff


def _midi(path, tracks):
    """A type-1 MIDI file: each track (name, program or None, pitches) plays whole notes."""
    f = mido.MidiFile(type=1, ticks_per_beat=480)
    tempo = mido.MidiTrack()
    tempo.append(mido.MetaMessage("set_tempo", tempo=500000, time=0))
    tempo.append(mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0))
    f.tracks.append(tempo)
    for name, program, chords in tracks:
        track = mido.MidiTrack()
        track.append(mido.MetaMessage("track_name", name=name, time=0))
        if program is not None:
            track.append(mido.Message("program_change", program=program, time=0))
        for pitches in chords:
            for p in pitches:
                track.append(mido.Message("note_on", note=p, velocity=80, time=0))
            for k, p in enumerate(pitches):
                track.append(mido.Message("note_off", note=p, velocity=0,
                                          time=4 * 480 if k == 0 else 0))
        f.tracks.append(track)
    f.save(path)
    return path


#: A cadence I-IV-V-I in C: the left hand's roots and fifths, the right hand's triads.
LEFT = [[36, 43], [41, 48], [43, 50], [36, 43]]
RIGHT = [[64, 67, 72], [65, 69, 72], [62, 67, 71], [64, 67, 72]]


def test_two_hand_midi_query_is_braced_as_one_grand_staff(tmp_path, assert_valid_musicxml):
    # the left hand is the first track: the grand staff still has the right hand on top
    path = _midi(tmp_path / "hands.mid", [("Left hand", None, LEFT),
                                          ("Right hand", None, RIGHT)])
    query = load_score(path)
    assert len(query.parts) == 2 and piano_pair(list(query.parts)) == (1, 0)
    improvisation = pianoroll.bars_to_score(pianoroll.score_to_bars(query))
    out = write_annotated(query, improvisation, tmp_path / "hands.musicxml", rate=8.0)
    assert_valid_musicxml(out)
    root = _root(out)
    names = [sp.findtext("part-name") for sp in root.iter("score-part")]
    assert names == ["Query", "Improvisation"]  # two grand staves, no "Query: Left hand"
    assert not [g for g in root.iter("part-group") if g.findtext("group-symbol") == "bracket"]
    query_part = root.findall("part")[0]
    assert query_part.findtext("measure/attributes/staves") == "2"
    clefs = [c.findtext("sign") for c in query_part.find("measure/attributes").iter("clef")]
    assert clefs == ["G", "F"]
    by_staff = {"1": set(), "2": set()}
    for n in query_part.iter("note"):
        if n.find("pitch") is not None:
            by_staff[n.findtext("staff")].add(n.findtext("pitch/step") + n.findtext("pitch/octave"))
    assert by_staff["1"] == {"E4", "G4", "C5", "F4", "A4", "D4", "B4"}  # the right hand
    assert by_staff["2"] == {"C2", "G2", "F2", "C3", "D3"}              # the left hand
    # the I-IV-V-I is read from both hands together: root-position triads over the bass
    assert [h.findtext("root/root-step") for h in query_part.iter("harmony")] == \
        ["C", "F", "G", "C"]
    # both hands carried the file's tempo: one mark is drawn
    assert len(root.findall(".//sound[@tempo]")) == 1


def test_violin_and_cello_stay_two_bracketed_staves(tmp_path):
    path = _midi(tmp_path / "duo.mid", [("Violin", 40, RIGHT), ("Cello", 42, LEFT)])
    query = load_score(path)
    assert piano_pair(list(query.parts)) is None
    score = annotate_pair(query, pianoroll.bars_to_score(pianoroll.score_to_bars(query)))
    names = [p.partName for p in score.parts]
    assert names[:2] == ["Query: Violin", "Query: Cello"]


def test_hands_that_cross_all_the_time_are_not_a_pair():
    """Two unnamed parts in the same register (two voices, not two hands) stay apart."""
    upper = bars_score([["C4", "E4"], ["D4", "F4"]])
    lower = bars_score([["D4", "F4"], ["C4", "E4"]])
    assert piano_pair([upper.parts[0], lower.parts[0]]) is None
    # one part, or three, is never a pair
    assert piano_pair([upper.parts[0]]) is None


def test_a_chorale_s_soprano_and_bass_are_voices_not_hands():
    """Far apart, with no instrument, but named as voices: they keep their own staves."""
    chorale = corpus.parse("bwv66.6")
    soprano, bass = chorale.parts[0], chorale.parts[3]
    assert piano_pair([soprano, bass]) is None
    score = annotate_pair(stream.Score([soprano, bass]), bars_score([C] * 10))
    assert [p.partName for p in score.parts][:2] == ["Query: Soprano", "Query: Bass"]


# ----------------------------------------------------------------------------------------
# 3. the header stays on page 1

#: Line spacing of credit text in MuseScore 3: 1.1 times the font size (3.1 mm at 8 pt).
LINE_MM_PER_POINT = 25.4 / 72 * 1.1


def _credit_boxes(root):
    """(top, bottom, text) of every credit in tenths, from its default-y, valign and lines."""
    mm = float(root.findtext("defaults/scaling/millimeters"))
    tenths_per_mm = 40.0 / mm
    boxes = []
    for words in root.iter("credit-words"):
        y = float(words.get("default-y"))
        lines = (words.text or "").count("\n") + 1
        height = lines * float(words.get("font-size")) * LINE_MM_PER_POINT * tenths_per_mm
        if words.get("valign") == "bottom":
            boxes.append((y + height, y, words.text))
        else:
            assert words.get("valign") == "top"
            boxes.append((y, y - height, words.text))
    return boxes


def _sweep(n_rates):
    rates = [math.inf] + [float(2 ** k) for k in range(n_rates - 2, 0, -1)] + [0.0]
    chords = [[C, G, C, F], [C, D, C, F], [C, C, C, C]]
    return {rate: bars_score(chords[k % 3]) for k, rate in enumerate(rates[:n_rates])}


@pytest.mark.parametrize("n_rates", [1, 8, 10])
def test_overview_header_stays_inside_the_page_and_clear_of_the_title(tmp_path, n_rates):
    sweep = _sweep(n_rates)
    assert len(sweep) == n_rates
    path = write_overview(bars_score([C, G, C, F]), sweep, tmp_path / "overview.musicxml",
                          key="C")
    root = _root(path)
    page = root.find("defaults/page-layout")
    height = float(page.findtext("page-height"))
    top_margin = float(page.findtext("page-margins/top-margin"))
    boxes = _credit_boxes(root)
    assert len(boxes) == 3
    for top, bottom, _ in boxes:
        assert 0 < bottom < top <= height - top_margin + 1e-6
    # every rate is in the facts block
    facts = next(text for _, _, text in boxes if text.startswith("Key:"))
    assert facts.count(":") - 1 - ("(bits/bar):" in facts) == n_rates
    # the title is above the facts and the legend
    title = max(boxes)
    assert all(title[1] >= top - 1e-6 for top, _, text in boxes if text != title[2])


def test_pair_header_stays_inside_the_page(tmp_path):
    path = write_annotated(bars_score([C, G]), bars_score([C, D]), tmp_path / "pair.musicxml",
                           rate=8.0, key="C")
    root = _root(path)
    height = float(root.findtext("defaults/page-layout/page-height"))
    margin = float(root.findtext("defaults/page-layout/page-margins/top-margin"))
    boxes = _credit_boxes(root)
    assert all(0 < bottom < top <= height - margin + 1e-6 for top, bottom, _ in boxes)


@pytest.mark.musescore
def test_musescore_draws_the_facts_of_ten_rates_under_the_title(tmp_path, musescore):
    """The facts of many rates once ran up past the title and off the top of page 1."""
    import numpy as np
    from PIL import Image
    path = write_overview(bars_score([C, G, C, F]), _sweep(10),
                          tmp_path / "overview.musicxml", key="C")
    result = musescore(path, tmp_path / "overview.png", dpi=100)
    assert result.ok and result.warnings == [] and result.pages == 1
    ink = np.asarray(Image.open(result.png).convert("L")) < 128
    height, width = ink.shape
    header = ink[: height // 5]
    # the title: the first band of rows with ink in the middle of the page
    rows = np.nonzero(header[:, int(width * 0.4):int(width * 0.6)].any(axis=1))[0]
    assert rows.size and rows[0] > 0
    title_end = rows[0] + int(np.argmax(np.diff(rows) > 1)) if (np.diff(rows) > 1).any() \
        else rows[-1]
    # the facts (right) and the legend (left) begin below it, nothing is cut at the top
    for band in (header[:, int(width * 0.8):], header[:, : int(width * 0.2)]):
        inked = np.nonzero(band.any(axis=1))[0]
        assert inked.size and inked[0] > title_end
