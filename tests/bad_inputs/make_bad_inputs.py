#!/usr/bin/env python3
"""Generate the bad-input corpus: broken, hostile and absurd scores and model files.

Every file is made by code here (raw bytes, ``mido``, ``zipfile``, the package's own model
writer), so nothing binary is kept in the repository and every case says how it was built.
Each :class:`BadInput` names the entry points (``qbdi`` sub-commands) it must be refused by:
a broken file must end in exit status 2 and one clear line, never in a traceback, a hang,
a memory blow-up, a file left behind or code run from a model file.

Usage::

    python tests/bad_inputs/make_bad_inputs.py OUT_DIR      # writes the files, lists them

The test ``tests/test_bad_inputs.py`` calls :func:`generate` into a temporary folder.

Two good files are written too, because some cases need a good partner: ``good_query
.musicxml`` (four bars of C major triads in 4/4), ``good_query.mid`` (the same as MIDI) and
``good_model.qbdi`` (a tiny, untrained model on the default grid).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import io
import json
import struct
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

# Entry points: the qbdi sub-commands (and roles) a score or model file goes through.
SCORE_ENTRIES = ("query", "sweep", "analyse-query", "analyse-improv", "corpus", "dynamics",
                 "demo")
GRID_ENTRIES = ("query", "sweep", "corpus", "demo")  # where the model's grid meets the meter
# A score without sounding pitched notes cannot be a query or a corpus piece; as an
# improvisation (the model may decode silence) or for the dynamics analysis (silence has a
# well-defined, flat information rate) it is legal: see LEGAL_ODDITIES.
QUERY_ENTRIES = ("query", "sweep", "analyse-query", "corpus")
# A model file is read by --model, and as the training state of 'qbdi train --resume'.
MODEL_ENTRIES = ("query-model", "sweep-model", "train-resume", "improvise-model")

#: Inputs that are odd but legal for some entry points: there they must finish in bounded
#: time with exit status 0 or 2 (never a traceback), and one line on stderr if 2.
LEGAL_ODDITIES = {
    "midi_zero_length_notes.mid": ("analyse-improv", "dynamics"),
    "xml_zero_duration.musicxml": ("analyse-improv", "dynamics"),
    "xml_rests_only.musicxml": ("analyse-improv", "dynamics"),
    "xml_percussion_only.musicxml": ("analyse-improv", "dynamics"),
    # every meter is read (each bar one model bar), and a model on a 3/4 grid reads a 4/4
    # query the same way: odd, but no longer wrong
    "midi_timesig_7_8.mid": GRID_ENTRIES,
    "xml_timesig_7_8.musicxml": GRID_ENTRIES,
    "model_other_grid.qbdi": ("query-model", "sweep-model"),
}

GOOD_XML = "good_query.musicxml"
GOOD_MIDI = "good_query.mid"
GOOD_MODEL = "good_model.qbdi"


@dataclass(frozen=True)
class BadInput:
    """One bad file: how to build it, what is wrong with it, where it must be refused.

    ``marker``: for model files with code in them, the name of the file the code would
    create when run (inside the case folder); it must never appear.
    """

    name: str
    problem: str
    build: Callable[[Path, Path], None] = field(repr=False)  # (target, folder) -> None
    entries: tuple[str, ...] = SCORE_ENTRIES
    marker: str | None = None


# ------------------------------------------------------------------------------ MIDI bytes


def _varlen(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def _chunk(tag: bytes, data: bytes, length: int | None = None) -> bytes:
    return tag + struct.pack(">I", len(data) if length is None else length) + data


def _header(fmt: int = 1, ntracks: int = 1, division: int = 480) -> bytes:
    return _chunk(b"MThd", struct.pack(">HHH", fmt, ntracks, division))


def _track(events: list[tuple[int, bytes]], end: bool = True) -> bytes:
    """A track chunk from (delta ticks, event bytes) pairs, with end-of-track by default."""
    data = b"".join(_varlen(dt) + ev for dt, ev in events)
    if end:
        data += b"\x00\xff\x2f\x00"
    return _chunk(b"MTrk", data)


def _tempo(us_per_quarter: int) -> bytes:
    return b"\xff\x51\x03" + us_per_quarter.to_bytes(3, "big")


def _timesig(numerator: int, denominator_power: int) -> bytes:
    return b"\xff\x58\x04" + bytes([numerator, denominator_power, 24, 8])


def _note_on(pitch: int, velocity: int = 80, channel: int = 0) -> bytes:
    return bytes([0x90 | channel, pitch, velocity])


def _note_off(pitch: int, channel: int = 0) -> bytes:
    return bytes([0x80 | channel, pitch, 0])


def _chord_events(bars: int = 4, tpb: int = 480, channel: int = 0,
                  chord=(60, 64, 67), length: int | None = None) -> list[tuple[int, bytes]]:
    """Whole-note chords, one per 4/4 bar (``length`` ticks long, default a whole note)."""
    length = 4 * tpb if length is None else length
    events: list[tuple[int, bytes]] = []
    gap = 4 * tpb - length
    for bar in range(bars):
        for i, p in enumerate(chord):
            events.append((gap if (i == 0 and bar) else 0, _note_on(p, channel=channel)))
        for i, p in enumerate(chord):
            events.append((length if i == 0 else 0, _note_off(p, channel=channel)))
    return events


def good_midi_bytes(bars: int = 4) -> bytes:
    """Four bars of C major whole-note triads in 4/4 at 120 bpm (a type-1 MIDI file)."""
    meta = _track([(0, _tempo(500_000)), (0, _timesig(4, 2))])
    return _header(1, 2) + meta + _track(_chord_events(bars))


def _midi(*tracks: bytes, fmt: int = 1, division: int = 480, ntracks: int | None = None) -> bytes:
    return _header(fmt, len(tracks) if ntracks is None else ntracks, division) + b"".join(tracks)


# ------------------------------------------------------------------------------ MusicXML


XML_HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<!DOCTYPE score-partwise PUBLIC "-//Recordare//DTD MusicXML 4.0 Partwise//EN" '
            '"http://www.musicxml.org/dtds/partwise.dtd">\n')


def _xml_note(step: str, octave: int, duration: int, chord: bool = False,
              type_: str = "whole", alter: int = 0) -> str:
    alter_el = f"<alter>{alter}</alter>" if alter else ""
    return (f"<note>{'<chord/>' if chord else ''}<pitch><step>{step}</step>{alter_el}"
            f"<octave>{octave}</octave></pitch><duration>{duration}</duration>"
            f"<type>{type_}</type></note>")


def musicxml_text(*, bars: int = 4, beats: str = "4", beat_type: str = "4",
                  divisions: str = "1", measure_body: Callable[[int], str] | None = None,
                  doctype: str | None = None, title: str = "Test piece",
                  part_list: str | None = None) -> str:
    """A one-part MusicXML score; by default ``bars`` bars of C major whole-note triads."""
    def triad(_: int) -> str:
        return (_xml_note("C", 4, 4) + _xml_note("E", 4, 4, chord=True)
                + _xml_note("G", 4, 4, chord=True))

    body = measure_body or triad
    measures = []
    for i in range(1, bars + 1):
        attributes = ""
        if i == 1:
            attributes = (f"<attributes><divisions>{divisions}</divisions><key><fifths>0</fifths>"
                          f"</key><time><beats>{beats}</beats><beat-type>{beat_type}</beat-type>"
                          f"</time><clef><sign>G</sign><line>2</line></clef></attributes>")
        measures.append(f'<measure number="{i}">{attributes}{body(i)}</measure>')
    parts = part_list if part_list is not None else (
        '<part-list><score-part id="P1"><part-name>Piano</part-name></score-part></part-list>')
    head = XML_HEAD if doctype is None else '<?xml version="1.0" encoding="UTF-8"?>\n' + doctype
    return (f'{head}<score-partwise version="4.0"><work><work-title>{title}</work-title></work>'
            f'{parts}<part id="P1">{"".join(measures)}</part></score-partwise>\n')


def _write(text: str | bytes) -> Callable[[Path, Path], None]:
    def build(target: Path, folder: Path) -> None:
        target.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return build


def _sparse(head: bytes, size: int) -> Callable[[Path, Path], None]:
    """``head`` followed by zero bytes up to ``size`` (a sparse file: instant, no disk)."""
    def build(target: Path, folder: Path) -> None:
        with open(target, "wb") as fh:
            fh.write(head)
            fh.truncate(size)
    return build


def _billion_laughs() -> str:
    lines = ['<!ENTITY lol0 "lol">']
    for i in range(1, 10):
        lines.append(f'<!ENTITY lol{i} "{"".join(f"&lol{i - 1};" for _ in range(10))}">')
    doctype = "<!DOCTYPE score-partwise [\n" + "\n".join(lines) + "\n]>\n"
    return musicxml_text(doctype=doctype, title="&lol9;")


def _external_dtd(target: Path, folder: Path) -> None:
    # The entity lives in a separate local DTD; only a reader that loads DTDs would see it.
    dtd = folder / "external_entities.dtd"
    dtd.write_text('<!ENTITY secret SYSTEM "file:///etc/hostname">\n', encoding="utf-8")
    doctype = f'<!DOCTYPE score-partwise SYSTEM "{dtd.resolve().as_uri()}">\n'
    target.write_text(musicxml_text(doctype=doctype, title="&secret;"), encoding="utf-8")


def _deep_nesting(depth: int = 100_000) -> bytes:
    inner = "<a>" * depth + "</a>" * depth
    return musicxml_text(title="x").replace("<work>", f"<work><!-- deep -->{inner}", 1).encode()


# ------------------------------------------------------------------------------ .mxl archives


CONTAINER = ('<?xml version="1.0" encoding="UTF-8"?>\n<container><rootfiles>'
             '<rootfile full-path="{path}" media-type="application/vnd.recordare.musicxml+xml"/>'
             '</rootfiles></container>\n')


def _mxl(members: dict[str, bytes | str], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        archive.writestr("mimetype", "application/vnd.recordare.musicxml")
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = compression
            archive.writestr(info, data)
    return buffer.getvalue()


def good_mxl_bytes() -> bytes:
    return _mxl({"META-INF/container.xml": CONTAINER.format(path="score.musicxml"),
                 "score.musicxml": musicxml_text()})


def _zip_bomb(target: Path, folder: Path, unpacked_mb: int = 256) -> None:
    """An honest archive whose one member unpacks to ``unpacked_mb`` MB of spaces."""
    block = b" " * (1 << 20)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("META-INF/container.xml", CONTAINER.format(path="score.musicxml"))
        with archive.open("score.musicxml", "w", force_zip64=True) as fh:
            fh.write(musicxml_text().encode()[:-20])  # a score that never ends...
            for _ in range(unpacked_mb):
                fh.write(block)


def _lying_zip_bomb(target: Path, folder: Path) -> None:
    """Like the zip bomb, but the archive claims its member is only 1000 bytes long."""
    _zip_bomb(target, folder, unpacked_mb=96)
    data = bytearray(target.read_bytes())
    # Patch the sizes in the central directory entry (the zip64 extra field holds them).
    name = b"score.musicxml"
    pos = data.find(b"PK\x01\x02")
    while pos >= 0:
        name_len = struct.unpack_from("<H", data, pos + 28)[0]
        if bytes(data[pos + 46:pos + 46 + name_len]) == name:
            extra_len = struct.unpack_from("<H", data, pos + 30)[0]
            extra = pos + 46 + name_len
            end = extra + extra_len
            while extra < end:
                tag, size = struct.unpack_from("<HH", data, extra)
                if tag == 1:  # zip64: uncompressed size first
                    struct.pack_into("<Q", data, extra + 4, 1000)
                extra += 4 + size
            if struct.unpack_from("<I", data, pos + 24)[0] != 0xFFFFFFFF:
                struct.pack_into("<I", data, pos + 24, 1000)
        pos = data.find(b"PK\x01\x02", pos + 4)
    target.write_bytes(bytes(data))


def _set_zip_flag(data: bytes, member: str, *, flag: int = 0, method: int | None = None) -> bytes:
    """Set a general-purpose flag bit and/or the method of ``member`` in every header."""
    out = bytearray(data)
    name = member.encode()
    for sig, name_at, flag_at, method_at, len_at in ((b"PK\x03\x04", 30, 6, 8, 26),
                                                     (b"PK\x01\x02", 46, 8, 10, 28)):
        pos = out.find(sig)
        while pos >= 0:
            n = struct.unpack_from("<H", out, pos + len_at)[0]
            if bytes(out[pos + name_at:pos + name_at + n]) == name:
                old = struct.unpack_from("<H", out, pos + flag_at)[0]
                struct.pack_into("<H", out, pos + flag_at, old | flag)
                if method is not None:
                    struct.pack_into("<H", out, pos + method_at, method)
            pos = out.find(sig, pos + 4)
    return bytes(out)


# ------------------------------------------------------------------------------ model files


class _CodeOnLoad:
    """Unpickling this object calls ``open(path, "w")``: the marker file proves code ran."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _tiny_model_parts(grid=None):
    """Config dict and tensors of a tiny untrained BarVAE (seeded, so the same every time)."""
    import torch

    from qbdi_musicology.model import BarVAE, ModelConfig

    kwargs = {} if grid is None else {"grid": grid}
    config = ModelConfig(hidden=16, latent=4, **kwargs)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1234)
        net = BarVAE(config)
    # Quiet everywhere except middle C up to the C above: a sparse texture whose notes
    # still depend on the latent code (so the channel noise changes the result).
    g = config.grid
    bias = torch.full((g.steps, g.pitches, 2), -6.0)
    low = 60 - g.low_pitch
    bias[:, low:low + 13, 0] = 0.0
    bias[::g.steps_per_beat, low:low + 13, 1] = 0.0
    with torch.no_grad():
        net.dec_out.bias.copy_(bias.reshape(-1))
    return config.to_dict(), dict(net.state_dict())


def good_model_bytes() -> bytes:
    from qbdi_musicology.checkpoint import pack

    config, tensors = _tiny_model_parts()
    return pack("bar-vae", config, tensors, {"description": "tiny untrained test model"})


def _split(model: bytes) -> tuple[dict, bytes]:
    from qbdi_musicology.checkpoint import MAGIC

    end = model.index(b"\n", len(MAGIC))
    return json.loads(model[len(MAGIC):end]), model[end + 1:]


def _join(header: dict, payload: bytes, *, rehash: bool = True) -> bytes:
    from qbdi_musicology.checkpoint import MAGIC

    header = dict(header)
    if rehash:
        header["payload_bytes"] = len(payload)
        header["payload_sha256"] = hashlib.sha256(payload).hexdigest()
    return MAGIC + json.dumps(header, sort_keys=True).encode() + b"\n" + payload


def _model(transform: Callable[[dict, bytes, Path], bytes]) -> Callable[[Path, Path], None]:
    def build(target: Path, folder: Path) -> None:
        header, payload = _split(good_model_bytes())
        target.write_bytes(transform(header, payload, folder))
    return build


def _torch_bytes(obj) -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def _code_payload(marker: str, legacy: bool = False) -> Callable[[dict, bytes, Path], bytes]:
    def transform(header: dict, payload: bytes, folder: Path) -> bytes:
        evil = _CodeOnLoad(str((folder / marker).resolve()))
        if legacy:
            import pickle

            body = pickle.dumps({"encoder.weight": evil}, protocol=2)
        else:
            body = _torch_bytes({"encoder.weight": evil})
        return _join(header, body)  # the checksum matches: only weights_only stops it
    return transform


def _bare_pickle(marker: str) -> Callable[[Path, Path], None]:
    def build(target: Path, folder: Path) -> None:
        target.write_bytes(_torch_bytes({"w": _CodeOnLoad(str((folder / marker).resolve()))}))
    return build


def _other_grid(header: dict, payload: bytes, folder: Path) -> bytes:
    from qbdi_musicology.checkpoint import pack
    from qbdi_musicology.grid import Grid

    config, tensors = _tiny_model_parts(Grid(beats=3))
    return pack("bar-vae", config, tensors, {})


def _retensor(make: Callable[[dict], object]) -> Callable[[dict, bytes, Path], bytes]:
    def transform(header: dict, payload: bytes, folder: Path) -> bytes:
        import torch

        tensors = torch.load(io.BytesIO(payload), weights_only=True)
        return _join(header, _torch_bytes(make(tensors)))
    return transform


def _header_edit(edit: Callable[[dict], None]) -> Callable[[dict, bytes, Path], bytes]:
    def transform(header: dict, payload: bytes, folder: Path) -> bytes:
        header = json.loads(json.dumps(header))
        edit(header)
        return _join(header, payload, rehash=False)
    return transform


def _flip_byte(header: dict, payload: bytes, folder: Path) -> bytes:
    body = bytearray(payload)
    body[len(body) // 2] ^= 0xFF
    return _join(header, bytes(body), rehash=False)


def _directory(target: Path, folder: Path) -> None:
    target.mkdir()


# ------------------------------------------------------------------------------ the cases


def _midi_cases() -> list[BadInput]:
    good = good_midi_bytes()
    meta = _track([(0, _tempo(500_000)), (0, _timesig(4, 2))])
    notes = _track(_chord_events())
    far = 100_000 * 4 * 480
    many_tracks = 20_000
    return [
        BadInput("midi_empty.mid", "empty file (0 bytes)", _write(b"")),
        BadInput("midi_truncated.mid", "cut off in the middle of a track",
                 _write(good[: len(good) // 2])),
        BadInput("midi_header_only.mid", "a header that promises a track, and no track",
                 _write(_header(1, 1))),
        BadInput("midi_wrong_magic.mid", "'RIFF' instead of 'MThd'", _write(b"RIFF" + good[4:])),
        BadInput("midi_png.mid", "a PNG image named .mid",
                 _write(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)),
        BadInput("midi_text.mid", "a text file named .mid",
                 _write("This is not a MIDI file.\nIt is a shopping list.\n")),
        BadInput("midi_tempo_zero.mid", "tempo of 0 microseconds per quarter (infinitely fast)",
                 _write(_midi(_track([(0, _tempo(0)), (0, _timesig(4, 2))]), notes))),
        BadInput("midi_tempo_changes_flood.mid",
                 "200,000 tempo changes in one bar (an absurd tempo map)",
                 _write(_midi(_track([(0, _tempo(400_000 + i % 7)) for i in range(200_000)]),
                              notes))),
        BadInput("midi_track_count_lie.mid", "header claims 65,535 tracks, holds 2",
                 _write(_midi(meta, notes, ntracks=65_535))),
        BadInput("midi_20000_tracks.mid", f"{many_tracks} tracks, one note each",
                 _write(_midi(*[_track([(i % 64, _note_on(60)), (480, _note_off(60))])
                                for i in range(many_tracks)]))),
        BadInput("midi_track_length_lie.mid", "a track chunk claiming 2 GB",
                 _write(_header(1, 1) + b"MTrk\x7f\xff\xff\xff" + b"\x00\x90\x3c\x40")),
        BadInput("midi_note_off_only.mid", "note-offs without any note-on",
                 _write(_midi(meta, _track([(480, _note_off(60)), (480, _note_off(64))] * 8)))),
        BadInput("midi_pitch_out_of_range.mid", "note-on data bytes 200 and 255 (MIDI allows 0-127)",
                 _write(_midi(meta, _track([(0, bytes([0x90, 200, 80])),
                                            (480, bytes([0x80, 200, 0])),
                                            (0, bytes([0x90, 255, 255])),
                                            (480, bytes([0x80, 255, 0]))])))),
        BadInput("midi_zero_length_notes.mid", "every note ends where it starts",
                 _write(_midi(meta, _track(_chord_events(length=0)))), QUERY_ENTRIES),
        BadInput("midi_timesig_0.mid", "time signature 0/1 (raw bytes: no beats in a bar)",
                 _write(_midi(_track([(0, _tempo(500_000)), (0, _timesig(0, 0))]), notes))),
        BadInput("midi_timesig_7_8.mid", "time signature 7/8 under the model's 4/4 grid",
                 _write(_midi(_track([(0, _tempo(500_000)), (0, _timesig(7, 3))]),
                              _track(_chord_events(length=7 * 240)))),
                 entries=GRID_ENTRIES),
        BadInput("midi_percussion_only.mid", "only drums (MIDI channel 10)",
                 _write(_midi(meta, _track(_chord_events(channel=9, chord=(36, 38, 42)))))),
        BadInput("midi_100000_bars.mid", "a note in bar 1 and a note in bar 100,000",
                 _write(_midi(meta, _track([(0, _note_on(60)), (480, _note_off(60)),
                                            (far, _note_on(62)), (480, _note_off(62))])))),
        BadInput("midi_division_zero.mid", "0 ticks per quarter note",
                 _write(_midi(meta, notes, division=0))),
        BadInput("midi_type2.mid", "MIDI type 2 (independent sequences)",
                 _write(_midi(meta, notes, fmt=2))),
        BadInput("midi_sysex_unterminated.mid", "a system-exclusive message running off the end",
                 _write(_header(1, 1) + _chunk(b"MTrk", b"\x00\xf0\x7f" + b"\x01" * 20))),
        BadInput("midi_over_size_limit.mid", "40 MB (over the size limit for one score)",
                 _sparse(_midi(meta, _track([(0, _note_on(60)), (480, _note_off(60))])),
                         40 << 20)),
    ]


def _xml_cases() -> list[BadInput]:
    good = musicxml_text()
    xxe_file = ('<!DOCTYPE score-partwise [<!ENTITY secret SYSTEM "file:///etc/passwd">]>\n')
    xxe_http = ('<!DOCTYPE score-partwise [<!ENTITY remote SYSTEM '
                '"http://127.0.0.1:9/qbdi-probe">]>\n')
    param = ('<!DOCTYPE score-partwise [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>\n')

    def rests(_: int) -> str:
        return '<note><rest/><duration>4</duration><type>whole</type></note>'

    def unpitched(_: int) -> str:
        return ('<note><unpitched><display-step>C</display-step><display-octave>5'
                '</display-octave></unpitched><duration>4</duration><type>whole</type></note>')

    def octave_out(_: int) -> str:
        return _xml_note("C", 15, 4) + _xml_note("G", -5, 4, chord=True)

    def zero_dur(_: int) -> str:
        return (_xml_note("C", 4, 0) + _xml_note("E", 4, 0, chord=True))

    def negative(_: int) -> str:
        return _xml_note("C", 4, -4) + _xml_note("E", 4, -4, chord=True)

    def seven_eight(_: int) -> str:
        return _xml_note("C", 4, 7, type_="half") + _xml_note("E", 4, 7, chord=True, type_="half")

    return [
        BadInput("xml_empty.musicxml", "empty file (0 bytes)", _write(b"")),
        BadInput("xml_binary.musicxml", "binary noise named .musicxml",
                 _write(bytes((i * 37 + 11) % 256 for i in range(4096)))),
        BadInput("xml_truncated.musicxml", "cut off in the middle",
                 _write(good[: len(good) // 2])),
        BadInput("xml_wrong_root.musicxml", "an HTML page named .musicxml",
                 _write('<?xml version="1.0"?><html><body>not a score</body></html>')),
        BadInput("xml_xxe_file.musicxml", "external entity reading /etc/passwd (XXE)",
                 _write(musicxml_text(doctype=xxe_file, title="&secret;"))),
        BadInput("xml_xxe_http.musicxml", "external entity fetching a URL (XXE/SSRF)",
                 _write(musicxml_text(doctype=xxe_http, title="&remote;"))),
        BadInput("xml_billion_laughs.musicxml", "entity expansion to 10^9 'lol's",
                 _write(_billion_laughs())),
        BadInput("xml_parameter_entity.musicxml", "parameter entity loading a local file",
                 _write(musicxml_text(doctype=param))),
        BadInput("xml_external_dtd.musicxml", "a local DTD that defines the title's entity",
                 _external_dtd),
        BadInput("xml_non_utf8.musicxml", "declared UTF-8, holds Latin-1 bytes",
                 _write(musicxml_text(title="Caf\u00e9 Cr\u00e8me").encode("latin-1"))),
        BadInput("xml_deep_nesting.musicxml", "100,000 nested elements",
                 _write(_deep_nesting())),
        BadInput("xml_timesig_0_0.musicxml", "time signature 0/0",
                 _write(musicxml_text(beats="0", beat_type="0"))),
        BadInput("xml_timesig_7_8.musicxml", "time signature 7/8 under the model's 4/4 grid",
                 _write(musicxml_text(beats="7", beat_type="8", divisions="2",
                                      measure_body=seven_eight)), entries=GRID_ENTRIES),
        BadInput("xml_pitch_out_of_range.musicxml", "notes in octave 15 and octave -5",
                 _write(musicxml_text(measure_body=octave_out))),
        BadInput("xml_divisions_zero.musicxml", "divisions 0 (no time unit)",
                 _write(musicxml_text(divisions="0"))),
        BadInput("xml_zero_duration.musicxml", "every note lasts 0",
                 _write(musicxml_text(measure_body=zero_dur)), QUERY_ENTRIES),
        BadInput("xml_negative_duration.musicxml", "every note lasts -4 divisions",
                 _write(musicxml_text(measure_body=negative))),
        BadInput("xml_100000_bars.musicxml", "100,000 bars",
                 _write(musicxml_text(bars=100_000, measure_body=rests))),
        BadInput("xml_percussion_only.musicxml", "only unpitched (percussion) notes",
                 _write(musicxml_text(measure_body=unpitched)), QUERY_ENTRIES),
        BadInput("xml_rests_only.musicxml", "no notes at all, only rests",
                 _write(musicxml_text(measure_body=rests)), QUERY_ENTRIES),
        BadInput("xml_undeclared_part.musicxml", "the part is missing from <part-list>",
                 _write(musicxml_text(part_list='<part-list><score-part id="P9"><part-name>X'
                                                '</part-name></score-part></part-list>'))),
    ]


def _mxl_cases() -> list[BadInput]:
    good_xml = musicxml_text()
    container = CONTAINER.format(path="score.musicxml")
    evil_container = ('<?xml version="1.0"?><!DOCTYPE c [<!ENTITY x SYSTEM '
                      '"file:///etc/passwd">]><container><rootfiles><rootfile '
                      'full-path="&x;"/></rootfiles></container>')
    good = good_mxl_bytes()
    return [
        BadInput("mxl_zip_bomb.mxl", "unpacks to 256 MB", _zip_bomb),
        BadInput("mxl_zip_bomb_lying.mxl", "unpacks to 96 MB but claims 1000 bytes",
                 _lying_zip_bomb),
        BadInput("mxl_path_traversal.mxl", "member named ../../qbdi_escaped.musicxml",
                 _write(_mxl({"META-INF/container.xml": CONTAINER.format(
                     path="../../qbdi_escaped.musicxml"),
                     "../../qbdi_escaped.musicxml": good_xml}))),
        BadInput("mxl_absolute_member.mxl", "member named /tmp/qbdi_escaped_abs.musicxml",
                 _write(_mxl({"META-INF/container.xml": CONTAINER.format(
                     path="/tmp/qbdi_escaped_abs.musicxml"),
                     "/tmp/qbdi_escaped_abs.musicxml": good_xml}))),
        BadInput("mxl_not_zip.mxl", "plain text named .mxl", _write("just some text\n")),
        BadInput("mxl_truncated.mxl", "a zip cut in half", _write(good[: len(good) // 2])),
        BadInput("mxl_container_entities.mxl", "container.xml declares an external entity",
                 _write(_mxl({"META-INF/container.xml": evil_container,
                              "score.musicxml": good_xml}))),
        BadInput("mxl_no_score.mxl", "an archive with only a README",
                 _write(_mxl({"README.txt": "nothing here"}))),
        BadInput("mxl_missing_member.mxl", "container names a score the archive lacks",
                 _write(_mxl({"META-INF/container.xml": CONTAINER.format(path="gone.musicxml"),
                              "score.musicxml": good_xml}))),
        BadInput("mxl_encrypted.mxl", "the score member is marked encrypted",
                 _write(_set_zip_flag(good, "score.musicxml", flag=0x1))),
        BadInput("mxl_unknown_compression.mxl", "compression method 97 (unknown)",
                 _write(_set_zip_flag(good, "score.musicxml", method=97))),
        BadInput("mxl_billion_laughs.mxl", "the score inside expands entities",
                 _write(_mxl({"META-INF/container.xml": container,
                              "score.musicxml": _billion_laughs()}))),
    ]


# ------------------------------------------------------------------------------ other formats


MSCX = ('<?xml version="1.0" encoding="UTF-8"?>\n<museScore version="4.20"><Score>'
        '<Staff id="1"><Measure><voice><Chord><durationType>whole</durationType><Note>'
        '<pitch>60</pitch></Note></Chord></voice></Measure></Staff></Score></museScore>\n')
MSCZ_CONTAINER = ('<?xml version="1.0" encoding="UTF-8"?>\n<container><rootfiles>'
                  '<rootfile full-path="{path}"/></rootfiles></container>\n')


def mei_text(*, doctype: str = "", title: str = "Test piece", measures: int = 2) -> str:
    """A small MEI 4 score: C major triads, one per 4/4 bar."""
    bar = ('<measure n="{n}"><staff n="1"><layer n="1"><chord dur="1"><note pname="c" '
           'oct="4"/><note pname="e" oct="4"/><note pname="g" oct="4"/></chord></layer>'
           '</staff></measure>')
    body = "".join(bar.format(n=i + 1) for i in range(measures))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + doctype
            + '<mei xmlns="http://www.music-encoding.org/ns/mei" meiversion="4.0.1"><meiHead>'
            f'<fileDesc><titleStmt><title>{title}</title></titleStmt><pubStmt/></fileDesc>'
            '</meiHead><music><body><mdiv><score><scoreDef meter.count="4" meter.unit="4">'
            '<staffGrp><staffDef n="1" lines="5" clef.shape="G" clef.line="2"/></staffGrp>'
            f'</scoreDef><section>{body}</section></score></mdiv></body></music></mei>\n')


def _mscz_bomb(target: Path, folder: Path, unpacked_mb: int = 256) -> None:
    """A MuseScore archive whose score unpacks to ``unpacked_mb`` MB of spaces."""
    block = b" " * (1 << 20)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("META-INF/container.xml", MSCZ_CONTAINER.format(path="score.mscx"))
        with archive.open("score.mscx", "w", force_zip64=True) as fh:
            fh.write(MSCX.encode()[:-20])
            for _ in range(unpacked_mb):
                fh.write(block)


def _format_cases() -> list[BadInput]:
    """Hostile and broken files of the formats beyond MIDI and MusicXML."""
    xxe = '<!DOCTYPE mei [<!ENTITY secret SYSTEM "file:///etc/passwd">]>\n'
    lol = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{"".join(f"&lol{i - 1};" for _ in range(10))}">' for i in range(1, 10)]
    laughs = "<!DOCTYPE mei [\n" + "\n".join(lol) + "\n]>\n"
    kern_bar = "=\n" + "64c\n" * 160
    return [
        BadInput("kern_huge_spine.krn", "one **kern spine of 640,000 notes (2.6 MB of text)",
                 _write("**kern\n*M4/4\n" + kern_bar * 4000 + "*-\n")),
        BadInput("kern_100000_bars.krn", "a **kern spine of 100,000 bars",
                 _write("**kern\n*M4/4\n" + "=\n1c\n" * 100_000 + "*-\n")),
        BadInput("kern_no_kern_spine.krn", "Humdrum with only a **dynam spine",
                 _write("**dynam\n=1\np\n=2\nf\n*-\n")),
        BadInput("kern_binary.krn", "binary noise named .krn",
                 _write(bytes((i * 37 + 11) % 256 for i in range(4096)))),
        BadInput("abc_truncated_header.abc", "an ABC tune cut off inside its header (no K:)",
                 _write("X:1\nT:Reel\nM:4/")),
        BadInput("abc_header_only.abc", "an ABC tune with a header and no notes",
                 _write("X:1\nT:Air\nM:3/4\nL:1/4\nK:D\n")),
        BadInput("abc_endless_tune.abc", "an ABC tune of 20,000 bars",
                 _write("X:1\nT:Endless\nM:4/4\nL:1/4\nK:C\n" + "C D E F|" * 20_000 + "\n")),
        BadInput("mei_xxe_file.mei", "MEI with an external entity reading /etc/passwd",
                 _write(mei_text(doctype=xxe, title="&secret;"))),
        BadInput("mei_billion_laughs.mei", "MEI expanding entities to 10^9 'lol's",
                 _write(mei_text(doctype=laughs, title="&lol9;"))),
        BadInput("mei_musicxml_inside.mei", "a MusicXML score named .mei",
                 _write(musicxml_text())),
        BadInput("mscz_zip_bomb.mscz", "a MuseScore archive unpacking to 256 MB", _mscz_bomb),
        BadInput("mscz_path_traversal.mscz", "member named ../../qbdi_escaped.mscx",
                 _write(_mxl({"META-INF/container.xml": MSCZ_CONTAINER.format(
                     path="../../qbdi_escaped.mscx"), "../../qbdi_escaped.mscx": MSCX}))),
        BadInput("mscz_genuine.mscz", "a genuine MuseScore 4 file (music21 has no reader)",
                 _write(_mxl({"META-INF/container.xml": MSCZ_CONTAINER.format(
                     path="score.mscx"), "score.mscx": MSCX}))),
        BadInput("mscx_entities.mscx", "MuseScore XML with an external entity",
                 _write(MSCX.replace("<museScore", '<!DOCTYPE museScore [<!ENTITY secret '
                                     'SYSTEM "file:///etc/passwd">]>\n<museScore', 1))),
        BadInput("rntxt_million_bars.rntxt", "RomanText copying bar 1 a million times",
                 _write("Composer: Nobody\nTitle: Copies\nTime Signature: 4/4\n\nm1 C: I\n"
                        "m2-1000000 = m1\n")),
    ]


def _model_cases() -> list[BadInput]:
    def version(v):
        return _header_edit(lambda h: h.__setitem__("format_version", v))

    def huge(h: dict) -> None:
        h["config"]["hidden"] = 2_000_000_000

    def unknown_field(h: dict) -> None:
        h["config"]["attention_heads"] = 8

    return [
        BadInput("model_empty.qbdi", "empty file", _write(b""), MODEL_ENTRIES),
        BadInput("model_truncated.qbdi", "cut off in the tensors",
                 _model(lambda h, p, f: _join(h, p, rehash=False)[: -len(p) // 2]),
                 MODEL_ENTRIES),
        BadInput("model_tampered.qbdi", "one tensor byte changed after saving",
                 _model(_flip_byte), MODEL_ENTRIES),
        BadInput("model_pickle_code.qbdi", "tensors replaced by a pickle that runs code "
                 "(checksum updated to match)", _model(_code_payload("PWNED_zip")),
                 MODEL_ENTRIES, marker="PWNED_zip"),
        BadInput("model_pickle_code_legacy.qbdi", "old-style pickle that runs code "
                 "(checksum updated to match)", _model(_code_payload("PWNED_legacy", True)),
                 MODEL_ENTRIES, marker="PWNED_legacy"),
        BadInput("model_bare_torch_pickle.qbdi", "a torch.save pickle with code, no header",
                 _bare_pickle("PWNED_bare"), MODEL_ENTRIES, marker="PWNED_bare"),
        BadInput("model_bare_torch_pickle.pt", "a .pt file with code in its pickle",
                 _bare_pickle("PWNED_pt"), MODEL_ENTRIES, marker="PWNED_pt"),
        BadInput("model_version_99.qbdi", "format version 99 (from the future)",
                 _model(version(99)), MODEL_ENTRIES),
        BadInput("model_version_text.qbdi", "format version 'one'", _model(version("one")),
                 MODEL_ENTRIES),
        # (improvising from a 3/4 model alone is legal: it improvises in 3/4)
        BadInput("model_other_grid.qbdi", "trained on a 3/4 grid", _model(_other_grid),
                 ("query-model", "sweep-model", "train-resume")),
        BadInput("model_header_not_json.qbdi", "header line is not JSON",
                 _write(b"QBDI-MODEL\n{not json at all\n" + b"\x00" * 64), MODEL_ENTRIES),
        BadInput("model_header_endless.qbdi", "2 MB header without an end",
                 _write(b"QBDI-MODEL\n" + b"{" * (2 << 20)), MODEL_ENTRIES),
        BadInput("model_header_not_object.qbdi", "header is a JSON list",
                 _write(b'QBDI-MODEL\n["qbdi-model", 1]\n'), MODEL_ENTRIES),
        BadInput("model_config_unknown_field.qbdi", "config field unknown to this version",
                 _model(_header_edit(unknown_field)), MODEL_ENTRIES),
        BadInput("model_config_huge.qbdi", "config asks for a 2-billion-unit hidden layer "
                 "(header edited; tensors untouched)", _model(_header_edit(huge)),
                 MODEL_ENTRIES),
        BadInput("model_payload_list.qbdi", "tensors stored as a list, not a table",
                 _model(_retensor(lambda t: list(t.values()))), MODEL_ENTRIES),
        BadInput("model_payload_wrong_shapes.qbdi", "tensors of the wrong shapes",
                 _model(_retensor(lambda t: {k: v[..., :1].clone() for k, v in t.items()})),
                 MODEL_ENTRIES),
        BadInput("model_directory.qbdi", "a folder named like a model", _directory,
                 MODEL_ENTRIES),
    ]


@functools.lru_cache(maxsize=1)
def cases() -> tuple[BadInput, ...]:
    """Every bad input, in a stable order."""
    return tuple(_midi_cases() + _xml_cases() + _mxl_cases() + _format_cases()
                 + _model_cases())


def write_good_files(folder: Path) -> dict[str, Path]:
    """The good partners: a MusicXML and a MIDI query, and a tiny model."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {GOOD_XML: folder / GOOD_XML, GOOD_MIDI: folder / GOOD_MIDI,
           GOOD_MODEL: folder / GOOD_MODEL}
    out[GOOD_XML].write_text(musicxml_text(), encoding="utf-8")
    out[GOOD_MIDI].write_bytes(good_midi_bytes())
    out[GOOD_MODEL].write_bytes(good_model_bytes())
    return out


def generate(folder: str | Path, only: set[str] | None = None) -> dict[str, Path]:
    """Write every case (or only the named ones) and the good files into ``folder``.

    Returns file name -> path. Each case gets its own subfolder (``folder/<stem>/<name>``)
    so that files a case drags along (a DTD, a marker it must never create) stay with it.
    """
    folder = Path(folder)
    paths = write_good_files(folder)
    for case in cases():
        if only is not None and case.name not in only:
            continue
        sub = folder / case.name.replace(".", "_")
        sub.mkdir(parents=True, exist_ok=True)
        target = sub / case.name
        case.build(target, sub)
        paths[case.name] = target
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="folder to write the bad inputs into")
    args = parser.parse_args(argv)
    paths = generate(args.out)
    by_case = {c.name: c for c in cases()}
    for name, path in paths.items():
        case = by_case.get(name)
        problem = case.problem if case else "good partner file"
        size = path.stat().st_size if path.is_file() else 0
        print(f"{path}  ({size} bytes): {problem}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
