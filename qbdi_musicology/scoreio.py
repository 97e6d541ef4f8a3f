"""Reading score files safely, in every format music21 reads that a theorist brings.

MIDI, MusicXML (``.musicxml``, ``.xml``, ``.mxl``; any declared encoding), Humdrum
``**kern``, ABC, MEI and RomanText; MuseScore files are checked and refused with advice.

Score files come from the internet, students and old disks, so every file is checked
before music21 sees it, and every problem becomes one clear :class:`InputError`
(the text formats are checked in :mod:`qbdi_musicology.formats`):

* an empty file, a file that is not what its name says, a truncated or corrupt MIDI file;
* MusicXML with entity declarations (a classic way to make an XML reader fetch other files
  or expand a few bytes into gigabytes): entities are never resolved and such a file is
  refused; no DTD is loaded and nothing is fetched from the network;
* an ``.mxl`` archive whose content would expand past a size limit (a "zip bomb"): both the
  sizes the archive declares and the bytes actually read are checked;
* a MIDI file with only drums (nothing to put on a pitch grid);
* absurd lengths (a 100,000-bar file): refused before parsing, with the limit as a
  parameter;
* a file music21 takes too long to read: refused after ``max_read_seconds`` of CPU time.

This module reads files; naming pieces (``corpus:NAME/PIECE``, ``FILE.abc#N``) is the
layer above, :mod:`qbdi_musicology.pieces`.

Example::

    score = load_score("vf_no1.mid")                  # a music21 Score
    score = load_score("folk.abc", tune=3)            # tune X:3 of an ABC file
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import signal
import threading
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError
from .formats import (KNOWN_SUFFIXES, MIDI_SUFFIXES, MXL_SUFFIXES, SCORE_SUFFIXES,
                      XML_SUFFIXES, abc_tune, check_humdrum, check_romantext, decode_xml,
                      format_of)
from .gcpause import without_gc_pauses

log = logging.getLogger(__name__)

__all__ = ["Limits", "DEFAULT_LIMITS", "load_score", "check_midi",
           "check_musicxml", "check_mei", "unpack_mxl", "SCORE_SUFFIXES", "MIDI_SUFFIXES",
           "XML_SUFFIXES", "MXL_SUFFIXES"]


@dataclass(frozen=True)
class Limits:
    """Size limits for one score file; raise them for genuinely huge scores.

    ``max_bytes``: size of the file on disk; ``max_midi_bytes``: size of a MIDI file (each
    MIDI event becomes a Python object of ~100 bytes while it is checked, so 4 MB of MIDI can
    cost a few hundred MB of memory; real piano MIDI files are well under 1 MB);
    ``max_unpacked_bytes``: total content of an ``.mxl`` archive once unpacked;
    ``max_bars``: bars (quarter notes / beats per bar for MIDI, ``<measure>`` elements for
    MusicXML, MEI and ABC, barlines for Humdrum); ``max_notes``: note events;
    ``max_tracks``: MIDI tracks, Humdrum spines, ABC voices (music21 makes a part of each);
    ``max_tempo_changes``: tempo events in a MIDI file (a performed piece with a tempo map
    has a few thousand at most); ``max_read_seconds``: CPU seconds music21 may spend
    building the score once the file has passed the checks (the largest piece of music21's
    own corpus needs well under a minute).
    """

    max_bytes: int = 32 * 1024 * 1024
    max_midi_bytes: int = 4 * 1024 * 1024
    max_tracks: int = 256
    max_tempo_changes: int = 20_000
    max_unpacked_bytes: int = 64 * 1024 * 1024
    max_bars: int = 5_000
    max_notes: int = 500_000
    max_read_seconds: float = 120.0


DEFAULT_LIMITS = Limits()


def _read_bytes(path: Path, limits: Limits) -> bytes:
    if not path.exists():
        raise InputError(f"{path}: no such file; check the path (folders are corpora: use "
                         "'qbdi corpus info FOLDER')")
    if path.is_dir():
        raise InputError(f"{path} is a folder, not a score file; give one score file "
                         "(.mid, .musicxml, .mxl, .krn, .abc, .mei...), or use it as a corpus")
    size = path.stat().st_size
    if size == 0:
        raise InputError(f"{path} is empty (0 bytes); re-export it from your notation program")
    if size > limits.max_bytes:
        raise InputError(f"{path} is {size / 2**20:.1f} MB, over the {limits.max_bytes / 2**20:.0f}"
                         " MB limit for one score; raise max_bytes if the file is genuine")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the file ({exc.strerror})") from exc


# ---------------------------------------------------------------------------------- MIDI


#: MIDI messages that matter for a score: notes, instruments, meter, key, names. Everything
#: else (controllers, pitch bends, lyrics, markers, system exclusive, later tempo changes)
#: is dropped before music21 reads the file: it does not change the notes on the grid, and
#: an absurd tempo map or controller flood can make music21 take minutes.
_KEPT_MIDI = frozenset(("note_on", "note_off", "program_change", "time_signature",
                        "key_signature", "track_name", "instrument_name", "end_of_track"))


def check_midi(data: bytes, where: str, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """Refuse bytes that are not a complete MIDI file with pitched notes of sane length.

    Returns the file reduced to what a score needs (see ``_KEPT_MIDI``: notes, programs,
    meter, key, names and the first tempo), which is what music21 then reads.

    Example: a 100,000-bar MIDI file is refused with "about 100000 bars, over the limit of
    5000 bars" before music21 builds a single measure.
    """
    import mido

    if len(data) > limits.max_midi_bytes:
        raise InputError(f"{where}: {len(data) / 2**20:.1f} MB is over the "
                         f"{limits.max_midi_bytes / 2**20:.0f} MB limit for a MIDI file; raise "
                         "max_midi_bytes if the file is genuine")
    if not data.startswith(b"MThd"):
        raise InputError(f"{where} is not a MIDI file (it does not start with the MIDI "
                         "header 'MThd'); check that the file name matches its content")
    try:
        midi = mido.MidiFile(file=io.BytesIO(data))
    except (EOFError, OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise InputError(f"{where}: the MIDI file is truncated or corrupt ({exc}); "
                         "re-export it or remove it from the corpus") from exc
    if midi.type == 2:
        raise InputError(f"{where}: MIDI type 2 (independent sequences) is not supported; "
                         "save it as type 0 or 1")
    tpb = midi.ticks_per_beat
    if not tpb or tpb <= 0:
        raise InputError(f"{where}: the MIDI header gives {tpb} ticks per quarter note (SMPTE "
                         "timing or a broken header); re-export it with metrical timing")
    if len(midi.tracks) > limits.max_tracks:
        raise InputError(f"{where}: {len(midi.tracks)} tracks, over the limit of "
                         f"{limits.max_tracks}; merge tracks or raise max_tracks")
    beats_per_bar = 4.0
    pitched = drums = 0
    last_tick = 0
    clean = mido.MidiFile(type=midi.type, ticks_per_beat=tpb)
    tempo_kept = False
    tempos = 0
    for track in midi.tracks:
        tick = 0
        carry = 0  # ticks of dropped messages, added to the next kept one
        kept = mido.MidiTrack()
        for msg in track:
            tick += msg.time
            carry += msg.time
            keep = msg.type in _KEPT_MIDI
            if msg.type == "note_on" and msg.velocity > 0:
                if msg.channel == 9:  # General MIDI channel 10: the drum kit
                    drums += 1
                else:
                    pitched += 1
            elif msg.type == "time_signature":
                if msg.numerator <= 0 or msg.denominator <= 0:
                    raise InputError(f"{where}: time signature {msg.numerator}/"
                                     f"{msg.denominator} at tick {tick} is not a meter; "
                                     "re-export the file")
                if tick == 0:
                    beats_per_bar = msg.numerator * 4.0 / msg.denominator
            elif msg.type == "set_tempo":
                tempos += 1
                if msg.tempo <= 0:
                    raise InputError(f"{where}: a tempo of {msg.tempo} microseconds per "
                                     f"quarter note at tick {tick} is not a tempo; the file is "
                                     "corrupt, re-export it")
                if tempos > limits.max_tempo_changes:
                    raise InputError(f"{where}: more than {limits.max_tempo_changes} tempo "
                                     "changes; the tempo map is absurd (raise "
                                     "max_tempo_changes if it is genuine)")
                if not tempo_kept:
                    keep = tempo_kept = True
            if keep:
                kept.append(msg.copy(time=carry))
                carry = 0
        last_tick = max(last_tick, tick)
        clean.tracks.append(kept)
    if pitched + drums > limits.max_notes:
        raise InputError(f"{where}: {pitched + drums} notes, over the limit of "
                         f"{limits.max_notes}; raise max_notes if the file is genuine")
    bars = last_tick / tpb / beats_per_bar
    if bars > limits.max_bars:
        raise InputError(f"{where}: about {bars:.0f} bars, over the limit of {limits.max_bars} "
                         "bars; cut the file or raise max_bars")
    if pitched == 0 and drums:
        raise InputError(f"{where}: only percussion (MIDI channel 10) and no pitched notes; "
                         "there is nothing to put on a pitch grid")
    if pitched == 0:
        raise InputError(f"{where}: the MIDI file has no notes")
    buf = io.BytesIO()
    clean.save(file=buf)
    return buf.getvalue()


# ------------------------------------------------------------------------------ MusicXML


_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)


def _safe_xml_root(data: bytes, where: str):
    """The root element of XML bytes parsed without DTD, entities or network.

    Any entity declaration or reference is refused (also when the file is UTF-16, where the
    bytes of ``<!ENTITY`` are spread out); the encoding comes from the byte-order mark or
    the XML declaration, as lxml reads it.
    """
    from lxml import etree

    if _ENTITY_DECL.search(data):
        raise InputError(f"{where}: the XML declares entities (<!ENTITY ...>), which can read "
                         "other files or blow up memory; it is refused. Re-export the score "
                         "from your notation program")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=False, remove_comments=True)
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise InputError(f"{where}: not well-formed XML ({exc}); re-export the score") from exc
    tree = root.getroottree()
    dtd = tree.docinfo.internalDTD
    if dtd is not None and list(dtd.iterentities()):
        raise InputError(f"{where}: the XML declares entities in its DOCTYPE; it is refused")
    if any(isinstance(node, etree._Entity) for node in root.iter()):
        raise InputError(f"{where}: the XML uses entity references; it is refused")
    return root


def check_musicxml(data: bytes, where: str, limits: Limits = DEFAULT_LIMITS) -> None:
    """Refuse XML with entity declarations, that is not MusicXML, or with too many bars.

    The check parses with lxml without loading any DTD, resolving any entity or touching
    the network. A normal MusicXML ``<!DOCTYPE score-partwise PUBLIC ...>`` line is fine;
    a DOCTYPE that declares entities (``<!ENTITY x SYSTEM "file:///etc/passwd">``) is not.
    """
    from lxml import etree

    root = _safe_xml_root(data, where)
    tag = etree.QName(root).localname
    if tag not in ("score-partwise", "score-timewise"):
        hint = {"mei": "; an MEI file must be named .mei",
                "museScore": "; a MuseScore file must be named .mscx"}.get(tag, "")
        raise InputError(f"{where}: XML root <{tag}> is not a MusicXML score "
                         f"(<score-partwise> or <score-timewise>){hint}")
    declared = {el.get("id") for el in root.iter("score-part")}
    used = {el.get("id") for el in root.iter("part")}
    if used - declared:
        raise InputError(f"{where}: part(s) {', '.join(sorted(map(str, used - declared)))} "
                         "missing from <part-list>; the file is inconsistent, re-export it")
    if tag == "score-partwise":
        measures = max((sum(1 for _ in part.iterchildren("measure"))
                        for part in root.iterchildren("part")), default=0)
    else:
        measures = sum(1 for _ in root.iterchildren("measure"))
    if measures > limits.max_bars:
        raise InputError(f"{where}: {measures} bars, over the limit of {limits.max_bars} bars; "
                         "cut the score or raise max_bars")
    _check_time_values(root, where)
    notes = sum(1 for _ in root.iter("note"))
    if notes > limits.max_notes:
        raise InputError(f"{where}: {notes} notes, over the limit of {limits.max_notes}; "
                         "raise max_notes if the file is genuine")


def _check_time_values(root, where: str) -> None:
    """Refuse divisions, durations and time signatures that cannot measure time."""
    def number(el) -> float | None:
        try:
            return float((el.text or "").strip())
        except ValueError:
            return None

    for el in root.iter("divisions"):
        value = number(el)
        if value is None or value <= 0:
            raise InputError(f"{where}: <divisions>{el.text}</divisions> (line {el.sourceline}) "
                             "is not a positive number, so no note has a length; re-export it")
    for el in root.iter("duration"):
        value = number(el)
        if value is None or value < 0:
            raise InputError(f"{where}: <duration>{el.text}</duration> (line {el.sourceline}) "
                             "is not a length; re-export the score")
    for time_el in root.iter("time"):
        for tag in ("beats", "beat-type"):
            for el in time_el.iter(tag):
                parts = [p.strip() for p in (el.text or "").split("+")]
                if not all(p.isdigit() and int(p) > 0 for p in parts):
                    raise InputError(f"{where}: time signature <{tag}>{el.text}</{tag}> (line "
                                     f"{el.sourceline}) is not a meter; re-export the score")


# ----------------------------------------------------------------------------------- MEI


def check_mei(data: bytes, where: str, limits: Limits = DEFAULT_LIMITS) -> None:
    """Refuse MEI with entities, that is not MEI, or with too many bars, notes or staves.

    The same safe parse as MusicXML (no DTD, no entity, no network); then ``<measure>``,
    ``<note>`` and ``<staffDef>`` elements are counted against the limits.

    Example: an MEI file whose DOCTYPE declares ``<!ENTITY x SYSTEM "file:///etc/passwd">``
    is refused unread.
    """
    from lxml import etree

    root = _safe_xml_root(data, where)
    tag = etree.QName(root).localname
    if tag != "mei":
        raise InputError(f"{where}: XML root <{tag}> is not an MEI document (<mei>)"
                         + ("; a MusicXML file must be named .musicxml"
                            if tag.startswith("score-") else ""))
    measures = sum(1 for _ in root.iter("{*}measure"))
    if measures > limits.max_bars:
        raise InputError(f"{where}: {measures} bars, over the limit of {limits.max_bars} bars; "
                         "cut the score or raise max_bars")
    notes = sum(1 for _ in root.iter("{*}note"))
    if notes > limits.max_notes:
        raise InputError(f"{where}: {notes} notes, over the limit of {limits.max_notes}; "
                         "raise max_notes if the file is genuine")
    staves = sum(1 for _ in root.iter("{*}staffDef"))
    if staves > limits.max_tracks:
        raise InputError(f"{where}: {staves} staves, over the limit of {limits.max_tracks}; "
                         "raise max_tracks if the file is genuine")
    if not notes:
        raise InputError(f"{where}: the MEI document holds no <note>; there is nothing to read")


# ------------------------------------------------------------------------------ archives


def unpack_mxl(data: bytes, where: str, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """The MusicXML text inside an ``.mxl`` archive, read within the unpacked-size limit.

    The archive's own size claims are checked first; then the root file is read in chunks
    and reading stops as soon as the limit is passed (a lying archive cannot get further).
    """
    return _unpack(data, where, limits, ".mxl", (".xml", ".musicxml"))


def _unpack(data: bytes, where: str, limits: Limits, kind: str,
            suffixes: tuple[str, ...]) -> bytes:
    """The score file inside a zip archive (``.mxl`` or ``.mscz``), within the zip rules.

    The score is the one ``META-INF/container.xml`` names, else the first member ending
    in one of ``suffixes``.
    """
    from lxml import etree

    limit = limits.max_unpacked_bytes
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise InputError(f"{where}: not a valid {kind} (zip) archive ({exc}); re-export it") \
            from exc
    with archive:
        infos = archive.infolist()
        for info in infos:
            name = info.filename
            if name.startswith(("/", "\\")) or ".." in name.replace("\\", "/").split("/") \
                    or (len(name) > 1 and name[1] == ":"):
                raise InputError(f"{where}: the archive holds a file named {name!r}, outside "
                                 "the archive's own folder; it is refused")
            if info.flag_bits & 0x1:
                raise InputError(f"{where}: {name} in the archive is encrypted; export the "
                                 "score again without a password")
        declared = sum(i.file_size for i in infos)
        if declared > limit:
            raise InputError(f"{where}: the archive unpacks to {declared / 2**20:.0f} MB, over "
                             f"the {limit / 2**20:.0f} MB limit (a zip bomb?); it is refused")
        names = [i.filename for i in infos]
        root_name = None
        if "META-INF/container.xml" in names:
            container = _read_member(archive, "META-INF/container.xml", 1 << 20, where)
            check_safe_xml(container, where + ":META-INF/container.xml")
            parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
            try:
                croot = etree.fromstring(container, parser=parser)
            except etree.XMLSyntaxError as exc:
                raise InputError(f"{where}: broken META-INF/container.xml ({exc})") from exc
            for el in croot.iter():
                if etree.QName(el).localname == "rootfile" and el.get("full-path"):
                    root_name = el.get("full-path")
                    break
        if root_name is None:
            candidates = [n for n in names if n.lower().endswith(suffixes)
                          and not n.startswith("META-INF/")]
            if not candidates:
                raise InputError(f"{where}: the {kind} archive holds no "
                                 f"{' or '.join(suffixes)} file")
            root_name = candidates[0]
        if root_name not in names:
            raise InputError(f"{where}: the {kind} archive names {root_name!r} as its score, "
                             "but does not contain it")
        return _read_member(archive, root_name, limit, where)


def _read_member(archive: zipfile.ZipFile, name: str, limit: int, where: str) -> bytes:
    chunks = []
    total = 0
    try:
        with archive.open(name) as fh:
            while True:
                chunk = fh.read(1 << 16)
                if not chunk:
                    break
                total += len(chunk)
                if total > limit:
                    raise InputError(
                        f"{where}: {name} unpacks past the {limit / 2**20:.0f} MB limit "
                        "(a zip bomb?); it is refused")
                chunks.append(chunk)
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, RuntimeError,
            ValueError) as exc:
        raise InputError(f"{where}: cannot unpack {name} ({exc}); re-export the file") from exc
    return b"".join(chunks)


def check_safe_xml(data: bytes, where: str) -> None:
    """Refuse any XML that declares entities (used for the .mxl container file)."""
    if _ENTITY_DECL.search(data):
        raise InputError(f"{where}: the XML declares entities (<!ENTITY ...>); it is refused")


# ----------------------------------------------------------------------------- MuseScore


def check_musescore(data: bytes, where: str, limits: Limits = DEFAULT_LIMITS, *,
                    zipped: bool) -> None:
    """Check a MuseScore file (``.mscz``: zip rules; ``.mscx``: safe XML), then refuse it.

    music21 has no reader for MuseScore's own format, so a genuine file is refused with the
    advice to export MusicXML; a hostile one (a zip bomb, entities) is refused for what it
    is, without unpacking or expanding anything.
    """
    from lxml import etree

    if zipped:
        if not data.startswith(b"PK"):
            raise InputError(f"{where} is not an .mscz archive (no zip header); if it is "
                             "uncompressed MuseScore, name it .mscx")
        data = _unpack(data, where, limits, ".mscz", (".mscx",))
    root = _safe_xml_root(data, where)
    tag = etree.QName(root).localname
    if tag != "museScore":
        raise InputError(f"{where}: XML root <{tag}> is not a MuseScore score (<museScore>)")
    version = root.get("version")
    raise InputError(f"{where}: music21 cannot read MuseScore's own format"
                     + (f" (MuseScore {version} file)" if version else "")
                     + "; in MuseScore choose File > Export > MusicXML and give the .musicxml "
                       "or .mxl file")


# --------------------------------------------------------------------------------- entry


#: music21's MIDI reader groups notes that start together into one chord when their ends
#: differ by no more than its quantisation step, and gives every note the longest length.
#: Quantising to 32nds (and sextuplets) keeps notes a sixteenth apart in length as separate
#: notes; the piano roll then places every onset and end on its own grid.
_READER_OPTIONS = {"midi": {"quarterLengthDivisors": (8, 6)}}


class _ReadTooLong(BaseException):
    """Raised inside music21 when the CPU time limit is reached (not an ``Exception``, so
    that no ``except Exception`` inside music21 can swallow it)."""


@contextlib.contextmanager
def _cpu_time_limit(seconds: float):
    """Raise :class:`_ReadTooLong` after ``seconds`` of CPU time (a ``SIGPROF`` timer).

    Only in the main thread and when no other profiling timer runs; elsewhere the work is
    bounded by the size, bar and note limits alone.
    """
    usable = (seconds and seconds > 0 and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread()
              and signal.getitimer(signal.ITIMER_PROF) == (0.0, 0.0))
    if not usable:
        yield
        return
    armed = [True]

    def on_timer(signum, frame):
        if armed[0]:
            raise _ReadTooLong()

    previous = signal.signal(signal.SIGPROF, on_timer)
    # The timer repeats every 0.1 s once it has fired: an exception raised where Python
    # ignores it (a garbage-collector callback, a __del__) is raised again a moment later.
    signal.setitimer(signal.ITIMER_PROF, seconds, 0.1)
    try:
        yield
    finally:
        armed[0] = False
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


def _checked_text(path: Path, data: bytes, fmt: str, limits: Limits,
                  tune: int | None, announce_tune: bool) -> tuple[bytes | str, dict]:
    """The checked content music21 is given for a file of format ``fmt``, and notes on it."""
    where = str(path)
    suffix = path.suffix.lower()
    if fmt == "midi":
        return check_midi(data, where, limits), {}
    if fmt == "musicxml":
        if suffix in MXL_SUFFIXES:
            if not data.startswith(b"PK"):
                raise InputError(f"{where} is not an .mxl archive (no zip header); if it is "
                                 "plain MusicXML, name it .musicxml")
            data = unpack_mxl(data, where, limits)
        check_musicxml(data, where, limits)
        return decode_xml(data, where), {}
    if fmt == "mei":
        check_mei(data, where, limits)
        return decode_xml(data, where), {}
    if fmt == "humdrum":
        return check_humdrum(data, where, limits), {}
    if fmt == "romantext":
        return check_romantext(data, where, limits), {}
    if fmt == "abc":
        text, chosen = abc_tune(data, where, limits, number=tune)
        if tune is None and chosen.count > 1:
            log.log(logging.WARNING if announce_tune else logging.INFO,
                    "%s holds %d tunes; reading the first, %s (choose another with %s#N, "
                    "N its X: number)", where, chosen.count, chosen.describe(), path.name)
        return text, {"tune": chosen}
    if fmt == "musescore":
        check_musescore(data, where, limits, zipped=suffix == ".mscz")
    raise InputError(f"{where}: no reader for the {fmt} format")  # not reached


@without_gc_pauses
def load_score(path, *, limits: Limits = DEFAULT_LIMITS, tune: int | None = None,
               announce_tune: bool = True):
    """Read a score file into a music21 Score, after the safety checks.

    Formats (by suffix): MIDI, MusicXML (``.musicxml``, ``.xml``, ``.mxl``; any declared
    encoding), Humdrum ``**kern`` (``.krn``), ABC (``.abc``), MEI (``.mei``) and RomanText
    (``.rntxt``); MuseScore files (``.mscx``, ``.mscz``) are checked, then refused with the
    advice to export MusicXML. ``tune``: for an ABC file holding several tunes, the ``X:``
    number of the one to read (default: the first tune, with a warning that says so, or
    an info line with ``announce_tune=False``). The tune read is the score's
    ``metadata.number``.

    Every problem is an :class:`InputError` saying what, where and what to do; the file is
    read once, checked, and the checked bytes (never the file again) go to music21.

    Example: ``load_score("../shared/data/visions_fugitives/vf_no1.mid")`` gives the first
    of Prokofiev's *Visions fugitives* as a Score with its piano parts;
    ``load_score("han1.abc", tune=12)`` the twelfth song of an Essen collection file.
    """
    from music21 import converter, stream

    path = Path(path)
    where = str(path)
    suffix = path.suffix.lower()
    fmt = format_of(suffix)
    if fmt is None:
        raise InputError(f"{where}: unknown score format {suffix or '(no extension)'!r}; "
                         f"give one of {', '.join(KNOWN_SUFFIXES)}")
    if tune is not None and fmt != "abc":
        raise InputError(f"{where}: a tune number (#{tune}) only chooses among the tunes of "
                         "an ABC file; give the file without it")
    if tune is not None and (not isinstance(tune, int) or tune < 0):
        raise InputError(f"{where}: tune {tune!r} is not an X: number (0, 1, 2...)")
    data = _read_bytes(path, limits)
    content, notes = _checked_text(path, data, fmt, limits, tune, announce_tune)
    try:
        # music21 reports problems inside a measure as warnings on stderr; they become the
        # error below or a log line, never stray output in the middle of a command
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with _cpu_time_limit(limits.max_read_seconds):
                score = converter.parseData(content, format=fmt,
                                            **_READER_OPTIONS.get(fmt, {}))
        for w in caught:
            log.info("%s: music21: %s", where, w.message)
    except _ReadTooLong:
        raise InputError(f"{where}: music21 needed more than {limits.max_read_seconds:g} s "
                         "to read the file; cut it, or raise max_read_seconds if it is "
                         "genuine") from None
    except InputError:
        raise
    except Exception as exc:  # music21 raises many kinds; each is a broken file for the user
        raise InputError(f"{where}: music21 could not read the {fmt} ({type(exc).__name__}: "
                         f"{_one_line(exc)}); re-export the file or remove it from the "
                         "corpus") from exc
    if isinstance(score, stream.Opus):
        scores = list(score.scores)
        if not scores:
            raise InputError(f"{where}: the file holds no score")
        score = scores[0]
    if not isinstance(score, stream.Score):
        wrapped = stream.Score()
        wrapped.insert(0, score)
        score = wrapped
    _require_pitched_notes(score, where)
    if score.metadata is None:
        from music21 import metadata

        score.metadata = metadata.Metadata()
    chosen = notes.get("tune")
    if chosen is not None:
        if chosen.title and not score.metadata.title:
            score.metadata.title = chosen.title
        if chosen.number is not None:
            score.metadata.number = str(chosen.number)
    if not score.metadata.title:
        score.metadata.title = path.stem
    # later errors (a meter that does not fit the grid...) can then name the file
    score.metadata.filePath = str(path)
    return score


def _one_line(exc: BaseException, width: int = 200) -> str:
    """An exception's message on one line, cut to ``width`` characters."""
    text = " ".join(str(exc).split())
    return text if len(text) <= width else text[:width - 3] + "..."


def _require_pitched_notes(score, where: str) -> None:
    """Refuse a score without a pitched note that lasts, or with a pitch no MIDI key has.

    "Pitched and lasting" excludes rests, drums and grace notes. Pitches are checked in
    music21's pitch space (``ps``): its ``midi`` silently folds a C in octave 15 into 0-127.
    """
    from music21 import chord, note

    found = False
    for el in score.recurse().notes:
        if isinstance(el, note.Unpitched) or "PercussionChord" in el.classes:
            continue
        if not isinstance(el, (note.Note, chord.Chord)):
            continue
        for p in el.pitches:
            if not 0 <= p.ps <= 127:
                raise InputError(f"{where}: bar {el.measureNumber}: {p.nameWithOctave} is "
                                 "outside the MIDI range C-1 to G9; correct the note's octave")
        found = found or el.quarterLength > 0
    if not found:
        raise InputError(f"{where}: no pitched note with a duration (only rests, percussion or "
                         "zero-length notes); there is nothing to put on a pitch grid")
