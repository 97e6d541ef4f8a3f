"""Safe loading of score files: every bad input gets a clear InputError."""

from __future__ import annotations

import io
import struct
import tracemalloc
import zipfile

import mido
import numpy as np
import pytest

from qbdi_musicology.errors import InputError, QbdiError
from qbdi_musicology.grid import ARTICULATE, DEFAULT_GRID
from qbdi_musicology.pianoroll import convert_score, score_to_bars
from qbdi_musicology.pieces import resolve_query
from qbdi_musicology.scoreio import Limits, load_score

LO = DEFAULT_GRID.low_pitch


def midi_bytes(notes, *, channel=0, tpb=480, ts=(4, 4), tail_ticks=0) -> bytes:
    """A type-1 MIDI file from (start beat, length in beats, midi pitch) triples."""
    events = []
    for start, length, pitch in notes:
        events.append((int(start * tpb), 1, mido.Message("note_on", note=pitch, velocity=80,
                                                         channel=channel)))
        events.append((int((start + length) * tpb), 0, mido.Message("note_off", note=pitch,
                                                                    velocity=0, channel=channel)))
    events.sort(key=lambda e: (e[0], e[1]))
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("time_signature", numerator=ts[0], denominator=ts[1], time=0))
    track.append(mido.MetaMessage("set_tempo", tempo=500000, time=0))
    now = 0
    for tick, _, msg in events:
        track.append(msg.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=tail_ticks))
    mid = mido.MidiFile(type=1, ticks_per_beat=tpb)
    mid.tracks.append(track)
    buf = io.BytesIO()
    mid.save(file=buf)
    return buf.getvalue()


MUSICXML = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE score-partwise PUBLIC "-//Recordare//DTD MusicXML 4.0 Partwise//EN"
  "http://www.musicxml.org/dtds/partwise.dtd">
<score-partwise version="4.0">
  <work><work-title>{title}</work-title></work>
  <part-list><score-part id="P1"><part-name>Piano</part-name></score-part></part-list>
  <part id="P1">{measures}</part>
</score-partwise>
"""
MEASURE_C_CHORD = """<measure number="{n}">
    <attributes><divisions>1</divisions><time><beats>4</beats><beat-type>4</beat-type></time>
      <clef><sign>G</sign><line>2</line></clef></attributes>
    <note><pitch><step>C</step><octave>4</octave></pitch><duration>4</duration><type>whole</type></note>
    <note><chord/><pitch><step>E</step><octave>4</octave></pitch><duration>4</duration><type>whole</type></note>
    <note><chord/><pitch><step>G</step><octave>4</octave></pitch><duration>4</duration><type>whole</type></note>
  </measure>"""


def musicxml_text(title="Test", n_measures=1) -> str:
    measures = "".join(MEASURE_C_CHORD.format(n=i + 1) for i in range(n_measures))
    return MUSICXML.format(title=title, measures=measures)


def mxl_bytes(xml: bytes, inner="score.musicxml") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("META-INF/container.xml",
                   '<?xml version="1.0"?><container><rootfiles>'
                   f'<rootfile full-path="{inner}"/></rootfiles></container>')
        z.writestr(inner, xml)
    return buf.getvalue()


# ------------------------------------------------------------------ good files


def test_midi_c_major_triad_is_read(tmp_path):
    path = tmp_path / "triad.mid"
    path.write_bytes(midi_bytes([(0, 4, 60), (0, 4, 64), (0, 4, 67), (4, 2, 62)]))
    bars = score_to_bars(load_score(path))
    assert bars.shape[0] == 2
    assert {int(r) + LO for r in np.nonzero(bars[0, 0, :, ARTICULATE])[0]} == {60, 64, 67}
    assert bars[1, 0, 62 - LO, ARTICULATE] and bars[1, :8, 62 - LO, 0].all()


def test_musicxml_and_mxl_are_read(tmp_path):
    xml = tmp_path / "c.musicxml"
    xml.write_text(musicxml_text("C major"))
    mxl = tmp_path / "c.mxl"
    mxl.write_bytes(mxl_bytes(xml.read_bytes()))
    for path in (xml, mxl):
        score = load_score(path)
        chord = score.recurse().notes.first()
        assert chord.commonName == "major triad" and chord.root().name == "C"
        assert score.metadata.title == "C major"


def test_midi_title_defaults_to_the_file_name(tmp_path):
    path = tmp_path / "little tune.midi"
    path.write_bytes(midi_bytes([(0, 1, 72)]))
    assert load_score(path).metadata.title == "little tune"


# ------------------------------------------------------------------ bad files


def test_empty_file(tmp_path):
    for name in ("empty.mid", "empty.musicxml", "empty.mxl"):
        path = tmp_path / name
        path.write_bytes(b"")
        with pytest.raises(InputError, match="is empty"):
            load_score(path)


def test_truncated_midi(tmp_path):
    data = midi_bytes([(i, 1, 60 + i % 12) for i in range(40)])
    path = tmp_path / "cut.mid"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated or corrupt"):
        load_score(path)


def test_corrupt_midi_track(tmp_path):
    data = bytearray(midi_bytes([(0, 1, 60)]))
    track = data.index(b"MTrk")
    data[track:track + 4] = b"XXXX"  # the track chunk's name is destroyed
    path = tmp_path / "corrupt.mid"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="truncated or corrupt"):
        load_score(path)


def test_not_music_bytes_named_mid(tmp_path):
    path = tmp_path / "notes.mid"
    path.write_bytes(b"Dear students, the exam is on Monday.\n" * 20)
    with pytest.raises(InputError, match="not a MIDI file"):
        load_score(path)
    png = tmp_path / "picture.mxl"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    with pytest.raises(InputError, match="not an .mxl archive"):
        load_score(png)


def test_external_entity_is_refused_and_never_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    text = musicxml_text("&xxe;").replace(
        '<!DOCTYPE score-partwise PUBLIC "-//Recordare//DTD MusicXML 4.0 Partwise//EN"\n'
        '  "http://www.musicxml.org/dtds/partwise.dtd">',
        f'<!DOCTYPE score-partwise [<!ENTITY xxe SYSTEM "file://{secret}">]>')
    for path in (tmp_path / "xxe.musicxml", tmp_path / "xxe.xml"):
        path.write_text(text)
        with pytest.raises(InputError, match="entities") as exc:
            load_score(path)
        assert "TOP-SECRET" not in str(exc.value)
    mxl = tmp_path / "xxe.mxl"
    mxl.write_bytes(mxl_bytes(text.encode()))
    with pytest.raises(InputError, match="entities"):
        load_score(mxl)


def test_billion_laughs_is_refused(tmp_path):
    lol = ('<!DOCTYPE score-partwise [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
           '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>')
    text = musicxml_text("&c;").replace(
        '<!DOCTYPE score-partwise PUBLIC "-//Recordare//DTD MusicXML 4.0 Partwise//EN"\n'
        '  "http://www.musicxml.org/dtds/partwise.dtd">', lol)
    path = tmp_path / "lol.musicxml"
    path.write_text(text)
    with pytest.raises(InputError, match="entities"):
        load_score(path)


def test_xml_that_is_not_musicxml(tmp_path):
    path = tmp_path / "page.xml"
    path.write_text("<html><body>hello</body></html>")
    with pytest.raises(InputError, match="not a MusicXML score"):
        load_score(path)
    broken = tmp_path / "broken.musicxml"
    broken.write_text(musicxml_text()[:300])
    with pytest.raises(InputError, match="not well-formed"):
        load_score(broken)


def test_mxl_zip_bomb_declared_size(tmp_path):
    xml = musicxml_text().encode()
    # a comment of 8 MB of spaces compresses to a few kB
    bomb = xml.replace(b"<work>", b"<!--" + b" " * (8 << 20) + b"--><work>")
    path = tmp_path / "bomb.mxl"
    path.write_bytes(mxl_bytes(bomb))
    assert path.stat().st_size < 100_000
    with pytest.raises(InputError, match="zip bomb"):
        load_score(path, limits=Limits(max_unpacked_bytes=1 << 20))


def test_mxl_that_lies_about_its_size(tmp_path):
    xml = musicxml_text().encode()
    bomb = xml.replace(b"<work>", b"<!--" + b" " * (4 << 20) + b"--><work>")
    data = bytearray(mxl_bytes(bomb))
    # Rewrite the central directory's "uncompressed size" of the score to 1000 bytes.
    pos = 0
    while True:
        pos = data.index(b"PK\x01\x02", pos)
        name_len = struct.unpack_from("<H", data, pos + 28)[0]
        name = bytes(data[pos + 46: pos + 46 + name_len])
        if name == b"score.musicxml":
            struct.pack_into("<I", data, pos + 24, 1000)
            break
        pos += 4
    path = tmp_path / "liar.mxl"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError):
        load_score(path, limits=Limits(max_unpacked_bytes=1 << 20))


def test_percussion_only_midi(tmp_path):
    path = tmp_path / "drums.mid"
    path.write_bytes(midi_bytes([(i * 0.5, 0.5, 36 + (i % 2) * 2) for i in range(16)], channel=9))
    with pytest.raises(InputError, match="only percussion"):
        load_score(path)


def test_midi_without_notes(tmp_path):
    path = tmp_path / "silence.mid"
    path.write_bytes(midi_bytes([], tail_ticks=480 * 8))
    with pytest.raises(InputError, match="no notes"):
        load_score(path)


def test_hundred_thousand_bar_midi_is_refused_in_bounded_memory(tmp_path):
    # One note, then silence until bar 100,000: a few dozen bytes on disk.
    path = tmp_path / "long.mid"
    path.write_bytes(midi_bytes([(0, 1, 60), (399_999, 1, 62)]))
    assert path.stat().st_size < 200
    tracemalloc.start()
    with pytest.raises(InputError, match="about 100000 bars, over the limit of 5000"):
        load_score(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20 * 2**20
    # The limit is a parameter: a 50-bar file passes the default and fails max_bars=10.
    short = tmp_path / "short.mid"
    short.write_bytes(midi_bytes([(0, 1, 60), (196, 4, 62)]))
    assert score_to_bars(load_score(short)).shape[0] == 50
    with pytest.raises(InputError, match="over the limit of 10 bars"):
        load_score(short, limits=Limits(max_bars=10))


def test_hundred_thousand_bar_musicxml_is_refused(tmp_path):
    measures = "".join(f'<measure number="{i}"/>' for i in range(1, 100_001))
    path = tmp_path / "long.musicxml"
    path.write_text(MUSICXML.format(title="long", measures=measures))
    with pytest.raises(InputError, match="100000 bars, over the limit"):
        load_score(path)


def test_file_size_limit(tmp_path):
    path = tmp_path / "big.mid"
    path.write_bytes(midi_bytes([(i, 1, 60) for i in range(200)]))
    with pytest.raises(InputError, match="MB limit"):
        load_score(path, limits=Limits(max_bytes=100))
    with pytest.raises(InputError, match="MB limit for a MIDI file"):
        load_score(path, limits=Limits(max_midi_bytes=100))


def test_paths_that_are_not_score_files(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_score(tmp_path / "missing.mid")
    with pytest.raises(InputError, match="is a folder"):
        load_score(_dir(tmp_path))
    odd = tmp_path / "piece.pdf"
    odd.write_bytes(b"%PDF-1.4")
    with pytest.raises(InputError, match="unknown score format"):
        load_score(odd)


def _dir(tmp_path):
    folder = tmp_path / "folder.mid"
    folder.mkdir()
    return folder


def test_three_four_file_under_the_four_four_grid(tmp_path):
    path = tmp_path / "waltz.mid"
    path.write_bytes(midi_bytes([(0, 3, 60), (3, 3, 64)], ts=(3, 4)))
    score = load_score(path)
    with pytest.raises(InputError, match="3/4 does not match the 4/4 grid"):
        convert_score(score, source=path.name, meter="strict")
    # by default each 3/4 bar is one model bar: C on the first, E on the second
    bars = convert_score(score, source=path.name).bars
    assert bars.shape[0] == 2 and bars[0, 0, 60 - LO, ARTICULATE] and \
        bars[1, 0, 64 - LO, ARTICULATE]


def test_every_error_is_one_line_with_what_to_do(tmp_path):
    path = tmp_path / "notes.mid"
    path.write_bytes(b"not midi at all")
    with pytest.raises(QbdiError) as exc:
        load_score(path)
    message = str(exc.value)
    assert "\n" not in message and str(path) in message and "check" in message


# ------------------------------------------------------------------ queries


def test_resolve_query_of_a_bach_chorale():
    score = resolve_query("corpus:bach-chorales/bwv66.6")
    assert [p.partName for p in score.parts] == ["Soprano", "Alto", "Tenor", "Bass"]
    with pytest.raises(InputError, match="has no piece 'bwv9999'"):
        resolve_query("corpus:bach-chorales/bwv9999")
    with pytest.raises(InputError, match="no corpus named"):
        resolve_query("corpus:nonesuch/x")
    with pytest.raises(InputError, match="corpus:NAME/PIECE"):
        resolve_query("corpus:bach-chorales")


def test_resolve_query_of_a_file(tmp_path):
    path = tmp_path / "q.mid"
    path.write_bytes(midi_bytes([(0, 4, 67)]))
    assert resolve_query(str(path)).recurse().notes.first().pitch.midi == 67


def test_resolve_query_of_visions_fugitives(shared_data):
    score = resolve_query("corpus:visions-fugitives/vf_no1", data_dir=shared_data)
    conv = convert_score(score)
    assert conv.bars.shape[0] > 10 and conv.report.notes_read > 100


def test_entities_hidden_in_utf16_are_still_refused(tmp_path):
    text = musicxml_text("&xxe;").replace("UTF-8", "UTF-16").replace(
        '<!DOCTYPE score-partwise PUBLIC "-//Recordare//DTD MusicXML 4.0 Partwise//EN"\n'
        '  "http://www.musicxml.org/dtds/partwise.dtd">',
        '<!DOCTYPE score-partwise [<!ENTITY xxe SYSTEM "file:///etc/hostname">]>')
    path = tmp_path / "xxe16.musicxml"
    path.write_bytes(text.encode("utf-16"))
    with pytest.raises(InputError, match="entities"):
        load_score(path)


def test_midi_with_a_drum_track_keeps_the_pitched_track(tmp_path):
    piano = mido.MidiFile(file=io.BytesIO(midi_bytes([(0, 4, 60), (4, 4, 64)])))
    drums = mido.MidiFile(file=io.BytesIO(midi_bytes([(i, 1, 36) for i in range(8)], channel=9)))
    both = mido.MidiFile(type=1, ticks_per_beat=480)
    both.tracks.extend([piano.tracks[0], drums.tracks[0]])
    path = tmp_path / "band.mid"
    both.save(str(path))
    conv = convert_score(load_score(path))
    assert conv.report.parts_read == ("part 1",)
    assert conv.report.parts_skipped[0][1].startswith("drums")
    assert int(conv.bars[..., 0].sum()) == 32  # C4 and E4, a whole bar each


# ------------------------------------------------------------------ more broken MIDI


def _midi_with_meta(meta_msgs, notes=((0, 4, 60),), n_tracks=1) -> bytes:
    """A MIDI file whose first track holds ``meta_msgs`` (mido messages with delta times)."""
    base = mido.MidiFile(file=io.BytesIO(midi_bytes(list(notes))))
    conductor = mido.MidiTrack(meta_msgs)
    out = mido.MidiFile(type=1, ticks_per_beat=480)
    out.tracks.append(conductor)
    for _ in range(n_tracks):
        out.tracks.append(base.tracks[0])
    buf = io.BytesIO()
    out.save(file=buf)
    return buf.getvalue()


def test_tempo_zero_and_tempo_floods(tmp_path):
    # mido refuses to write tempo 0, so patch the bytes of a tempo event (FF 51 03 tt tt tt)
    data = bytearray(_midi_with_meta([mido.MetaMessage("set_tempo", tempo=500000, time=0)]))
    at = data.index(b"\xff\x51\x03")
    data[at + 3: at + 6] = b"\x00\x00\x00"
    zero = tmp_path / "tempo0.mid"
    zero.write_bytes(bytes(data))
    with pytest.raises(InputError, match="0 microseconds per quarter note"):
        load_score(zero)
    flood = tmp_path / "flood.mid"
    flood.write_bytes(_midi_with_meta(
        [mido.MetaMessage("set_tempo", tempo=400000 + i, time=1) for i in range(50)]))
    with pytest.raises(InputError, match="more than 20 tempo changes"):
        load_score(flood, limits=Limits(max_tempo_changes=20))
    # within the limit, later tempo changes are ignored: they do not move notes on the grid
    bars = score_to_bars(load_score(flood))
    assert bars[0, 0, 60 - LO, ARTICULATE] and bars[0, :, 60 - LO, 0].all()


def test_too_many_tracks_and_a_zero_meter(tmp_path):
    many = tmp_path / "tracks.mid"
    many.write_bytes(_midi_with_meta([], n_tracks=6))
    with pytest.raises(InputError, match="7 tracks, over the limit of 4"):
        load_score(many, limits=Limits(max_tracks=4))
    data = bytearray(_midi_with_meta([mido.MetaMessage("time_signature", numerator=4,
                                                       denominator=4, time=0)]))
    at = data.index(b"\xff\x58\x04")
    data[at + 3] = 0  # numerator 0
    zero = tmp_path / "meter0.mid"
    zero.write_bytes(bytes(data))
    with pytest.raises(InputError, match="time signature 0/4 .* is not a meter"):
        load_score(zero)


def test_zero_length_notes_are_no_music(tmp_path):
    path = tmp_path / "clicks.mid"
    path.write_bytes(midi_bytes([(i, 0, 60 + i) for i in range(4)], tail_ticks=480 * 4))
    with pytest.raises(InputError, match="no pitched note with a duration"):
        load_score(path)


# ------------------------------------------------------------------ more broken MusicXML


def test_rests_only_and_unpitched_only_musicxml(tmp_path):
    rest = '<note><rest/><duration>4</duration><type>whole</type></note>'
    drum = ('<note><unpitched><display-step>C</display-step><display-octave>5</display-octave>'
            '</unpitched><duration>4</duration><type>whole</type></note>')
    for name, body in (("rests.musicxml", rest), ("drums.musicxml", drum)):
        measure = (f'<measure number="1"><attributes><divisions>1</divisions><time><beats>4'
                   f'</beats><beat-type>4</beat-type></time></attributes>{body}</measure>')
        text = MUSICXML.format(title=name, measures=measure)
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(InputError, match="no pitched note with a duration"):
            load_score(path)


def test_undeclared_part_and_impossible_pitch(tmp_path):
    path = tmp_path / "undeclared.musicxml"
    path.write_text(musicxml_text().replace('<score-part id="P1">', '<score-part id="P9">'))
    with pytest.raises(InputError, match="P1 missing from <part-list>"):
        load_score(path)
    high = tmp_path / "octave15.musicxml"
    high.write_text(musicxml_text().replace("<octave>4</octave>", "<octave>15</octave>"))
    with pytest.raises(InputError, match="bar 1: C15 is outside the MIDI range"):
        load_score(high)


def test_mxl_members_outside_the_archive_and_encrypted(tmp_path):
    xml = musicxml_text().encode()
    for name in ("../../escaped.musicxml", "/tmp/escaped.musicxml"):
        path = tmp_path / "evil.mxl"
        path.write_bytes(mxl_bytes(xml, inner=name))
        with pytest.raises(InputError, match="outside the archive"):
            load_score(path)
    assert not (tmp_path.parent.parent / "escaped.musicxml").exists()
    data = bytearray(mxl_bytes(xml))
    pos = 0
    while True:  # set the "encrypted" flag of every member, local and central headers
        hits = [data.find(sig, pos) for sig in (b"PK\x03\x04", b"PK\x01\x02")]
        hits = [h for h in hits if h >= 0]
        if not hits:
            break
        at = min(hits)
        flag_at = at + (6 if data[at + 2:at + 4] == b"\x03\x04" else 8)
        data[flag_at] |= 0x1
        pos = at + 4
    path = tmp_path / "locked.mxl"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="encrypted"):
        load_score(path)


def test_time_values_that_measure_nothing(tmp_path):
    cases = {
        "div0.musicxml": ("<divisions>1</divisions>", "<divisions>0</divisions>",
                          "is not a positive number"),
        "neg.musicxml": ("<duration>4</duration>", "<duration>-4</duration>", "is not a length"),
        "meter0.musicxml": ("<beats>4</beats>", "<beats>0</beats>", "is not a meter"),
    }
    for name, (old, new, message) in cases.items():
        path = tmp_path / name
        path.write_text(musicxml_text().replace(old, new))
        with pytest.raises(InputError, match=message):
            load_score(path)
    # a composite meter such as 3+2/8 is a meter
    ok = tmp_path / "five.musicxml"
    ok.write_text(musicxml_text().replace("<beats>4</beats><beat-type>4</beat-type>",
                                          "<beats>3+2</beats><beat-type>8</beat-type>"))
    assert load_score(ok).recurse().notes.first() is not None


def test_music21_warnings_do_not_reach_stderr(tmp_path, capfd):
    path = tmp_path / "zero.musicxml"
    path.write_text(musicxml_text().replace("<duration>4</duration>", "<duration>0</duration>"))
    with pytest.raises(InputError):
        load_score(path)
    assert capfd.readouterr().err == ""


def test_grid_errors_name_the_file_the_score_came_from(tmp_path):
    path = tmp_path / "waltz.mid"
    path.write_bytes(midi_bytes([(0, 3, 60), (3, 3, 64)], ts=(3, 4)))
    score = load_score(path)
    with pytest.raises(InputError) as exc:
        convert_score(score, source="A waltz", meter="strict")  # named by its title
    assert str(exc.value).startswith(f"A waltz ({path}): time signature 3/4")
