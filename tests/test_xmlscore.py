"""The direct MusicXML builder writes the same music as music21's exporter, valid and faster.

Each case writes one score twice, with ``writer="direct"`` and ``writer="music21"``,
parses both files back with music21 and compares what a reader finds (notes, durations,
ties, chord symbols, numerals, texts, colours, meters, keys, clefs, provenance).
"""

from __future__ import annotations

import math
import time

import pytest

from qbdi_musicology.errors import OutputError
from qbdi_musicology.musicxml import musicxml_bytes, read_musicxml_fields, write_musicxml
from qbdi_musicology.pianoroll import score_to_bars
from qbdi_musicology.scorecontent import content_differences, score_content


def _parsed(data: bytes):
    from music21 import converter
    return converter.parseData(data, format="musicxml")


def _both(make, **kwargs):
    """The two documents of one score (a fresh score each: music21's writer notates it)."""
    return (musicxml_bytes(make(), writer="direct", **kwargs),
            musicxml_bytes(make(), writer="music21", **kwargs))


def _one_bar(*elements):
    """A score of one part with one bar holding ``elements`` one after the other."""
    from music21 import stream
    m = stream.Measure(number=1)
    m.append(list(elements))
    part = stream.Part()
    part.append(m)
    return stream.Score([part])


def _direct_root(score):
    """The ``<score-partwise>`` element the direct writer makes of ``score``."""
    from lxml import etree
    return etree.fromstring(musicxml_bytes(score, writer="direct").split(b"\n", 2)[2])


@pytest.fixture(scope="module")
def model():
    from qbdi_musicology.checkpoint import load_model
    return load_model()


def _sweep(name, model, rates=(0.0, 8.0, math.inf)):
    from music21 import corpus

    from qbdi_musicology import generate
    query = corpus.parse(name)
    return query, {rate: s for rate, s, _ in generate.sweep(query, model, list(rates), seed=0)}


@pytest.mark.parametrize("name", ["bach/bwv66.6", "bach/bwv269"])
def test_same_music_as_music21s_writer(name, model, tmp_path, assert_valid_musicxml):
    """Pickup and 4/4 (bwv66.6), 3/4 (bwv269): improvisations, annotated pairs, overview."""
    from qbdi_musicology.annotate.harmony import annotate_pair, drift_overview
    query, sweep = _sweep(name, model)
    cases = {f"improvisation at {r}": (lambda s=s: s) for r, s in sweep.items()}
    cases.update({f"annotated at {r}": (lambda s=s, r=r: annotate_pair(query, s, rate=r))
                  for r, s in sweep.items()})
    cases["overview"] = lambda: drift_overview(query, sweep)
    for label, make in cases.items():
        direct, music21 = _both(make, fields={"seed": 0, "rate": label})
        differences = content_differences(_parsed(direct), _parsed(music21))
        assert not differences, f"{name} {label}: {differences}"
        if label.startswith("improvisation"):
            # every note struck or held exactly as in the model's piano roll
            assert (score_to_bars(_parsed(direct)) == score_to_bars(make())).all(), label
        path = tmp_path / "direct.musicxml"
        path.write_bytes(direct)
        assert_valid_musicxml(path)


def test_annotated_file_says_what_the_analysis_says(model, tmp_path):
    """bwv66.6 at full rate, written directly: F# minor, the pickup, symbols, numerals, red."""
    from qbdi_musicology.annotate.harmony import annotate_pair
    query, sweep = _sweep("bach/bwv66.6", model, rates=(math.inf,))
    annotated = annotate_pair(query, sweep[math.inf], rate=math.inf)
    expected = score_content(annotated)
    path = write_musicxml(annotate_pair(query, sweep[math.inf], rate=math.inf),
                          tmp_path / "pair.musicxml", fields={"rate": math.inf},
                          writer="direct")
    back = _parsed(path.read_bytes())
    content = score_content(back)
    soprano = content["parts"][0]
    assert soprano["bars"][0]["number"] == "0"
    assert ("key", 0.0, 3) in soprano["bars"][0]["marks"]           # F# minor: 3 sharps
    assert sum(e[2] for e in soprano["bars"][0]["events"]) == 1.0  # a one-beat pickup
    for got, want in zip(content["parts"], expected["parts"]):
        assert [b["symbols"] for b in got["bars"]] == [b["symbols"] for b in want["bars"]]
    lyrics = [e[4] for p in content["parts"] for b in p["bars"] for e in b["events"] if e[4]]
    assert lyrics, "the Roman numerals are written as lyrics"
    red = [row for p in content["parts"] for b in p["bars"] for e in b["events"]
           for row in e[3] if row[2]]
    assert all(colour.upper() == "#D01010" for _, _, colour in red)
    assert read_musicxml_fields(path)["rate"] == "inf"


def test_accidentals_follow_the_key_and_the_bar():
    """In G major an F# shows no sign, an F natural a natural, a second F natural none."""
    from music21 import key, meter, note
    root = _direct_root(_one_bar(key.Key("G"), meter.TimeSignature("4/4"),
                                 *(note.Note(name, quarterLength=1.0)
                                   for name in ("F#4", "F4", "F4", "F#4"))))
    shown = [(n.findtext("pitch/step") + (n.findtext("pitch/alter") or ""),
              n.findtext("accidental")) for n in root.iter("note")]
    assert shown == [("F1", None), ("F", "natural"), ("F", None), ("F1", "sharp")]


def test_eighths_beamed_by_beat():
    """Four eighths in 4/4 are two beamed pairs; in 6/8 six eighths are two groups of three."""
    from music21 import meter, note

    def beams(sig, count):
        root = _direct_root(_one_bar(meter.TimeSignature(sig),
                                     *(note.Note("C5", quarterLength=0.5)
                                       for _ in range(count))))
        return [n.findtext("beam") for n in root.iter("note")]

    assert beams("2/4", 4) == ["begin", "end", "begin", "end"]
    assert beams("6/8", 6) == ["begin", "continue", "end"] * 2


def test_what_it_does_not_write_goes_through_music21():
    """A triplet: ``auto`` writes it with music21's exporter; ``direct`` says it cannot."""
    from music21 import duration, note
    triplet = [note.Note(name) for name in ("C4", "D4", "E4")]
    for n in triplet:
        n.duration = duration.Duration(1 / 3)
    score = _one_bar(*triplet, note.Note("F4", quarterLength=3.0))
    with pytest.raises(OutputError, match="tuplets"):
        musicxml_bytes(score, writer="direct")
    back = _parsed(musicxml_bytes(score))
    lengths = [float(n.quarterLength) for n in back.recurse().notes]
    assert lengths[:3] == pytest.approx([1 / 3] * 3)


def test_unknown_writer_is_refused():
    from music21 import stream
    from qbdi_musicology.errors import InputError
    with pytest.raises(InputError, match="unknown MusicXML writer"):
        musicxml_bytes(stream.Score(), writer="fast")


def test_direct_writer_is_several_times_faster(model):
    """The same 8 annotated files: at least 3x less CPU time than music21's exporter."""
    from qbdi_musicology.annotate.harmony import annotate_pair
    query, sweep = _sweep("bach/bwv66.6", model, rates=(0.0, 8.0, 32.0, math.inf))
    pairs = {w: [annotate_pair(query, s, rate=r) for r, s in sweep.items()]
             for w in ("direct", "music21")}
    spent = {}
    for writer, scores in pairs.items():
        start = time.process_time()
        for s in scores:
            musicxml_bytes(s, writer=writer)
        spent[writer] = time.process_time() - start
    assert spent["music21"] > 3 * spent["direct"], spent


@pytest.mark.slow
def test_same_music_for_a_humdrum_quartet(model):
    """A 9/8 movement read from **kern: voices, articulations, whole-bar rests."""
    from music21 import corpus

    from qbdi_musicology import generate
    from qbdi_musicology.annotate.harmony import annotate_pair
    from qbdi_musicology.scoreio import load_score
    path = [p for p in corpus.getPaths() if str(p).endswith("opus18no1/movement2.krn")][0]
    query = load_score(path)
    improvisation = generate.query(query, model, seed=0, rate=8.0)
    for make in (lambda: improvisation, lambda: annotate_pair(query, improvisation, rate=8.0)):
        direct, music21 = _both(make)
        assert not content_differences(_parsed(direct), _parsed(music21))


def test_elided_lyric_is_written_as_one_valid_syllable(tmp_path, assert_valid_musicxml):
    """music21's 'composite' lyric (two syllables on one note) is not a MusicXML value."""
    from music21 import note
    from music21.note import Lyric
    n = note.Note("C4", quarterLength=4.0)
    lyric = Lyric()
    lyric.components = [Lyric("la", syllabic="single"), Lyric("a", syllabic="single")]
    n.lyrics.append(lyric)
    path = write_musicxml(_one_bar(n), tmp_path / "elided.musicxml", writer="direct")
    assert_valid_musicxml(path)
    assert [ly.text for ly in _parsed(path.read_bytes()).recurse().notes[0].lyrics] != []


def test_bold_text_is_written_as_a_weight(tmp_path, assert_valid_musicxml):
    """music21's font style 'bold' (ABC collections' titles) is MusicXML's font-weight."""
    from music21 import expressions, note
    text = expressions.TextExpression("Reel")
    text.style.fontStyle = "bolditalic"
    path = write_musicxml(_one_bar(text, note.Note("C4", quarterLength=4.0)),
                          tmp_path / "bold.musicxml", writer="direct")
    assert_valid_musicxml(path)
    data = path.read_text()
    assert 'font-weight="bold"' in data and 'font-style="italic"' in data


def test_tempo_in_a_beat_no_note_value_shows(tmp_path, assert_valid_musicxml):
    """An ABC tempo 'Q:5/4=50' (a whole tied to a quarter) is written as quarter = 250."""
    from music21 import duration, note, tempo
    mark = tempo.MetronomeMark(number=50, referent=duration.Duration(5.0))
    path = write_musicxml(_one_bar(mark, note.Note("C4", quarterLength=4.0)),
                          tmp_path / "tempo.musicxml", writer="direct")
    assert_valid_musicxml(path)
    back = _parsed(path.read_bytes()).recurse().getElementsByClass("MetronomeMark").first()
    assert back.getQuarterBPM() == pytest.approx(250)


def test_motif_brackets_are_not_dropped():
    """A motif's bracket (a spanner line over its notes) is drawn: music21 writes it."""
    from music21 import note, spanner
    notes = [note.Note(name, quarterLength=1.0) for name in ("C4", "D4", "E4", "F4")]
    score = _one_bar(*notes)
    score.parts[0].insert(0, spanner.Line(notes[0], notes[-1], lineType="solid",
                                          startTick="down", endTick="down"))
    with pytest.raises(OutputError, match="Line"):
        musicxml_bytes(score, writer="direct")
    assert b"<bracket" in musicxml_bytes(score)
