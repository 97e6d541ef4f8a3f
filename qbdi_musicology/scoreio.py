"""Reading score files safely: MIDI, MusicXML and compressed MusicXML (.mxl).

Score files come from the internet, students and old disks, so every file is checked
before music21 sees it, and every problem becomes one clear :class:`InputError`:

* an empty file, a file that is not what its name says, a truncated or corrupt MIDI file;
* MusicXML with entity declarations (a classic way to make an XML reader fetch other files
  or expand a few bytes into gigabytes): entities are never resolved and such a file is
  refused; no DTD is loaded and nothing is fetched from the network;
* an ``.mxl`` archive whose content would expand past a size limit (a "zip bomb"): both the
  sizes the archive declares and the bytes actually read are checked;
* a MIDI file with only drums (nothing to put on a pitch grid);
* absurd lengths (a 100,000-bar file): refused before parsing, with the limit as a
  parameter.

Example::

    score = load_score("vf_no1.mid")                  # a music21 Score
    score = resolve_query("corpus:bach-chorales/bwv66.6")
"""

from __future__ import annotations

import io
import logging
import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError

log = logging.getLogger(__name__)

MIDI_SUFFIXES = (".mid", ".midi")
XML_SUFFIXES = (".musicxml", ".xml")
MXL_SUFFIXES = (".mxl",)
SCORE_SUFFIXES = MIDI_SUFFIXES + XML_SUFFIXES + MXL_SUFFIXES


@dataclass(frozen=True)
class Limits:
    """Size limits for one score file; raise them for genuinely huge scores.

    ``max_bytes``: size of the file on disk; ``max_midi_bytes``: size of a MIDI file (each
    MIDI event becomes a Python object of ~100 bytes while it is checked, so 4 MB of MIDI can
    cost a few hundred MB of memory; real piano MIDI files are well under 1 MB);
    ``max_unpacked_bytes``: total content of an ``.mxl`` archive once unpacked;
    ``max_bars``: bars (quarter notes / beats per bar for MIDI, ``<measure>`` elements for
    MusicXML); ``max_notes``: note events; ``max_tracks``: MIDI tracks (music21 makes a
    part of each); ``max_tempo_changes``: tempo events in a MIDI file (a performed piece
    with a tempo map has a few thousand at most).
    """

    max_bytes: int = 32 * 1024 * 1024
    max_midi_bytes: int = 4 * 1024 * 1024
    max_tracks: int = 256
    max_tempo_changes: int = 20_000
    max_unpacked_bytes: int = 64 * 1024 * 1024
    max_bars: int = 5_000
    max_notes: int = 500_000


DEFAULT_LIMITS = Limits()


def _read_bytes(path: Path, limits: Limits) -> bytes:
    if not path.exists():
        raise InputError(f"{path}: no such file; check the path (folders are corpora: use "
                         "'qbdi corpus info FOLDER')")
    if path.is_dir():
        raise InputError(f"{path} is a folder, not a score file; give one .mid/.musicxml/.mxl "
                         "file, or use it as a corpus")
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


def check_musicxml(data: bytes, where: str, limits: Limits = DEFAULT_LIMITS) -> None:
    """Refuse XML with entity declarations, that is not MusicXML, or with too many bars.

    The check parses with lxml without loading any DTD, resolving any entity or touching
    the network. A normal MusicXML ``<!DOCTYPE score-partwise PUBLIC ...>`` line is fine;
    a DOCTYPE that declares entities (``<!ENTITY x SYSTEM "file:///etc/passwd">``) is not.
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
    tag = etree.QName(root).localname
    if tag not in ("score-partwise", "score-timewise"):
        raise InputError(f"{where}: XML root <{tag}> is not a MusicXML score "
                         "(<score-partwise> or <score-timewise>)")
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


def unpack_mxl(data: bytes, where: str, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """The MusicXML text inside an ``.mxl`` archive, read within the unpacked-size limit.

    The archive's own size claims are checked first; then the root file is read in chunks
    and reading stops as soon as the limit is passed (a lying archive cannot get further).
    """
    from lxml import etree

    limit = limits.max_unpacked_bytes
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise InputError(f"{where}: not a valid .mxl (zip) archive ({exc}); re-export it") from exc
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
            candidates = [n for n in names if n.lower().endswith((".xml", ".musicxml"))
                          and not n.startswith("META-INF/")]
            if not candidates:
                raise InputError(f"{where}: the .mxl archive holds no MusicXML file")
            root_name = candidates[0]
        if root_name not in names:
            raise InputError(f"{where}: the .mxl archive names {root_name!r} as its score, "
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


# --------------------------------------------------------------------------------- entry


#: music21's MIDI reader groups notes that start together into one chord when their ends
#: differ by no more than its quantisation step, and gives every note the longest length.
#: Quantising to 32nds (and sextuplets) keeps notes a sixteenth apart in length as separate
#: notes; the piano roll then places every onset and end on its own grid.
_READER_OPTIONS = {"midi": {"quarterLengthDivisors": (8, 6)}, "musicxml": {}}


def load_score(path, *, limits: Limits = DEFAULT_LIMITS):
    """Read a MIDI, MusicXML or .mxl file into a music21 Score, after the safety checks.

    Every problem is an :class:`InputError` saying what, where and what to do; the file is
    read once, checked, and the checked bytes (never the file again) go to music21.

    Example: ``load_score("../shared/data/visions_fugitives/vf_no1.mid")`` gives the first
    of Prokofiev's *Visions fugitives* as a Score with its piano parts.
    """
    from music21 import converter, stream

    path = Path(path)
    where = str(path)
    suffix = path.suffix.lower()
    if suffix not in SCORE_SUFFIXES:
        raise InputError(f"{where}: unknown score format {suffix or '(no extension)'!r}; "
                         f"give one of {', '.join(SCORE_SUFFIXES)}")
    data = _read_bytes(path, limits)
    if suffix in MIDI_SUFFIXES:
        data = check_midi(data, where, limits)
        fmt = "midi"
    else:
        if suffix in MXL_SUFFIXES:
            if not data.startswith(b"PK"):
                raise InputError(f"{where} is not an .mxl archive (no zip header); if it is "
                                 "plain MusicXML, name it .musicxml")
            data = unpack_mxl(data, where, limits)
        check_musicxml(data, where, limits)
        fmt = "musicxml"
    try:
        # music21 reports problems inside a measure as warnings on stderr; they become the
        # error below or a log line, never stray output in the middle of a command
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            score = converter.parseData(data, format=fmt, **_READER_OPTIONS[fmt])
        for w in caught:
            log.info("%s: music21: %s", where, w.message)
    except InputError:
        raise
    except Exception as exc:  # music21 raises many kinds; each is a broken file for the user
        raise InputError(f"{where}: music21 could not read the {fmt} ({type(exc).__name__}: "
                         f"{exc}); re-export the file or remove it from the corpus") from exc
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
    if not score.metadata.title:
        score.metadata.title = path.stem
    # later errors (a meter that does not fit the grid...) can then name the file
    score.metadata.filePath = str(path)
    return score


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


def resolve_query(query: str, *, limits: Limits = DEFAULT_LIMITS, data_dir=None):
    """A score from a query string: ``corpus:NAME/PIECE`` or a file path.

    Example: ``resolve_query("corpus:bach-chorales/bwv66.6")`` is music21's chorale
    bwv 66.6; ``resolve_query("corpus:visions-fugitives/vf_no1")`` reads ``vf_no1.mid``
    from the Visions fugitives folder; ``resolve_query("my/piece.musicxml")`` reads a file.
    """
    text = str(query)
    if text.startswith("corpus:"):
        from .corpus import find_piece

        rest = text[len("corpus:"):]
        if "/" not in rest:
            raise InputError(f"query {text!r}: write corpus:NAME/PIECE, e.g. "
                             "corpus:bach-chorales/bwv66.6")
        name, piece = rest.split("/", 1)
        return load_score(find_piece(name, piece, data_dir=data_dir), limits=limits)
    return load_score(text, limits=limits)
