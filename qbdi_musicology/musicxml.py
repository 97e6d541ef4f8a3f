"""Write MusicXML (and MIDI) that validates and opens cleanly in MuseScore 3.

The document is built directly from the score by :mod:`qbdi_musicology.xmlscore` (several
times faster) whenever the score holds only what that builder writes, which is true of the
package's own scores; anything else is written by music21's exporter. music21 can write
MusicXML by itself, but a few of its habits break the files a theorist opens in MuseScore
3.2.3 or make them fail the MusicXML 4.0 schema. :func:`write_musicxml` works around each
of them, on a copy of the score (the input is never changed); the repairs made on the
written XML (chord kinds, tempo marks, ids, page size, provenance) apply to both roads:

* **chord kinds**: music21 writes some ``<kind>`` values the schema rejects (e.g.
  ``augmented-major-seventh``, ``diminished-ninth``). They are mapped to the nearest valid
  kind and the exact symbol is kept as the ``text`` MuseScore draws (``C+maj7``).
* **no chord**: music21 writes ``N.C.`` as a chord on the root C, which MuseScore draws as
  "CN.C.". It is written as a plain text direction "N.C." instead.
* **Roman numerals**: music21 exports ``RomanNumeral`` objects as sounding notes, and the 4.0
  ``<numeral>`` element is not read by MuseScore 3. They are written as lyrics under the
  first note they apply to, which MuseScore shows.
* **spurious naturals**: chord-symbol pitches take part in music21's accidental bookkeeping
  and cause naturals on notes. Accidentals are made with the chord symbols taken out.
* **tempo**: a tempo mark present in every part is drawn once per part; only one is kept
  per bar.
* **determinism**: the encoding date and random instrument ids are removed or renumbered, and
  ``.mxl`` archives carry fixed time stamps, so the same score gives the same bytes.
* **x.mxl deletes x.musicxml**: music21's own ``.mxl`` writer removes a ``.musicxml`` of the
  same name; this module builds the archive itself and writes through a temporary file.

Provenance (model, rate, seed, query title...) travels in
``<identification><miscellaneous><miscellaneous-field name="...">``: either custom metadata
of the score (:func:`set_score_fields`) or the ``fields`` argument.
:func:`read_musicxml_fields` reads them back.

Example::

    from music21 import corpus
    score = corpus.parse("bwv66.6")
    write_musicxml(score, "out/bwv66.mxl", fields={"rate": "8", "seed": "0"})
    read_musicxml_fields("out/bwv66.mxl")["rate"]   # '8'
"""

from __future__ import annotations

import copy
import io
import json
import logging
import math
import os
import threading
import weakref
import zipfile
from pathlib import Path
from typing import Any, Mapping

from .errors import InputError, OutputError
from .fileio import atomic_path
from .gcpause import without_gc_pauses

log = logging.getLogger(__name__)

#: The ``<kind>`` values of the MusicXML 4.0 schema.
VALID_KINDS = frozenset((
    "major", "minor", "augmented", "diminished", "dominant", "major-seventh",
    "minor-seventh", "diminished-seventh", "augmented-seventh", "half-diminished",
    "major-minor", "major-sixth", "minor-sixth", "dominant-ninth", "major-ninth",
    "minor-ninth", "dominant-11th", "major-11th", "minor-11th", "dominant-13th",
    "major-13th", "minor-13th", "suspended-second", "suspended-fourth", "Neapolitan",
    "Italian", "French", "German", "pedal", "power", "Tristan", "other", "none"))

#: music21 kinds outside the schema -> (valid kind, degrees). A degree is (value, alter,
#: type) as in MusicXML: ``C+maj7`` becomes ``Cmaj7`` with the fifth raised, which MuseScore
#: draws as "Cmaj7(#5)" (it ignores a kind's ``text``).
KIND_FIXES: dict[str, tuple[str, tuple[tuple[int, int, str], ...]]] = {
    "dominant-seventh": ("dominant", ()),
    "half-diminished-seventh": ("half-diminished", ()),
    "minor-major-seventh": ("major-minor", ()),
    "augmented-major-seventh": ("major-seventh", ((5, 1, "alter"),)),
    "augmented-ninth": ("dominant-ninth", ((5, 1, "alter"),)),
    "augmented-dominant-ninth": ("dominant-ninth", ((5, 1, "alter"),)),
    "augmented-major-ninth": ("major-ninth", ((5, 1, "alter"),)),
    "augmented-11th": ("dominant-11th", ((5, 1, "alter"),)),
    "augmented-major-11th": ("major-11th", ((5, 1, "alter"),)),
    "augmented-dominant-13th": ("dominant-13th", ((5, 1, "alter"),)),
    "augmented-major-13th": ("major-13th", ((5, 1, "alter"),)),
    "diminished-ninth": ("diminished-seventh", ((9, 0, "add"),)),
    "diminished-minor-ninth": ("diminished-seventh", ((9, -1, "add"),)),
    "diminished-11th": ("diminished-seventh", ((9, 0, "add"), (11, 0, "add"))),
    "half-diminished-ninth": ("half-diminished", ((9, 0, "add"),)),
    "half-diminished-minor-ninth": ("half-diminished", ((9, -1, "add"),)),
    "half-diminished-11th": ("half-diminished", ((9, 0, "add"), (11, 0, "add"))),
    "half-diminished-13th": ("half-diminished", ((9, 0, "add"), (13, 0, "add"))),
    "minor-major-ninth": ("major-minor", ((9, 0, "add"),)),
    "minor-major-11th": ("major-minor", ((9, 0, "add"), (11, 0, "add"))),
    "minor-major-13th": ("major-minor", ((9, 0, "add"), (13, 0, "add"))),
    "seventh-flat-five": ("dominant", ((5, -1, "alter"),)),
    "suspended-fourth-seventh": ("suspended-fourth", ((7, -1, "add"),)),
}

_MXL_MIMETYPE = b"application/vnd.recordare.musicxml"
_MXL_CONTAINER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<container><rootfiles><rootfile full-path="{name}" '
    'media-type="application/vnd.recordare.musicxml+xml"/></rootfiles></container>\n')
#: Fixed time stamp of every member of a written .mxl archive (determinism).
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
#: Custom-metadata keys music21 keeps for itself; not provenance.
_NOT_FIELDS = frozenset(("filePath", "fileFormat", "fileNumber", "corpusFilePath",
                         "software"))


# ----------------------------------------------------------------------------------------
# provenance fields


def field_text(value: Any) -> str:
    """Text of one provenance value: ``inf -> 'inf'``, ``8.0 -> '8'``, dicts as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def set_score_fields(score, fields: Mapping[str, Any]) -> None:
    """Record provenance ``fields`` in the score's metadata (custom entries).

    They are written as ``<miscellaneous-field>`` by :func:`write_musicxml`.
    Example: ``set_score_fields(improv, {"rate": 8, "seed": 0, "query": "bwv66.6"})``.
    """
    from music21 import metadata
    if score.metadata is None:
        score.metadata = metadata.Metadata()
    for name, value in fields.items():
        score.metadata.setCustom(str(name), field_text(value))


def score_fields(score) -> dict[str, str]:
    """The provenance fields recorded in a score's metadata (see :func:`set_score_fields`).

    Only custom entries count; music21's standard ones (title, file path...) do not.
    """
    md = getattr(score, "metadata", None)
    if md is None:
        return {}
    out: dict[str, str] = {}
    for name, value in md.all(skipContributors=True):
        if name in _NOT_FIELDS or md._isStandardUniqueName(name):
            continue
        out[name] = str(value)
    return out


def read_musicxml_fields(path: str | os.PathLike) -> dict[str, str]:
    """Read the ``<miscellaneous-field>`` entries of a ``.musicxml``/``.mxl`` file.

    The inverse of the ``fields`` written by :func:`write_musicxml`: values come back as text
    (``'8'``, ``'inf'``). A file that is not MusicXML raises :class:`InputError`.
    """
    root = _read_root(Path(path))
    out: dict[str, str] = {}
    for el in root.iterfind("identification/miscellaneous/miscellaneous-field"):
        name = el.get("name")
        if name:
            out[name] = el.text or ""
    return out


# ----------------------------------------------------------------------------------------
# scores built only to be written

#: Scores whose builder gave them to the writer (:func:`mark_write_only`): notated in place.
_WRITE_ONLY: "weakref.WeakSet[Any]" = weakref.WeakSet()
#: Scores already notated in place: written again as they are, with no second notation.
_PREPARED: "weakref.WeakSet[Any]" = weakref.WeakSet()


def mark_write_only(score):
    """Let the writer notate ``score`` itself rather than a copy; return the score.

    For a score made only to be written (an annotated score, the drift overview): copying
    it first, as the writer does for a score it does not own, would cost a third of the
    writing time for nothing. After the first write the score is notated (ties, beams,
    accidentals, Roman numerals as lyrics); it can be written again, to the same bytes, but
    should not be edited further. Example::

        annotated = mark_write_only(annotate_pair(query, improvisation, rate=8))
        musicxml_bytes(annotated)        # no defensive copy
    """
    _WRITE_ONLY.add(score)
    return score


# ----------------------------------------------------------------------------------------
# writing


def write_musicxml(score, path: str | os.PathLike, *, compressed: bool | None = None,
                   fields: Mapping[str, Any] | None = None, copy_score: bool = True,
                   writer: str = "auto") -> Path:
    """Write ``score`` as MusicXML 4.0 to ``path`` atomically and return the path.

    ``compressed=None`` chooses by suffix: ``.mxl`` is a compressed archive, anything else
    plain ``.musicxml``. ``fields`` (e.g. ``{"rate": 8, "seed": 0}``) are added to the
    score's own provenance fields. The score is not modified. Refuses to overwrite the file
    the score was read from (:class:`OutputError`). ``copy_score=False`` lets the writer
    notate the score itself instead of a copy: faster, for a score built only to be
    written. ``writer`` chooses how the document is made (see :func:`musicxml_bytes`).

    Example: ``write_musicxml(corpus.parse("bwv66.6"), "bwv66.musicxml")``.
    """
    path = Path(path)
    _refuse_input(score, path)
    if compressed is None:
        compressed = path.suffix.lower() == ".mxl"
    xml = musicxml_bytes(score, fields=fields, copy_score=copy_score, writer=writer)
    if compressed:
        inner = "score.musicxml"  # fixed, so the bytes do not depend on the file name
        data = _mxl_bytes(xml, inner)
    else:
        data = xml
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    log.info("wrote %s (%d bytes)", path, len(data))
    return path


def write_midi(score, path: str | os.PathLike) -> Path:
    """Write ``score`` as a standard MIDI file atomically and return the path.

    Chord symbols and Roman numerals are analysis, not music: they are left out, so the file
    sounds exactly the notes of the score. Example: ``write_midi(score, "bwv66.mid")``.
    """
    from music21 import harmony, roman
    path = Path(path)
    _refuse_input(score, path)
    work = _copy_score(score)
    for el in list(work.recurse().getElementsByClass((harmony.Harmony, roman.RomanNumeral))):
        el.activeSite.remove(el)
    _chords_to_notes(work)
    work = _joined_ties(work)
    try:
        with atomic_path(path) as tmp:
            work.write("midi", fp=str(tmp))
    except OutputError:
        raise
    except Exception as exc:  # music21 raises many types for unwritable content
        raise OutputError(f"cannot write MIDI {path}: {exc}") from exc
    return path


def _chords_to_notes(work) -> None:
    """Replace every chord by its notes, in place, each keeping its own tie.

    music21 joins tied notes per chord when it writes MIDI, so in a chord where only one
    note is held into the next step every note would sound as long as the held one
    (C1 a sixteenth beside C#1 an eighth would both last an eighth). As single notes each
    pitch's ties are joined on their own.
    """
    from music21 import chord, note

    for ch in list(work.recurse().getElementsByClass(chord.Chord)):
        if isinstance(ch, note.NotRest) and not isinstance(ch, chord.Chord):
            continue
        site = ch.activeSite
        offset = ch.getOffsetBySite(site)
        for member in ch.notes:
            single = note.Note(member.pitch, quarterLength=ch.quarterLength)
            single.tie = member.tie  # a chord-level tie is set on its notes by music21
            single.volume.velocity = (member.volume.velocity
                                      if member.volume.velocity is not None
                                      else ch.volume.velocity)
            site.insert(offset, single)
        site.remove(ch)


def _joined_ties(work):
    """A score of flat parts whose tied notes are joined into single notes, pitch by pitch.

    music21's own ``stripTies`` mis-joins ties that interleave (C# tied from step 0 into
    step 1 while C is tied from step 1 into step 2), so the joining is done here: a note
    tied onward stays open for its pitch, and the note that continues it at the moment it
    ends is added to its length instead of sounding again.
    """
    from music21 import note, stream

    joined = stream.Score()
    if work.metadata is not None:
        joined.metadata = work.metadata
    for part in (work.parts if work.hasPartLikeStreams() else [work]):
        flat = part.flatten()
        out = stream.Part(id=part.id)
        open_notes: dict[float, tuple[note.Note, float]] = {}  # pitch -> (note, its start)
        for el in flat:
            if not isinstance(el, note.Note):
                if not isinstance(el, note.GeneralNote):
                    out.insert(el.getOffsetBySite(flat), el)
                continue
            offset = float(el.getOffsetBySite(flat))
            kind = el.tie.type if el.tie is not None else None
            held = open_notes.get(el.pitch.ps)
            if kind in ("stop", "continue") and held is not None and \
                    abs(held[1] + float(held[0].quarterLength) - offset) < 1e-9:
                held[0].quarterLength = float(held[0].quarterLength) + float(el.quarterLength)
                if kind == "stop":
                    del open_notes[el.pitch.ps]
                continue
            single = note.Note(el.pitch, quarterLength=el.quarterLength)
            single.volume.velocity = el.volume.velocity
            out.insert(offset, single)
            if kind in ("start", "continue"):
                open_notes[el.pitch.ps] = (single, offset)
            else:
                open_notes.pop(el.pitch.ps, None)
        joined.insert(0, out)
    return joined


#: The writers :func:`musicxml_bytes` can use.
WRITERS = ("auto", "direct", "music21")


@without_gc_pauses
def musicxml_bytes(score, *, fields: Mapping[str, Any] | None = None,
                   copy_score: bool = True, writer: str = "auto") -> bytes:
    """The MusicXML 4.0 document (UTF-8 bytes) that :func:`write_musicxml` writes.

    ``writer="auto"`` (the default) builds the document directly
    (:mod:`qbdi_musicology.xmlscore`, several times faster) when the score holds only what
    that builder writes, and otherwise uses music21's exporter; ``"direct"`` insists on the
    direct builder (:class:`OutputError` if it cannot), ``"music21"`` always uses
    music21's exporter. Both give the same music: notes, durations, ties, chord symbols,
    numerals, colours and metadata.
    """
    from music21 import stream
    if writer not in WRITERS:
        raise InputError(f"unknown MusicXML writer {writer!r}; choose one of "
                         + ", ".join(WRITERS))
    if not isinstance(score, stream.Stream):
        raise InputError(f"cannot write {type(score).__name__} as MusicXML: not a music21 "
                         "stream; parse the file with music21 first")
    all_fields = score_fields(score)
    for name, value in (fields or {}).items():
        all_fields[str(name)] = field_text(value)
    if writer != "music21":
        from . import xmlscore
        try:
            root = xmlscore.build(score)
        except xmlscore.Unsupported as why:
            if writer == "direct":
                raise OutputError(f"the direct MusicXML writer cannot write this score: "
                                  f"{why}") from None
            log.debug("written by music21's exporter: the score holds %s", why)
        else:
            return _finish(root, None, all_fields, has_composer=_has_composer(score))
    return _music21_bytes(score, all_fields, copy_score)


def _music21_bytes(score, all_fields: Mapping[str, str], copy_score: bool) -> bytes:
    """The document as music21's exporter writes it, notated on a copy and repaired."""
    from music21.musicxml.m21ToXml import GeneralObjectExporter
    if score in _PREPARED:
        work = score  # notated by an earlier write; notating it again is not needed
    elif score in _WRITE_ONLY or not copy_score:
        work = _prepare(score, copy_score=False)
        if work is score:
            _WRITE_ONLY.discard(score)
            _PREPARED.add(score)
    else:
        work = _prepare(score, copy_score=True)
    exporter = GeneralObjectExporter(work)
    exporter.makeNotation = False
    try:
        with _no_sorted_chord_copies():
            raw = exporter.parse()
    except Exception as exc:
        raise OutputError(f"music21 could not export the score as MusicXML: {exc}") from exc
    return _fix_xml(raw, all_fields, has_composer=_has_composer(score))


_EXPORT_LOCK = threading.Lock()


class _no_sorted_chord_copies:
    """While exporting, ``Chord.sortAscending()`` without ``inPlace`` returns the chord itself.

    music21's exporter calls ``c.sortAscending()`` for every chord and throws the sorted
    copy away (the notes are written in the chord's own order), so the deep copy it makes
    is wasted: about a third of the export time of a piano score. Nothing else of music21
    calls it during an export, and the lock keeps other threads' exports apart.
    """

    def __enter__(self):
        from music21 import chord
        _EXPORT_LOCK.acquire()
        self._original = chord.Chord.sortAscending

        original = self._original

        def _sort_ascending(c, *, inPlace=False):
            return original(c, inPlace=True) if inPlace else c
        chord.Chord.sortAscending = _sort_ascending
        return self

    def __exit__(self, *exc):
        from music21 import chord
        chord.Chord.sortAscending = self._original
        _EXPORT_LOCK.release()
        return False


def _refuse_input(score, path: Path) -> None:
    sources = [getattr(score, "filePath", None)]
    md = getattr(score, "metadata", None)
    if md is not None:
        sources.append(getattr(md, "filePath", None))
    target = path.resolve()
    for src in sources:
        if src and Path(str(src)).resolve() == target:
            raise OutputError(f"refusing to overwrite the input score {src}; "
                              "choose another output name")


def _has_composer(score) -> bool:
    md = getattr(score, "metadata", None)
    return bool(md is not None and md.composer)


def _copy_score(score):
    from music21 import stream
    if isinstance(score, stream.Score):
        return copy.deepcopy(score)
    if isinstance(score, stream.Part):
        return stream.Score([copy.deepcopy(score)])
    out = stream.Score()
    part = stream.Part()
    for el in score.flatten().notesAndRests:
        part.insert(el.getOffsetInHierarchy(score), copy.deepcopy(el))
    out.insert(0, part)
    return out


def _prepare(score, copy_score: bool = True):
    """A notated copy of ``score``: accidentals made without chord symbols, RN as lyrics."""
    from music21 import harmony, roman, stream
    if copy_score or not isinstance(score, stream.Score):
        work = _copy_score(score)
    else:
        work = score
    if not work.parts:
        raise InputError("the score has no parts to write")
    pulled: list[tuple[int, float, Any]] = []
    for pi, part in enumerate(work.parts):
        for rn in list(part.recurse().getElementsByClass(roman.RomanNumeral)):
            _roman_to_lyric(part, rn)
        for h in list(part.recurse().getElementsByClass(harmony.Harmony)):
            offset = h.getOffsetInHierarchy(part)
            h.activeSite.remove(h)
            pulled.append((pi, offset, h))
    for part in work.parts:
        if _undecided_accidentals(part):
            # music21 can mark a part read from MIDI as notated while its notes' accidentals
            # were never decided; written so, every sharp of the key signature (the C# of
            # F# minor) is drawn again on its note. Decide them against the key signature.
            part.streamStatus.accidentals = False
            for m in part.getElementsByClass(stream.Measure):
                m.streamStatus.accidentals = False
        # What music21's exporter does when it makes notation itself, but here with the
        # chord symbols taken out: their pitches would add naturals to the notes.
        part.splitAtDurations(recurse=True)  # e.g. a 1.25-quarter note from MIDI -> tied
        part.makeNotation(inPlace=True)
    parts = list(work.parts)
    for pi, offset, h in pulled:
        part = parts[pi]
        measure = _measure_at(part, offset)
        if measure is None:
            part.insert(offset, h)
        else:
            measure.insert(offset - measure.getOffsetInHierarchy(part), h)
    work.streamStatus.accidentals = True
    for part in parts:
        for m in part.getElementsByClass(stream.Measure):
            m.streamStatus.accidentals = True
    return work


def _undecided_accidentals(part) -> bool:
    """True when a note of ``part`` has an accidental whose display is not decided yet."""
    for n in part.recurse().notes:
        for p in n.pitches:
            if p.accidental is not None and p.accidental.displayStatus is None:
                return True
    return False


def _measure_at(part, offset: float):
    from music21 import stream
    found = None
    for m in part.getElementsByClass(stream.Measure):
        start = m.getOffsetInHierarchy(part)
        if start <= offset + 1e-9:
            found = m
        else:
            break
    return found


def _roman_to_lyric(part, rn) -> None:
    """Replace a RomanNumeral object by a lyric on the note it applies to."""
    offset = rn.getOffsetInHierarchy(part)
    rn.activeSite.remove(rn)
    from music21 import harmony, roman
    target = None
    for n in part.recurse().notes:  # in score order
        if isinstance(n, (harmony.Harmony, roman.RomanNumeral)):
            continue  # chord symbols are Chords too, but carry no lyrics
        if n.getOffsetInHierarchy(part) >= offset - 1e-9:
            target = n  # the first note struck at or after the numeral
            break
    if target is None:
        log.debug("Roman numeral %s at %s has no note to carry it", rn.figure, offset)
        return
    number = len(target.lyrics) + 1
    target.addLyric(rn.figure, lyricNumber=number)


def _mxl_bytes(xml: bytes, inner_name: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, data, method in (
                ("mimetype", _MXL_MIMETYPE, zipfile.ZIP_STORED),
                ("META-INF/container.xml", _MXL_CONTAINER.format(name=inner_name).encode(),
                 zipfile.ZIP_DEFLATED),
                (inner_name, xml, zipfile.ZIP_DEFLATED)):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = method
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buf.getvalue()


# ----------------------------------------------------------------------------------------
# XML repairs


def _parser():
    from lxml import etree
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           remove_blank_text=False)


def _read_root(path: Path):
    from lxml import etree
    try:
        if zipfile.is_zipfile(path):
            # through the safe reader: its size limits stop a zip bomb
            from .scoreio import unpack_mxl
            return etree.fromstring(unpack_mxl(path.read_bytes(), str(path)), _parser())
        return etree.parse(str(path), _parser()).getroot()
    except InputError:
        raise
    except (OSError, KeyError, zipfile.BadZipFile, etree.Error) as exc:
        raise InputError(f"{path} is not a readable MusicXML file ({exc}); "
                         "export it again from MuseScore as .musicxml or .mxl") from exc


def _fix_xml(raw: bytes, fields: Mapping[str, str], *, has_composer: bool) -> bytes:
    from lxml import etree
    tree = etree.parse(io.BytesIO(raw), _parser())
    return _finish(tree.getroot(), tree.docinfo.doctype, fields, has_composer=has_composer)


def _finish(root, doctype: str | None, fields: Mapping[str, str], *,
            has_composer: bool) -> bytes:
    """Provenance, stable ids, a page size, valid chord kinds, one tempo mark per bar."""
    from lxml import etree
    _fix_identification(root, fields, has_composer)
    _renumber_ids(root)
    _ensure_page_layout(root)
    _fix_harmonies(root)
    _dedupe_tempo(root)
    if doctype is None:
        etree.indent(root, space="  ")
    body = etree.tostring(root, encoding="UTF-8", xml_declaration=False)
    doctype = doctype or (
        '<!DOCTYPE score-partwise PUBLIC "-//Recordare//DTD MusicXML 4.0 Partwise//EN" '
        '"http://www.musicxml.org/dtds/partwise.dtd">')
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + doctype.encode() + b"\n" + body + b"\n"


def _fix_identification(root, fields: Mapping[str, str], has_composer: bool) -> None:
    from lxml import etree
    for el in root.iter("encoding-date"):
        el.getparent().remove(el)
    title = root.find("movement-title")
    if title is not None and title.text == "Music21 Fragment":
        root.remove(title)
    ident = root.find("identification")
    if ident is None:
        return
    if not has_composer:
        for creator in ident.findall("creator"):
            if creator.text == "Music21":
                ident.remove(creator)
        for credit in root.findall("credit"):
            words = credit.find("credit-words")
            if words is not None and words.text == "Music21":
                root.remove(credit)
    misc = ident.find("miscellaneous")
    if misc is None:
        if not fields:
            return
        misc = etree.SubElement(ident, "miscellaneous")
    existing = {el.get("name"): el for el in misc.findall("miscellaneous-field")}
    for name in sorted(fields):
        el = existing.get(name)
        if el is None:
            el = etree.SubElement(misc, "miscellaneous-field", name=name)
        el.text = fields[name]
    # keep the schema's order: miscellaneous is the last child of identification
    ident.remove(misc)
    ident.append(misc)


#: A4 page in tenths at music21's scaling (7 mm per 40 tenths): 210 x 297 mm.
PAGE_WIDTH, PAGE_HEIGHT, PAGE_MARGIN = 1200, 1697, 85
#: music21's default scaling: 7 mm per 40 tenths (a staff 7 mm high).
DEFAULT_STAFF_MM = 7.0


def _ensure_page_layout(root) -> None:
    """Give the page a size: MuseScore places credits (title, legend) relative to it.

    Without one, MuseScore 3 stacks every credit in the top right corner. Page size and
    credit positions are in tenths of a staff space, so a score with smaller staves
    (``<scaling>`` below 7 mm) gets more tenths for the same A4 page, and its credits, placed
    for the default scaling, are moved to the same place on paper.
    """
    from lxml import etree
    defaults = root.find("defaults")
    if defaults is None or defaults.find("page-layout") is not None:
        return
    scaling = defaults.find("scaling")
    factor = 1.0
    if scaling is not None:
        try:
            mm = float(scaling.findtext("millimeters"))
            tenths = float(scaling.findtext("tenths"))
            factor = (DEFAULT_STAFF_MM / 40.0) / (mm / tenths)
        except (TypeError, ValueError, ZeroDivisionError):
            factor = 1.0
    layout = etree.Element("page-layout")
    etree.SubElement(layout, "page-height").text = str(round(PAGE_HEIGHT * factor))
    etree.SubElement(layout, "page-width").text = str(round(PAGE_WIDTH * factor))
    margins = etree.SubElement(layout, "page-margins", type="both")
    for side in ("left", "right", "top", "bottom"):
        etree.SubElement(margins, f"{side}-margin").text = str(round(PAGE_MARGIN * factor))
    index = list(defaults).index(scaling) + 1 if scaling is not None else 0
    defaults.insert(index, layout)
    if abs(factor - 1.0) > 1e-9:
        for words in root.iterfind("credit/credit-words"):
            for attr in ("default-x", "default-y"):
                value = words.get(attr)
                if value is not None:
                    words.set(attr, _tenths_text(float(value) * factor))


def _tenths_text(value: float) -> str:
    return str(int(round(value))) if abs(value - round(value)) < 1e-6 else f"{value:.1f}"


def _renumber_ids(root) -> None:
    """Give score parts and instruments stable ids (music21 uses random ones)."""
    part_map: dict[str, str] = {}
    for i, sp in enumerate(root.iter("score-part"), 1):
        part_map[sp.get("id")] = f"P{i}"
    inst_map: dict[str, str] = {}
    for sp in root.iter("score-part"):
        new_part = part_map[sp.get("id")]
        for j, inst in enumerate(sp.iter("score-instrument"), 1):
            inst_map[inst.get("id")] = f"{new_part}-I{j}"
    for sp in root.iter("score-part"):
        sp.set("id", part_map[sp.get("id")])
    for part in root.iter("part"):
        if part.get("id") in part_map:
            part.set("id", part_map[part.get("id")])
    for tag in ("score-instrument", "midi-instrument", "instrument"):
        for el in root.iter(tag):
            if el.get("id") in inst_map:
                el.set("id", inst_map[el.get("id")])


def _fix_harmonies(root) -> None:
    for h in list(root.iter("harmony")):
        kind = h.find("kind")
        if kind is None:
            continue
        value = (kind.text or "").strip()
        if value == "none":
            _harmony_to_words(h, kind.get("text") or "N.C.")
            continue
        for alter_tag in ("root/root-alter", "bass/bass-alter"):
            alter = h.find(alter_tag)
            if alter is not None and (alter.text or "").strip() in ("0", "0.0"):
                alter.getparent().remove(alter)
        for el in h.iter("root-step", "bass-step"):
            if el.get("text") == "":
                del el.attrib["text"]
        if value not in VALID_KINDS:
            new_kind, degrees = KIND_FIXES.get(value, ("other", ()))
            kind.text = new_kind
            if new_kind == "other" and not kind.get("text"):
                kind.set("text", value)
            _add_degrees(h, degrees)
            log.debug("chord kind %r written as %r with degrees %r", value, new_kind, degrees)


def _add_degrees(harmony_el, degrees) -> None:
    """Insert ``<degree>`` elements where the schema wants them (after kind/inversion/bass)."""
    from lxml import etree
    if not degrees:
        return
    anchor = harmony_el.find("kind")
    for tag in ("inversion", "bass"):
        found = harmony_el.find(tag)
        if found is not None:
            anchor = found
    index = list(harmony_el).index(anchor) + 1
    for value, alter, kind in degrees:
        degree = etree.Element("degree")
        etree.SubElement(degree, "degree-value").text = str(value)
        etree.SubElement(degree, "degree-alter").text = str(alter)
        etree.SubElement(degree, "degree-type").text = kind
        harmony_el.insert(index, degree)
        index += 1


def _harmony_to_words(harmony_el, text: str) -> None:
    """Replace a no-chord ``<harmony>`` by a text direction (MuseScore draws 'CN.C.')."""
    from lxml import etree
    direction = etree.Element("direction", placement="above")
    dtype = etree.SubElement(direction, "direction-type")
    words = etree.SubElement(dtype, "words")
    words.text = text
    offset = harmony_el.find("offset")
    if offset is not None:
        direction.append(copy.deepcopy(offset))
    staff = harmony_el.find("staff")
    if staff is not None:
        direction.append(copy.deepcopy(staff))
    direction.tail = harmony_el.tail
    harmony_el.getparent().replace(harmony_el, direction)


def _dedupe_tempo(root) -> None:
    """Keep one tempo mark per bar: the first part's (MuseScore draws one per part).

    Within a bar of one part, a second mark of the same tempo is a duplicate too: the two
    hands of a piano MIDI file each carry the file's tempo, and once they are one part on
    two staves both would be drawn, one above the other.
    """
    seen: set[str] = set()
    for part in root.iter("part"):
        for measure in part.iter("measure"):
            number = measure.get("number")
            tempos = [d for d in measure.findall("direction")
                      if d.find("direction-type/metronome") is not None or
                      (d.find("sound") is not None and d.find("sound").get("tempo"))]
            if not tempos:
                continue
            if number in seen:
                duplicates = tempos
            else:
                seen.add(number)
                kept: set[str] = set()
                duplicates = []
                for d in tempos:
                    value = _tempo_value(d)
                    if value in kept:
                        duplicates.append(d)
                    else:
                        kept.add(value)
            for d in duplicates:
                _drop_tempo(measure, d)


def _tempo_value(direction) -> str:
    """The tempo a direction sets: its playback tempo, else its metronome mark, as text.

    music21 writes the second of two equal marks of a joined two-staff part as empty words
    with the same playback tempo, so the playback tempo is what is compared.
    """
    sound = direction.find("sound")
    if sound is not None and sound.get("tempo"):
        return sound.get("tempo")
    metronome = direction.find("direction-type/metronome")
    return "" if metronome is None else "/".join((el.text or "").strip() for el in metronome)


def _drop_tempo(measure, direction) -> None:
    """Remove a duplicate tempo mark; a text tempo ("Allegro") keeps its words, not its sound."""
    has_words = any((w.text or "").strip() for w in direction.iterfind("direction-type/words"))
    if direction.find("direction-type/metronome") is not None or not has_words:
        measure.remove(direction)
    else:
        sound = direction.find("sound")
        if sound is not None:
            direction.remove(sound)
