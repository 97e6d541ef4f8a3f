"""One bar structure per query: split bars, pickups, final bars and every meter.

The facts checked here are the ones a theorist reads in the annotated score: the query's
bar ``i`` stands over the improvisation's bar ``i``, in the query's meter, a pickup is a
short first bar and the last bar is there.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import mido
import numpy as np
import pytest
from music21 import chord, converter, corpus, meter, note, stream

from qbdi_musicology.annotate.harmony import annotate_pair, write_annotated
from qbdi_musicology.bars import (bar_structure, from_model_bar, metric_score, resample,
                                  to_model_bar)
from qbdi_musicology.errors import InputError
from qbdi_musicology.generate import encode, sweep
from qbdi_musicology.grid import ARTICULATE, DEFAULT_GRID, PLAY
from qbdi_musicology.pianoroll import bars_to_score, convert_score
from qbdi_musicology.scoreio import load_score

pytestmark = pytest.mark.usefixtures("torch_one_thread")
LO = DEFAULT_GRID.low_pitch


def _query_staves(path):
    """The query's staves of an annotated file, as one score."""
    back = converter.parse(path)
    return stream.Score([p for p in back.parts if (p.partName or "").startswith("Query")])


def _improv_staves(path):
    back = converter.parse(path)
    return stream.Score([p for p in back.parts
                         if not (p.partName or "").startswith("Query")])


def _measure_lengths(score):
    return [float(m.duration.quarterLength)
            for m in score.parts[0].getElementsByClass(stream.Measure)]


def _part(elements, ts="4/4", *, make_measures=True):
    p = stream.Part()
    p.insert(0, meter.TimeSignature(ts))
    for off, el in elements:
        p.insert(off, el)
    if make_measures:
        p = p.makeMeasures()
        p.makeTies(inPlace=True)
    return p


# ---------------------------------------------------------------------- the structure


def test_split_bars_of_bwv13_6_are_joined_and_the_last_bar_kept():
    score = corpus.parse("bach/bwv13.6")  # measures 4+4a and 8+8a are one bar each
    s = bar_structure(score)
    assert len(s) == 13 and s[0].kind == "pickup" and s[0].length == 1
    assert [b.measures for b in s if len(b.measures) > 1] == [("4", "4a"), ("8", "8a")]
    assert s[-1].kind == "final" and s[-1].length == 3 and s[-1].number == 12
    metric = metric_score(score)
    assert _measure_lengths(metric) == [1.0] + [4.0] * 11 + [3.0]


def test_bwv13_6_written_query_staves_equal_the_model_input(chord_model, tmp_path,
                                                            assert_valid_musicxml):
    score = corpus.parse("bach/bwv13.6")
    enc = encode(score, chord_model)
    (rate, improv, _), = sweep(score, chord_model, [math.inf], encoding=enc)
    path = write_annotated(score, improv, tmp_path / "bwv13.6.musicxml", rate=rate)
    assert_valid_musicxml(path)
    written = convert_score(_query_staves(path))
    assert written.bars.shape == enc.bars.shape == (13, 16, 78, 2)
    assert (written.bars == enc.bars).all()
    # the last bar (Bach's final chord, three beats) is in the file, over the
    # improvisation's last bar
    lengths = _measure_lengths(_query_staves(path))
    assert lengths[-1] == 3.0 and _measure_lengths(_improv_staves(path)) == lengths
    last = _query_staves(path).parts[-1].getElementsByClass(stream.Measure)[-1]
    assert last.notes and last.notes[0].pitch.name == score.parts[-1].getElementsByClass(
        stream.Measure)[-1].notes[0].pitch.name


def test_a_one_beat_pickup_stays_a_one_beat_first_bar(chord_model, tmp_path):
    score = corpus.parse("bach/bwv66.6")
    (rate, improv, _), = sweep(score, chord_model, [8.0], seed=3)
    first = [p.getElementsByClass(stream.Measure)[0] for p in improv.parts]
    assert {m.duration.quarterLength for m in first} == {1.0}
    assert {m.number for m in first} == {0}
    annotated = annotate_pair(score, improv, rate=rate)
    assert {p.getElementsByClass(stream.Measure)[0].duration.quarterLength
            for p in annotated.parts} == {1.0}


# ---------------------------------------------------------------------- meters


def test_six_eight_beats_land_on_the_model_beats():
    # a 6/8 bar: C dotted quarter, then E dotted quarter
    score = stream.Score([_part([(0, note.Note("C4", quarterLength=1.5)),
                                 (1.5, note.Note("E4", quarterLength=1.5))], "6/8")])
    conv = convert_score(score)
    assert conv.bars.shape == (1, 16, 78, 2)
    onsets = {int(s): int(r) + LO for s, r in np.argwhere(conv.bars[0, :, :, ARTICULATE])}
    assert onsets == {0: 60, 8: 64}  # the two beats on the model's half bars
    assert conv.bars[0, :8, 60 - LO, PLAY].all() and conv.bars[0, 8:, 64 - LO, PLAY].all()


@pytest.mark.parametrize("ts, pattern", [
    ("3/4", [(0, 1.0, "C4"), (1, 0.5, "E4"), (1.5, 0.25, "G4"), (1.75, 1.25, "C5")]),
    ("6/8", [(0, 0.5, "D4"), (0.5, 0.5, "F#4"), (1, 0.5, "A4"), (1.5, 1.5, "D5")]),
    ("2/4", [(0, 0.75, "G3"), (0.75, 0.25, "B3"), (1, 1, "D4")]),
])
def test_a_piece_in_its_own_meter_round_trips_exactly(ts, pattern):
    bar = meter.TimeSignature(ts).barDuration.quarterLength
    elements = [(k * bar + o, note.Note(p, quarterLength=d)) for k in range(3)
                for o, d, p in pattern]
    # a tie over the barline too: the last note of bar 2 held into bar 3
    score = stream.Score([_part(elements, ts)])
    conv = convert_score(score)
    back = bars_to_score(conv.bars, structure=conv.structure)
    assert [t.ratioString for t in back.parts[0].recurse().getElementsByClass(
        meter.TimeSignature)] == [ts]
    again = convert_score(back)
    assert (again.bars == conv.bars).all()
    # the notes are the query's, at their own places in their own meter
    struck = sorted((float(n.offset), n.pitch.midi) for p in back.parts
                    for n in p.flatten().notes if n.tie is None or n.tie.type == "start")
    wanted = sorted((float(k * bar + o), note.Note(p).pitch.midi) for k in range(3)
                    for o, d, p in pattern)
    assert struck == wanted


def test_stretching_then_squeezing_a_bar_is_exact():
    rng = np.random.default_rng(4)
    roll = np.zeros((12, 78, 2), dtype=bool)
    for row in rng.choice(78, 6, replace=False):
        start = int(rng.integers(0, 11))
        end = int(rng.integers(start + 1, 13))
        roll[start:end, row, PLAY] = True
        roll[start, row, ARTICULATE] = True
    assert (resample(resample(roll, 16), 12) == roll).all()
    bar = bar_structure(stream.Score([_part([(0, note.Note("C4", quarterLength=3))],
                                            "3/4")]))[0]
    assert (from_model_bar(to_model_bar(roll, bar, DEFAULT_GRID), bar, DEFAULT_GRID) ==
            roll).all()
    padded = to_model_bar(roll, bar, DEFAULT_GRID, "pad")
    assert (padded[:12] == roll).all() and not padded[12:].any()
    assert (from_model_bar(padded, bar, DEFAULT_GRID, "pad") == roll).all()


def test_meter_changes_keep_bar_count_and_meters_in_the_improvisation(chord_model):
    part = stream.Part()
    for number, (ts, pitches) in enumerate([("4/4", ["C4", "E4", "G4"]),
                                            ("3/4", ["F3", "A3", "C4"]),
                                            ("4/4", ["G3", "B3", "D4"])], 1):
        m = stream.Measure(number=number)
        m.insert(0, meter.TimeSignature(ts))
        m.append(chord.Chord(pitches, quarterLength=meter.TimeSignature(
            ts).barDuration.quarterLength))
        part.append(m)
    score = stream.Score([part])
    improv = sweep(score, chord_model, [math.inf, 0.0])
    for _, s, _ in improv:
        top = s.parts[0].getElementsByClass(stream.Measure)
        assert len(top) == 3
        assert [float(m.duration.quarterLength) for m in top] == [4.0, 3.0, 4.0]
        assert [t.ratioString for t in s.parts[0].recurse().getElementsByClass(
            meter.TimeSignature)] == ["4/4", "3/4", "4/4"]


def test_nonsense_meters_are_a_clear_error(tmp_path):
    xml = ("<?xml version='1.0' encoding='UTF-8'?><score-partwise version='4.0'>"
           "<part-list><score-part id='P1'><part-name>P</part-name></score-part></part-list>"
           "<part id='P1'><measure number='1'><attributes><divisions>1</divisions>"
           "<time><beats>5</beats><beat-type>3</beat-type></time></attributes>"
           "<note><pitch><step>C</step><octave>4</octave></pitch><duration>4</duration>"
           "<type>whole</type></note></measure></part></score-partwise>")
    path = tmp_path / "odd.musicxml"
    path.write_text(xml)
    with pytest.raises(InputError, match="time signature|meter"):
        convert_score(load_score(path))


# ---------------------------------------------------------------------- hard queries


def _midi(tracks, tpb=480) -> bytes:
    """Type-1 MIDI from tracks of (start beat, length in beats, pitch)."""
    mid = mido.MidiFile(type=1, ticks_per_beat=tpb)
    for notes in tracks:
        events = []
        for start, length, pitch in notes:
            events.append((int(start * tpb), 1, mido.Message("note_on", note=pitch,
                                                             velocity=80)))
            events.append((int((start + length) * tpb), 0,
                           mido.Message("note_off", note=pitch, velocity=0)))
        events.sort(key=lambda e: (e[0], e[1]))
        track = mido.MidiTrack()
        track.append(mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0))
        now = 0
        for tick, _, msg in events:
            track.append(msg.copy(time=tick - now))
            now = tick
        mid.tracks.append(track)
    buf = io.BytesIO()
    mid.save(file=buf)
    return buf.getvalue()


def test_a_midi_track_with_overlapping_notes_is_written_in_full_bars(tmp_path):
    # a held bass C3 under a melody that overlaps itself (legato pedal-like overlaps)
    melody = [(i * 0.75, 1.0, 72 + (i % 5)) for i in range(20)]  # each note overlaps the next
    path = tmp_path / "overlap.mid"
    path.write_bytes(_midi([melody + [(0, 8, 48), (8, 7, 43)]]))
    score = load_score(path)
    metric = metric_score(score)
    for part in metric.parts:
        for m in part.getElementsByClass(stream.Measure):
            for holder in (list(m.voices) or [m]):
                assert holder.duration.quarterLength == m.barDuration.quarterLength or \
                    m is part.getElementsByClass(stream.Measure)[-1]
    assert any(m.voices for m in metric.parts[0].getElementsByClass(stream.Measure))
    assert (convert_score(metric).bars == convert_score(score).bars).all()


def test_multi_track_midi_and_rounding_noise_are_annotated_bar_for_bar(
        chord_model, tmp_path, assert_valid_musicxml):
    right = [(b * 4 + k, 1, p) for b in range(4) for k, p in enumerate((72, 76, 79, 76))]
    left = [(b * 4, 4, 48 + 5 * (b % 2)) for b in range(4)]
    midi = tmp_path / "two.mid"
    midi.write_bytes(_midi([right, left]))
    # MusicXML with a bar of 40319/10080 quarters (a notation program's tuplet rounding)
    def measure(n, steps, duration):
        heads = "".join(
            f"<note>{'<chord/>' if k else ''}<pitch><step>{st}</step><octave>4</octave>"
            f"</pitch><duration>{duration}</duration><type>whole</type></note>"
            for k, st in enumerate(steps))
        head = ("<attributes><divisions>10080</divisions><time><beats>4</beats>"
                "<beat-type>4</beat-type></time><clef><sign>G</sign><line>2</line></clef>"
                "</attributes>") if n == 1 else ""
        return f"<measure number='{n}'>{head}{heads}</measure>"
    body = measure(1, "CEG", 40320) + measure(2, "GBD", 40319) + measure(3, "CEG", 40320)
    xml = tmp_path / "noisy.musicxml"
    xml.write_text("<?xml version='1.0' encoding='UTF-8'?><score-partwise version='4.0'>"
                   "<part-list><score-part id='P1'><part-name>Piano</part-name></score-part>"
                   f"</part-list><part id='P1'>{body}</part></score-partwise>")
    for source in (midi, xml):
        score = load_score(source)
        enc = encode(score, chord_model)
        (rate, improv, _), = sweep(score, chord_model, [math.inf], encoding=enc)
        out = write_annotated(score, improv, tmp_path / f"{source.stem}-ann.musicxml",
                              rate=rate)
        assert_valid_musicxml(out)
        written = convert_score(_query_staves(out))
        assert (written.bars == enc.bars).all(), source.name
        assert _measure_lengths(_query_staves(out)) == _measure_lengths(_improv_staves(out))


def _staves_equal_input(path_text: str) -> str | None:
    """The chorale's name when its written query staves differ from its model input."""
    import tempfile

    score = corpus.parse(path_text)
    conv = convert_score(metric_score(score))
    improv = bars_to_score(conv.bars, structure=conv.structure)
    with tempfile.TemporaryDirectory() as tmp:
        out = write_annotated(score, improv, Path(tmp) / "a.musicxml", rate=math.inf)
        written = convert_score(_query_staves(out))
    if written.bars.shape != conv.bars.shape or not (written.bars == conv.bars).all():
        return Path(path_text).name
    return None


@pytest.mark.slow
def test_every_chorale_s_written_query_staves_equal_its_model_input():
    """For every chorale of the corpus: the file's query staves == the model's input bars."""
    from concurrent.futures import ProcessPoolExecutor

    from qbdi_musicology.corpus import get_spec

    paths = [str(p) for p in get_spec("bach-chorales").files()]
    assert len(paths) == 409
    with ProcessPoolExecutor(2) as pool:
        failures = [name for name in pool.map(_staves_equal_input, paths, chunksize=8)
                    if name]
    assert not failures, failures


def test_a_romantext_analysis_is_written_as_the_chords_it_names():
    from music21.common import getCorpusFilePath

    analysis = load_score(Path(getCorpusFilePath()) / "bach" / "choraleAnalyses"
                          / "riemenschneider001.rntxt")
    metric = metric_score(analysis)
    first_full = metric.parts[0].getElementsByClass(stream.Measure)[1]
    # bar 1 of the analysis is "I" in G major: a G major triad, as music21 voices it
    names = {p.name for c in first_full.notes for p in c.pitches}
    assert {"G", "B", "D"} <= names
    assert convert_score(metric).bars[..., PLAY].any()
