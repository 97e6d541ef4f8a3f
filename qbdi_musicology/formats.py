"""Score file formats: which suffix is which format, and the checks of the text formats.

``scoreio.load_score`` reads every format music21 reads that a theorist is likely to bring,
and checks each before music21 sees it:

* ``.mid``, ``.midi`` (MIDI): header, tracks, tempo map, bars, notes;
* ``.musicxml``, ``.xml`` (MusicXML): any declared encoding (UTF-8, UTF-16 with a
  byte-order mark, Latin-1...); no entities, no DTD, no network; bars, notes, time values;
* ``.mxl`` (zipped MusicXML): the zip rules (unpacked size, member names, encryption), then
  as MusicXML;
* ``.krn`` (Humdrum ``**kern``): text with a ``**kern`` spine; bars, notes, spines;
* ``.abc`` (ABC): one tune chosen (``FILE.abc#N`` / ``tune=N``), whose header ends
  (``K:``); bars, notes, voices;
* ``.mei`` (MEI): as MusicXML (an XML format); bars, notes, staves;
* ``.rntxt`` (RomanText): bars, measure ranges included;
* ``.mscx``, ``.mscz`` (MuseScore): checked like XML and zip, then refused with the advice
  to export MusicXML (music21 has no reader for MuseScore's own format).

This module holds the suffix table and the checks of the plain-text formats (Humdrum, ABC,
RomanText) and the decoding of text and XML bytes; it depends on nothing but
:mod:`qbdi_musicology.errors`, so both the file reader and the corpus layer can use it.
Each check takes the file's bytes and a :class:`~qbdi_musicology.scoreio.Limits` and
returns the text music21 is given (for ABC: only the chosen tune).

Example::

    text, tune = abc_tune(data, "folk.abc", limits, number=3)   # tune X:3 of the file
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from .errors import InputError

MIDI_SUFFIXES = (".mid", ".midi")
XML_SUFFIXES = (".musicxml", ".xml")
MXL_SUFFIXES = (".mxl",)
KERN_SUFFIXES = (".krn",)
ABC_SUFFIXES = (".abc",)
MEI_SUFFIXES = (".mei",)
ROMANTEXT_SUFFIXES = (".rntxt",)
MUSESCORE_SUFFIXES = (".mscx", ".mscz")

#: Every suffix ``load_score`` reads, in the order a piece name prefers them when one piece
#: exists in several formats (``bach/bwv277`` is both ``.mxl`` and ``.krn``: the MusicXML
#: is read). MuseScore files are not in it: they are refused with advice.
SCORE_SUFFIXES = (MXL_SUFFIXES + (".musicxml",) + (".xml",) + MIDI_SUFFIXES + KERN_SUFFIXES
                  + MEI_SUFFIXES + ABC_SUFFIXES + ROMANTEXT_SUFFIXES)
#: Suffixes ``load_score`` knows (the score formats and the refused MuseScore files).
KNOWN_SUFFIXES = SCORE_SUFFIXES + MUSESCORE_SUFFIXES

FORMAT_NAMES = {
    **dict.fromkeys(MIDI_SUFFIXES, "midi"), **dict.fromkeys(XML_SUFFIXES, "musicxml"),
    **dict.fromkeys(MXL_SUFFIXES, "musicxml"), **dict.fromkeys(KERN_SUFFIXES, "humdrum"),
    **dict.fromkeys(ABC_SUFFIXES, "abc"), **dict.fromkeys(MEI_SUFFIXES, "mei"),
    **dict.fromkeys(ROMANTEXT_SUFFIXES, "romantext"),
    **dict.fromkeys(MUSESCORE_SUFFIXES, "musescore"),
}


def format_of(suffix: str) -> str | None:
    """The format name of a file suffix (``".krn"`` -> ``"humdrum"``), or None."""
    return FORMAT_NAMES.get(suffix.lower())


# ---------------------------------------------------------------------------- decoding


_BOMS = ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
         (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
         (codecs.BOM_UTF16_BE, "utf-16-be"))
_XML_DECL = re.compile(r"""^\s*<\?xml\b[^>]*?\?>""", re.DOTALL)
_DECLARED = re.compile(rb"""^<\?xml\b[^>]*?\bencoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


def _bom(data: bytes) -> tuple[str | None, int]:
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name, len(bom)
    return None, 0


def decode_xml(data: bytes, where: str) -> str:
    """XML bytes as text, in the encoding the file declares; the XML declaration removed.

    A byte-order mark wins (UTF-8, UTF-16 or UTF-32, either byte order); then the
    ``encoding="..."`` of the XML declaration (which, for UTF-16 without a mark, is itself
    in UTF-16: ``<`` then a zero byte); else UTF-8, as the XML standard says. The
    declaration is removed because the text is no longer in the encoding it names.

    Example: ``beethoven/opus18no3.mxl`` of the music21 corpus holds UTF-16 with a mark.
    """
    encoding, skip = _bom(data)
    if encoding is None:
        if data.startswith(b"<\x00?\x00"):
            encoding = "utf-16-le"
        elif data.startswith(b"\x00<\x00?"):
            encoding = "utf-16-be"
        else:
            found = _DECLARED.match(data.lstrip())
            encoding = found.group(1).decode("ascii").lower() if found else "utf-8"
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise InputError(f"{where}: the XML declares the encoding {encoding!r}, which is not "
                         "known; re-export the score as UTF-8") from None
    try:
        text = data[skip:].decode(encoding)
    except UnicodeDecodeError as exc:
        raise InputError(f"{where}: the bytes at position {exc.start} are not {encoding} as "
                         "the file declares; re-export the score as UTF-8") from None
    return _XML_DECL.sub("", text, count=1).lstrip("\ufeff")


def decode_text(data: bytes, where: str, what: str) -> str:
    """A text format's bytes as text: UTF-8 (or UTF-16/32 with a mark), else Latin-1.

    Humdrum and ABC files from older collections are often Latin-1; a zero byte in a file
    without a byte-order mark means it is not text at all.
    """
    encoding, skip = _bom(data)
    if encoding is not None:
        try:
            return data[skip:].decode(encoding)
        except UnicodeDecodeError as exc:
            raise InputError(f"{where}: not valid {encoding} text at byte {exc.start}; "
                             f"save the {what} file as UTF-8") from None
    if b"\x00" in data[:65536]:
        raise InputError(f"{where}: binary data, not a {what} text file; check that the "
                         "file name matches its content")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _file_name(where: str) -> str:
    return where.replace("\\", "/").rsplit("/", 1)[-1]


def _too_many(where: str, count: int, limit: int, what: str, knob: str) -> InputError:
    return InputError(f"{where}: {count} {what}, over the limit of {limit}; cut the file or "
                      f"raise {knob} if it is genuine")


def _check_counts(where: str, limits, *, bars: int, notes: int, parts: int,
                  parts_what: str) -> None:
    if bars > limits.max_bars:
        raise InputError(f"{where}: {bars} bars, over the limit of {limits.max_bars} bars; "
                         "cut the score or raise max_bars")
    if notes > limits.max_notes:
        raise _too_many(where, notes, limits.max_notes, "notes", "max_notes")
    if parts > limits.max_tracks:
        raise _too_many(where, parts, limits.max_tracks, parts_what, "max_tracks")


# ---------------------------------------------------------------------------- Humdrum


_KERN_NOTE = re.compile(r"[A-Ga-g]")


def check_humdrum(data: bytes, where: str, limits) -> str:
    """Refuse Humdrum text without a ``**kern`` spine, or with too many bars, notes, spines.

    Counting is one pass over the lines, so a huge spine is refused in a fraction of the
    time music21 would need to build it. Returns the text for music21.

    Example: a file of one ``**kern`` spine with 600,000 quarter notes is refused with
    "600000 notes, over the limit of 500000".
    """
    text = decode_text(data, where, "Humdrum")
    exclusive: list[str] = []
    bars = notes = spines = 0
    for line in text.splitlines():
        if not line or line.startswith("!"):
            continue
        fields = line.split("\t")
        spines = max(spines, len(fields))
        first = fields[0]
        if first.startswith("**"):
            exclusive.extend(f.strip() for f in fields if f.startswith("**"))
            continue
        if first.startswith("*"):
            continue
        if not exclusive:
            raise InputError(f"{where}: data before the first '**' line that names the "
                             "spines; this is not a Humdrum file (or its start is missing)")
        if first.startswith("="):
            bars += 1
            continue
        for field in fields:
            if field == "." or field.startswith("!"):
                continue
            for token in field.split(" "):
                if "r" not in token and _KERN_NOTE.search(token):
                    notes += 1
        if notes > limits.max_notes:  # enough counted to refuse it
            raise _too_many(where, notes, limits.max_notes, "notes", "max_notes")
    if not exclusive:
        raise InputError(f"{where}: no '**' line naming the spines; this is not a Humdrum "
                         "file, check that the file name matches its content")
    if "**kern" not in exclusive:
        raise InputError(f"{where}: the Humdrum file has no **kern spine (it has "
                         f"{', '.join(sorted(set(exclusive)))}); music21 reads the notes of "
                         "**kern spines only")
    _check_counts(where, limits, bars=bars, notes=notes, parts=spines,
                  parts_what="spines (columns)")
    if notes == 0:
        raise InputError(f"{where}: the **kern spines hold no notes")
    return text


# ---------------------------------------------------------------------------- ABC


@dataclass(frozen=True)
class AbcTune:
    """One tune of an ABC file: its place in the file, its ``X:`` number and title."""

    index: int  # 1 for the first tune of the file
    number: int | None  # the X: reference number, if it is a number
    title: str
    count: int  # tunes in the file

    def describe(self) -> str:
        label = f"X:{self.number}" if self.number is not None else f"tune {self.index}"
        return label + (f" {self.title!r}" if self.title else "")


_ABC_FIELD = re.compile(r"^([A-Za-z+]):")
_ABC_STRIP = re.compile(r'"[^"\n]*"|![^!\n]*!|\+[^+\n]*\+|\[[A-Za-z]:[^\]\n]*\]|%.*$')


def _abc_split(text: str) -> tuple[list[str], list[list[str]]]:
    """(file header lines, [lines of each tune]); a tune starts at an ``X:`` line."""
    head: list[str] = []
    tunes: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("X:"):
            tunes.append([line])
        elif tunes:
            tunes[-1].append(line)
        else:
            head.append(line)
    if not tunes:  # a single tune without a reference number
        return [], [head]
    return head, tunes


def abc_tunes(data: bytes, where: str = "ABC") -> list[AbcTune]:
    """The tunes of an ABC file, in file order (``X:`` numbers and titles)."""
    _, tunes = _abc_split(decode_text(data, where, "ABC"))
    return [_describe_tune(lines, i + 1, len(tunes)) for i, lines in enumerate(tunes)]


def _describe_tune(lines: list[str], index: int, count: int) -> AbcTune:
    number = None
    title = ""
    for line in lines:
        if line.startswith("X:") and number is None:
            value = line[2:].split("%")[0].strip()
            number = int(value) if value.isdigit() else None
        elif line.startswith("T:") and not title:
            title = line[2:].split("%")[0].strip()
        elif line.startswith("K:"):
            break
    return AbcTune(index=index, number=number, title=title, count=count)


def abc_tune(data: bytes, where: str, limits, number: int | None = None) -> tuple[str, AbcTune]:
    """The text of one tune of an ABC file (with the file's header), checked.

    ``number``: the tune's ``X:`` reference number; ``None`` takes the first tune of the
    file. Only that tune is given to music21 (a file of 500 folk tunes is not parsed
    500 times over). The tune's header must end with a ``K:`` (key) line and be followed
    by music; bars, notes and voices are counted against the limits.

    Example: ``abc_tune(data, "altdeu10.abc", limits, number=3)`` is tune X:3.
    """
    text = decode_text(data, where, "ABC")
    head, tunes = _abc_split(text)
    described = [_describe_tune(lines, i + 1, len(tunes)) for i, lines in enumerate(tunes)]
    if number is None:
        chosen = 0
    else:
        hits = [i for i, t in enumerate(described) if t.number == number]
        if not hits:
            numbers = [t.number for t in described if t.number is not None]
            shown = ", ".join(map(str, numbers[:12])) + (", ..." if len(numbers) > 12 else "")
            raise InputError(f"{where}: no tune X:{number} in the file; its tunes are "
                             + (f"X: {shown}" if numbers else "not numbered")
                             + f" (choose one with {_file_name(where)}#N)")
        chosen = hits[0]
    tune = described[chosen]
    lines = tunes[chosen]
    key_at = next((i for i, line in enumerate(lines) if line.startswith("K:")), None)
    if key_at is None:
        raise InputError(f"{where}: {tune.describe()} has no K: (key) line, so its header "
                         "never ends: the file is truncated or not ABC; re-export it")
    bars = notes = 0
    voices = {"1"}
    for line in lines[key_at + 1:]:
        field = _ABC_FIELD.match(line)
        if field:
            if field.group(1) == "V":
                voices.add(line[2:].split()[0] if line[2:].split() else "")
            continue
        body = _ABC_STRIP.sub("", line)
        bars += len(re.findall(r"[|\]]+", body))
        notes += len(re.findall(r"[A-Ga-g]", body))
    for line in lines[:key_at]:
        if line.startswith("V:") and line[2:].split():
            voices.add(line[2:].split()[0])
    _check_counts(where, limits, bars=bars, notes=notes, parts=len(voices),
                  parts_what="voices")
    if notes == 0:
        raise InputError(f"{where}: {tune.describe()} has a header but no notes; the file is "
                         "truncated or holds no music")
    head_fields = [line for line in head if _ABC_FIELD.match(line) or not line.strip()]
    return "\n".join(head_fields + lines) + "\n", tune


# ---------------------------------------------------------------------------- RomanText


_RN_MEASURE = re.compile(r"^\s*m(\d+)(?:-(\d+))?(?:[a-z])?\b")


def check_romantext(data: bytes, where: str, limits) -> str:
    """Refuse RomanText without measures, or whose measures (ranges included) are too many.

    A line ``m5-8 = m1-4`` copies bars; the highest bar number named is the length, so a
    hostile ``m1-1000000 = m1`` is refused before music21 copies anything.
    """
    text = decode_text(data, where, "RomanText")
    highest = 0
    lines = 0
    for line in text.splitlines():
        found = _RN_MEASURE.match(line)
        if found:
            lines += 1
            highest = max(highest, int(found.group(2) or found.group(1)))
    if not lines:
        raise InputError(f"{where}: no measure lines ('m1 ...'); this is not RomanText")
    _check_counts(where, limits, bars=highest, notes=0, parts=1, parts_what="parts")
    return text
