"""Annotated scores for theorists: query and improvisation with their harmony written in.

Two kinds of score, both written as MusicXML that opens in MuseScore:

* **one file per rate** (:func:`write_annotated`): the query's staves on top, the
  improvisation's below (a two-hand part stays a grand staff), aligned bar by bar;
* the **drift overview** (:func:`write_overview`): the query and every rate's
  improvisation, each reduced to one grand staff and stacked from the full rate down to
  the lowest, so the harmony's convergence can be read down a column of bars.

What is written into them:

* a **chord symbol** above the top staff of each score, at the start of every bar and
  wherever the chord changes inside a bar (``N.C.`` where nothing sounds);
* the **Roman numeral** in the query's key as a lyric under the lowest staff of each score
  (MuseScore shows lyrics; the chorale text of that staff is left out to make room);
* **collisions** (see :mod:`~qbdi_musicology.analysis.collisions`): the improvisation's
  notes in that segment are coloured red and a short text such as "G vs D" (query chord
  vs improvisation chord) is written above its top staff;
* the **rate** in the title and as a rehearsal mark at the improvisation's first bar;
* a **legend** in the page header (MusicXML credits) saying what each mark means.

Example::

    write_annotated(query, improvisation, "out/rate-8.musicxml", rate=8)
    write_overview(query, {math.inf: full, 8.0: eight, 0.0: zero}, "out/overview.mxl")
"""

from __future__ import annotations

import copy
import functools
import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..analysis.chords import NO_CHORD, key_name
from ..analysis.collisions import (MIN_FOREIGN_SHARE, MIN_TONNETZ_DISTANCE, AnalysedScore,
                                   _as_score, _ordinal_keys, analyse_score, compare)
from ..errors import InputError
from ..rates import rate_short, rate_text
from ..musicxml import DEFAULT_STAFF_MM, PAGE_MARGIN, PAGE_HEIGHT, PAGE_WIDTH, \
    mark_write_only, score_fields, set_score_fields, write_musicxml

log = logging.getLogger(__name__)

#: Colour of the improvisation's notes in a collision.
COLLISION_COLOUR = "#D01010"
#: Lowest pitch written on the treble staff of a grand-staff reduction (middle C).
MIDDLE_C = 60


def score_title(score, default: str = "Query") -> str:
    """A score's title for people: title, movement name, or corpus file name."""
    md = getattr(score, "metadata", None)
    if md is not None:
        for value in (md.title, md.movementName, md.corpusFilePath):
            if value:
                name = str(value)
                for suffix in (".mxl", ".musicxml", ".xml", ".krn", ".mid"):
                    if name.endswith(suffix):
                        name = name[: -len(suffix)]
                return name.rsplit("/", 1)[-1]
    return default


# ----------------------------------------------------------------------------------------
# bars


@dataclass
class _Staves:
    """Bar-aligned staves of one score: measures[p][i] is bar i of staff p."""

    names: list[str]
    measures: list[list[Any]]
    grand: list[tuple[int, int]]  # (first, last) staff indices of each brace
    part_classes: list[type]


def _bar_length(m) -> float:
    return float(m.barDuration.quarterLength)


def _staves_of(score, label: str) -> _Staves:
    """Deep copies of every staff's measures; staves in a brace stay braced."""
    from music21 import layout, stream
    parts = list(score.parts) if isinstance(score, stream.Score) else [score]
    parts = [p for p in parts if p.getElementsByClass(stream.Measure)]
    if not parts:
        raise InputError(f"the {label} has no bars (measures) to annotate; "
                         "give a notated score (MusicXML) or let music21 make measures")
    names, measures, classes = [], [], []
    for i, part in enumerate(parts):
        name = part.partName or (f"{label} {i + 1}" if len(parts) > 1 else label)
        names.append(name)
        copied = [copy.deepcopy(m) for m in part.getElementsByClass(stream.Measure)]
        for m in copied:
            # the source edition's system and page breaks (a chorale breaks every two or
            # three bars) do not suit a score with more staves: MuseScore lays it out
            for el in list(m.getElementsByClass((layout.SystemLayout, layout.PageLayout))):
                m.remove(el)
        measures.append(copied)
        classes.append(type(part))
    grand = []
    for group in score.getElementsByClass(layout.StaffGroup) if isinstance(
            score, stream.Score) else []:
        members = [parts.index(p) for p in group.getSpannedElements() if p in parts]
        if len(members) > 1 and all(isinstance(parts[j], stream.PartStaff) for j in members):
            grand.append((min(members), max(members)))
    if not grand:
        pair = piano_pair(parts)
        if pair is not None:
            # two tracks of one piano (a MIDI file's right and left hand): one grand
            # staff, right hand on top, as a pianist reads it
            order = list(pair)
            names = [names[j] for j in order]
            measures = [measures[j] for j in order]
            classes = [classes[j] for j in order]
            grand = [(0, 1)]
    return _Staves(names, measures, grand, classes)


#: General MIDI programs of keyboard instruments: pianos (0-7) and organs (16-23).
KEYBOARD_PROGRAMS = frozenset(range(0, 8)) | frozenset(range(16, 24))
#: Share of one hand's notes that must lie beyond the other hand's median pitch.
HANDS_APART = 0.8


#: Names of a part that say "one hand of a keyboard" (or say nothing): a piano, organ or
#: harpsichord, a hand, or a number a program gave it ("Instrument 1", "Track 2").
_KEYBOARD_NAME = re.compile(
    r"piano|pno|keyboard|klavier|clavier|cembalo|harpsichord|organ|orgel|hand|"
    r"\b[rl]\.?h\b|\bm\.?[gsd]\b|right|left|rechts|links|droite|gauche", re.IGNORECASE)
_NUMBER_NAME = re.compile(r"^\s*(instrument|part|track|staff|p)?\s*\d*\s*$", re.IGNORECASE)


def _is_keyboard_or_unnamed(part) -> bool:
    """True for a part played on a keyboard, or one that names no other instrument or voice.

    A MIDI track with a piano or organ program counts; so does one with no program whose
    name is a hand ("Right hand", "LH") or nothing at all (music21 then makes a generic
    instrument). A violin does not, and neither does a chorale's "Soprano" or "Bass":
    two voices are not two hands.
    """
    from music21 import instrument
    names = [part.partName]
    for inst in part.recurse().getElementsByClass(instrument.Instrument):
        if isinstance(inst, instrument.KeyboardInstrument):
            continue
        if type(inst) is not instrument.Instrument or (
                inst.midiProgram is not None and inst.midiProgram not in KEYBOARD_PROGRAMS):
            return False
        names += [inst.partName, inst.instrumentName]
    return all(not name or _NUMBER_NAME.match(name) or _KEYBOARD_NAME.search(name)
               for name in names)


def piano_pair(parts) -> tuple[int, int] | None:
    """(upper, lower) indices when two parts are the two hands of one keyboard, else None.

    The parts must be exactly two, both keyboard instruments or naming none, each with
    notes, and one mostly above the other: at least 80 % of the upper part's notes lie
    above the lower part's median pitch, and 80 % of the lower part's below the upper's.
    Example: a MIDI file with a right-hand melody around C5 and a left-hand bass around
    C3 gives ``(0, 1)``; if the left hand is the first track, ``(1, 0)``. A violin and a
    cello, or two hands that cross all the time, give ``None``.
    """
    if len(parts) != 2 or not all(_is_keyboard_or_unnamed(p) for p in parts):
        return None
    pitches = []
    for part in parts:
        ps = np.array([p.ps for n in part.recurse().notes if not (
            "Harmony" in n.classes or "RomanNumeral" in n.classes) for p in n.pitches])
        if ps.size == 0:
            return None
        pitches.append(ps)
    medians = [float(np.median(ps)) for ps in pitches]
    upper, lower = (0, 1) if medians[0] >= medians[1] else (1, 0)
    above = float(np.mean(pitches[upper] > medians[lower]))
    below = float(np.mean(pitches[lower] < medians[upper]))
    if above >= HANDS_APART and below >= HANDS_APART:
        return upper, lower
    return None


def _match_meter_signs(reference: _Staves, others: list[_Staves]) -> int:
    """Write every other score's meter as the reference (the query) writes it; return how many.

    A chorale writes 4/4 as the common-time sign "C" while an improvisation made from a
    piano roll writes "4/4"; stacked in one score, a reader comparing them bar by bar would
    see two different meters. Every time signature of ``others`` with the same beats as
    one of the reference's takes the reference's sign: the one in the same bar where the
    reference has one, else the first with those beats. Example: the query's ``C`` turns
    the improvisation's ``4/4`` into ``C``; a ``2/2`` query's cut-time sign turns an
    improvisation's ``2/2`` into cut time. Meters the reference does not have stay as
    they are.
    """
    from music21 import meter
    first: dict[str, str] = {}   # beats (e.g. '4/4') -> the reference's sign ('common')
    in_bar: dict[tuple[int, str], str] = {}
    for staff in reference.measures:
        for i, m in enumerate(staff):
            for ts in m.getElementsByClass(meter.TimeSignature):
                first.setdefault(ts.ratioString, ts.symbol)
                in_bar.setdefault((i, ts.ratioString), ts.symbol)
    changed = 0
    for group in others:
        for staff in group.measures:
            for i, m in enumerate(staff):
                for ts in m.getElementsByClass(meter.TimeSignature):
                    ratio = ts.ratioString
                    sign = in_bar.get((i, ratio), first.get(ratio))
                    if sign is not None and ts.symbol != sign:
                        ts.symbol = sign
                        changed += 1
    return changed


def _pad_end(measure, length: float) -> None:
    """Fill a short bar (e.g. a chorale's last bar after an upbeat) with a hidden rest."""
    from music21 import note
    have = float(measure.duration.quarterLength)
    if length - have <= 1e-9:
        return
    holders = list(measure.voices) or [measure]
    for holder in holders:
        rest = note.Rest(quarterLength=length - have)
        rest.style.hideObjectOnPrint = True
        holder.insert(have, rest)
    measure.paddingRight = 0.0


def _align(groups: list[_Staves]) -> tuple[int, list[float]]:
    """Cut every staff to the common number of bars; return (bars, shifts).

    The scores come on their metric bars (:func:`qbdi_musicology.bars.metric_score`; an
    improvisation is written on its query's), so bar ``i`` has the same length in every
    staff: a pickup stays a short first bar, a final bar a short last one. Staves whose
    bars differ in length (files from elsewhere in another meter) are an InputError.
    """
    n = min(len(m) for g in groups for m in g.measures)
    reference = [round(float(m.duration.quarterLength), 6) for m in groups[0].measures[0][:n]]
    for g in groups[1:]:
        lengths = [round(float(m.duration.quarterLength), 6) for m in g.measures[0][:n]]
        if any(abs(a - b) > 1e-6 and b > 0 for a, b in zip(reference, lengths)):
            raise InputError("the scores have different meters or bar lengths, so "
                             "their staves cannot be aligned bar by bar; the drift table "
                             "(CSV) is still valid")
    for g in groups:
        g.measures = [m[:n] for m in g.measures]
    # every bar as long as its longest staff (MuseScore has one length per bar): a staff
    # whose bar holds only part of the music (an empty voice) is filled with a hidden rest
    for i in range(n):
        longest = max(float(staff[i].duration.quarterLength) for g in groups
                      for staff in g.measures)
        for g in groups:
            for staff in g.measures:
                _pad_end(staff[i], longest)
    return n, [0.0] * len(groups)


# ----------------------------------------------------------------------------------------
# labels into measures


def _positions(table: pd.DataFrame, per: str, shift: float) -> list[tuple[int, float, float]]:
    """(bar index, start, end) inside the bar of each labelled segment, after padding."""
    ordinal = _ordinal_keys(table, per)["bar_index"].to_numpy()
    offsets = table["offset"].to_numpy(dtype=float)
    durations = table["duration"].to_numpy(dtype=float)
    starts = pd.Series(offsets).groupby(ordinal).transform("min").to_numpy()
    out = []
    for j in range(len(table)):
        local = offsets[j] - starts[j] + (shift if ordinal[j] == 0 else 0.0)
        out.append((int(ordinal[j]), local, local + durations[j]))
    return out


@functools.lru_cache(maxsize=512)
def _chord_symbol_model(root: str, quality: str):
    from music21 import harmony
    m21root = root[0] + root[1:].replace("b", "-")
    return harmony.ChordSymbol(root=m21root, kind=quality)


def _chord_symbol(row):
    """A new chord symbol for a table row (``G`` major, ``D7``... or ``N.C.``).

    Symbols are copied from one made per (root, kind): music21 spells a chord symbol's
    pitches when it is made, which costs ten times the copy.
    """
    from music21 import harmony
    if row.chord_symbol == NO_CHORD:
        return harmony.NoChord()
    return copy.deepcopy(_chord_symbol_model(row.root, row.quality))


def _notes_in(measure, start: float, end: float):
    """Notes/chords of a measure sounding in [start, end), starting ones first."""
    starting, sounding = [], []
    for n in measure.recurse().notes:
        if n.classes and ("Harmony" in n.classes or "RomanNumeral" in n.classes):
            continue
        o = float(n.getOffsetInHierarchy(measure))
        e = o + float(n.quarterLength)
        if start - 1e-9 <= o < end - 1e-9:
            starting.append((o, n))
        elif o < start and e > start + 1e-9:
            sounding.append((o, n))
    starting.sort(key=lambda t: t[0])
    return [n for _, n in starting] + [n for _, n in sounding]


def _write_labels(staves: _Staves, table: pd.DataFrame, positions, *,
                  collisions: pd.DataFrame | None = None) -> dict[str, int]:
    """Chord symbols on the top staff, Roman numerals as lyrics on the lowest staff."""
    from music21 import expressions
    counts = {"chord_symbols": 0, "romans": 0, "collisions": 0}
    top, bottom = staves.measures[0], staves.measures[-1]
    for m in bottom:  # the lowest staff's own lyrics give way to the numerals
        for n in m.recurse().notes:
            if n.lyrics:
                n.lyrics = []
    previous = (None, None, None)
    n_bars = len(top)
    for j, (bar, start, end) in enumerate(positions):
        if bar >= n_bars:
            break
        row = table.iloc[j]
        label = (bar, row.chord_symbol, row.roman)
        if (label[1], label[2]) != (previous[1], previous[2]) or bar != previous[0]:
            if not (row.chord_symbol == NO_CHORD and previous[1] == NO_CHORD):
                top[bar].insert(start, _chord_symbol(row))
                counts["chord_symbols"] += 1
            if row.roman:
                carrier = None
                for staff in reversed(staves.measures):  # lowest staff first
                    found = _notes_in(staff[bar], start, end)
                    if found:
                        carrier = found[0]
                        break
                if carrier is not None:
                    carrier.addLyric(row.roman)
                    counts["romans"] += 1
        previous = label
    if collisions is not None:
        last_text = (None, "")
        for j, (bar, start, end) in enumerate(positions):
            if bar >= n_bars or j >= len(collisions) or not collisions.iloc[j].collision:
                last_text = (bar, "")
                continue
            words = collisions.iloc[j].collision_text
            # the same clash on consecutive beats is written once; its notes are all red
            if (bar, words) != last_text:
                text = expressions.TextExpression(words)
                text.placement = "above"
                text.style.fontSize = 7  # small: per-beat texts must fit over their beat
                top[bar].insert(start, text)
            last_text = (bar, words)
            for staff in staves.measures:
                for n in _notes_in(staff[bar], start, end):
                    for sub in (n.notes if hasattr(n, "notes") and n.isChord else [n]):
                        sub.style.color = COLLISION_COLOUR
                    n.style.color = COLLISION_COLOUR
            counts["collisions"] += 1
    return counts


# ----------------------------------------------------------------------------------------
# building scores


#: Credit text sizes in points: the title and the two blocks under it (facts and legend).
TITLE_SIZE, TEXT_SIZE = 16, 8
#: From the top of the title to the top of the blocks under it, in tenths (music21's 7 mm
#: staff: 40 tenths = 7 mm).
TITLE_SPACE = 38
#: Height of a line of credit text per point of font size, in millimetres. MuseScore 3
#: sets an 8-point line 3.1 mm apart (1.1 times the size); 1.12 leaves a little room.
LINE_MM_PER_POINT = 25.4 / 72 * 1.12
#: The facts block lists one rate per line up to this many rates, then two per line.
RATES_ONE_PER_LINE = 5


def credit_line_tenths(size: float = TEXT_SIZE) -> float:
    """Height of one line of credit text of ``size`` points, in tenths (7 mm staff).

    Example: an 8-point line is 3.2 mm, 18.1 tenths.
    """
    return size * LINE_MM_PER_POINT * 40.0 / DEFAULT_STAFF_MM


def _credit(content: str, x: float, y: float, size: float, justify: str, valign: str):
    from music21 import text
    box = text.TextBox(content, x, y)
    box.style.fontSize = size
    box.style.justify = justify
    box.style.alignHorizontal = justify  # where default-x is: the left, centre or right edge
    box.style.alignVertical = valign     # where default-y is: the top or the bottom line
    box.page = 1
    return box


def _header(score, title: str, right: str, legend: str) -> float:
    """Title (centre), facts (right) and legend (left) as MusicXML credits on page 1.

    Return the header's height in millimetres on the page (at music21's 7 mm scaling, so
    the same on paper at any staff size).

    The title hangs from the top margin; the two blocks under it are placed by their
    bottom line (``valign="bottom"``), computed from their number of lines. MuseScore 3
    ignores the vertical alignment: it sets the facts and the legend at the bottom of a
    header frame as tall as the distance between the highest and lowest ``default-y``, so
    a block placed by its top line would grow upwards, past the title and off the page
    (the facts of eight rates did). Placed by their bottom line, the frame holds them and
    every reader that follows the MusicXML standard draws them in the same place.
    """
    top = PAGE_HEIGHT - PAGE_MARGIN
    score.insert(0, _credit(title, PAGE_WIDTH / 2, top, TITLE_SIZE, "center", "top"))
    line = credit_line_tenths(TEXT_SIZE)
    blocks_top = top - TITLE_SPACE
    tallest = 0
    for block, x, justify in ((right, PAGE_WIDTH - PAGE_MARGIN, "right"),
                              (legend, PAGE_MARGIN, "left")):
        lines = block.count("\n") + 1
        tallest = max(tallest, lines)
        score.insert(0, _credit(block, x, round(blocks_top - lines * line, 1), TEXT_SIZE,
                                justify, "bottom"))
    return (TITLE_SPACE + tallest * line) * DEFAULT_STAFF_MM / 40.0


def _assemble(score, groups: list[tuple[_Staves, str, str]]) -> None:
    """Add every staff of every group to ``score``, bar-aligned, with braces and names."""
    from music21 import layout, stream
    for staves, label, abbreviation in groups:
        made = []
        for i, measures in enumerate(staves.measures):
            is_staff = staves.part_classes[i] is stream.PartStaff or any(
                a <= i <= b for a, b in staves.grand)
            part = stream.PartStaff() if is_staff else stream.Part()
            name = label if len(staves.measures) == 1 or is_staff else \
                f"{label}: {staves.names[i]}"
            part.partName = name
            part.partAbbreviation = abbreviation
            for m in measures:
                part.append(m)
            score.insert(0, part)
            made.append(part)
        for a, b in staves.grand:
            score.insert(0, layout.StaffGroup(made[a:b + 1], name=label, symbol="brace",
                                              barTogether=True))
        if len(made) > 1 and not staves.grand:
            score.insert(0, layout.StaffGroup(made, name=label, symbol="bracket",
                                              barTogether=True))


#: Height in millimetres of the A4 page inside its margins, and the space MuseScore adds
#: around a system under a header, in staff spaces: its header frame is 2.5 spaces taller
#: than the text, 7 separate the frame from the system, 7 stay free under the last staff.
PAGE_CONTENT_MM = (PAGE_HEIGHT - 2 * PAGE_MARGIN) * DEFAULT_STAFF_MM / 40.0
FRAME_SPACES = 16.5
#: Height of one staff with its share of the space around it, in staff spaces (a staff is
#: 4 spaces high; MuseScore leaves about 6.5 between staves, chord symbols and lyrics need
#: the rest; measured: 12.2 in the overview of bwv66.6 at 8 rates).
SPACES_PER_STAFF = 12.5
#: Staff height in millimetres (MusicXML scaling: millimetres per 40 tenths): the largest,
#: music21's default, the densest we use, and the smallest, a miniature score's staff.
STAFF_MM_MAX, STAFF_MM_DENSE, STAFF_MM_MIN = 7.0, 4.6, 3.2
#: The tallest page-1 header written here: the title and seven lines of facts.
HEADER_MM = round((TITLE_SPACE + 7 * credit_line_tenths()) * DEFAULT_STAFF_MM / 40.0, 1)


def staff_height_mm(n_staves: int, *, largest: float = STAFF_MM_MAX,
                    header_mm: float = HEADER_MM) -> float:
    """Staff height so that a system of ``n_staves`` staves fits on page 1 under its header.

    ``header_mm``: the height of the title and the text under it on page 1 (the default is
    the tallest header written here). Example: the drift overview of a chorale at 8 rates
    has 18 staves (9 grand staves) under a header of 25.6 mm (title and six lines):
    ``staff_height_mm(18, header_mm=25.6)`` is 4.0 mm instead of 7, so MuseScore can put
    a whole system on page 1 rather than leave it empty under the title. At 10 rates (22
    staves, seven lines) it is 3.3 mm.
    """
    # header + (frame + staves) x one space (a quarter of the staff height) = the page
    fit = 4.0 * (PAGE_CONTENT_MM - header_mm) / (FRAME_SPACES + n_staves * SPACES_PER_STAFF)
    return round(max(STAFF_MM_MIN, min(largest, fit)), 2)


def _scale(score, millimeters: float) -> None:
    """Write the staff size as the score's MusicXML ``<defaults><scaling>``."""
    from music21 import layout
    score.insert(0, layout.ScoreLayout(scalingMillimeters=millimeters, scalingTenths=40))


def _renumber(score) -> None:
    """Bars numbered as the query numbers them: from 1, or from 0 after a pickup."""
    from music21 import stream
    for part in score.parts:
        measures = list(part.getElementsByClass(stream.Measure))
        first = 0 if measures and float(measures[0].paddingLeft or 0) > 0 else 1
        for i, m in enumerate(measures):
            m.number = i + first


def _rehearsal(staves: _Staves, text: str) -> None:
    from music21 import expressions
    staves.measures[0][0].insert(0, expressions.RehearsalMark(text))


def _analysis_of(query, improvisation, per, key, min_foreign_share, min_tonnetz_distance,
                 query_analysis: AnalysedScore | None = None,
                 improvisation_analysis: AnalysedScore | None = None):
    q = query_analysis or analyse_score(query, per=per, key=key, name="query")
    if q.key is None:
        raise InputError("the query has no sounding notes, so no key can be found")
    i = improvisation_analysis or analyse_score(improvisation, per=per, key=q.key,
                                            name="improvisation")
    pairs = compare(q, i, min_foreign_share=min_foreign_share,
                    min_tonnetz_distance=min_tonnetz_distance, per=per)
    return q, i, pairs


def on_query_bars(improvisation, query):
    """The improvisation on the query's metric bars (itself when it has them already).

    An improvisation made by :func:`~qbdi_musicology.generate.sweep` is written on its
    query's bars. One made otherwise (full grid bars from an older file, or
    ``bars_to_score`` without a structure) but with as many bars as the query is read on
    the grid and written again on the query's bars: a pickup bar keeps the end of the
    improvisation's first bar, a final bar the start of its last. Scores with another
    number of bars are returned as they are (aligning them is then an error).
    """
    from ..bars import METRIC_MARK, bar_structure, same_bars
    from ..pianoroll import bars_to_score, convert_score
    wanted, have = bar_structure(query), bar_structure(improvisation)
    if same_bars(wanted, have):
        return improvisation
    conv = convert_score(improvisation)
    if conv.bars.shape[0] != len(wanted):
        return improvisation
    keys = list(improvisation.recurse().getElementsByClass("Key"))
    names = [p.partName for p in improvisation.parts if p.partName] if hasattr(
        improvisation, "parts") else []
    tempo = next(iter(improvisation.recurse().getElementsByClass("MetronomeMark")), None)
    out = bars_to_score(conv.bars, structure=wanted, key=keys[0] if keys else None,
                        tempo=tempo.getQuarterBPM() if tempo is not None else None,
                        title=score_title(improvisation, "Improvisation"))
    out.metadata = copy.deepcopy(improvisation.metadata)
    for part in out.parts:
        part.partName = names[0] if names else "Improvisation"
    log.info("improvisation rewritten on the query's bars (%s)", wanted.describe())
    setattr(out, METRIC_MARK, wanted)
    return out


def _improv_collisions(i: AnalysedScore, pairs: pd.DataFrame) -> pd.DataFrame:
    """Collision flags and texts indexed like the improvisation's own segments."""
    flags = pd.DataFrame({"collision": np.zeros(len(i.table), dtype=bool),
                          "collision_text": [""] * len(i.table)})
    rows = pairs.attrs["improv_rows"]
    flags.loc[rows, "collision"] = pairs["collision"].to_numpy()
    flags.loc[rows, "collision_text"] = pairs["collision_text"].to_numpy()
    return flags


def annotate_pair(query, improvisation, *, rate: Any = None, per: str = "bar", key=None,
                  min_foreign_share: float = MIN_FOREIGN_SHARE,
                  min_tonnetz_distance: float = MIN_TONNETZ_DISTANCE,
                  query_analysis: AnalysedScore | None = None,
                  improvisation_analysis: AnalysedScore | None = None):
    """A new score: the query's staves over the improvisation's, with the harmony written in.

    Neither input is changed. Bars are paired in order and both scores are cut to the
    bars they share (the header says so). Example: a bar of G-B-D over a bar of D-F#-A in
    C major gets "G" and "V" on the query, "D", "II" and the red text "G vs D" on the
    improvisation.

    ``query_analysis`` / ``improvisation_analysis``: the scores' :func:`analyse_score`
    results when the caller has them already (same ``per``; the improvisation analysed in
    the query's key; :func:`~qbdi_musicology.analysis.drift.drift_analysis` returns them);
    otherwise they are made here.
    """
    from music21 import metadata, stream
    query, given = _as_score(query), _as_score(improvisation)
    improvisation = on_query_bars(given, query)
    if improvisation is not given:  # written again on the query's bars: analyse that
        improvisation_analysis = None
    q, i, pairs = _analysis_of(query, improvisation, per, key, min_foreign_share,
                               min_tonnetz_distance, query_analysis, improvisation_analysis)
    q_staves = _staves_of(query, "Query")
    i_staves = _staves_of(improvisation, "Improvisation")
    _match_meter_signs(q_staves, [i_staves])
    n_query, n_improv = len(q_staves.measures[0]), len(i_staves.measures[0])
    n_bars, shifts = _align([q_staves, i_staves])
    _write_labels(q_staves, q.table, _positions(q.table, per, shifts[0]))
    counts = _write_labels(i_staves, i.table, _positions(i.table, per, shifts[1]),
                           collisions=_improv_collisions(i, pairs))
    rate_label = rate_text(rate)
    if rate_label:
        _rehearsal(i_staves, rate_label)
    title = score_title(query)
    out = stream.Score()
    out.metadata = metadata.Metadata()
    out.metadata.title = f"{title}: {_improvisation_name(rate)}"
    set_score_fields(out, {**score_fields(improvisation), **_rate_field(rate),
                           "query title": title, "analysis key": key_name(q.key),
                           "analysis per": per})
    _assemble(out, [(q_staves, "Query", "Q."), (i_staves, "Improvisation", "Impr.")])
    _renumber(out)
    from ..analysis.drift import _bar_triad_agreement, _grid_bars
    agreement = _bar_triad_agreement(_grid_bars(query), improvisation)
    symbols = float(pairs["same_chord"].mean()) if len(pairs) else math.nan
    bars = f"{n_bars} bars" if n_query == n_improv else \
        f"first {n_bars} bars (query {n_query}, improvisation {n_improv})"
    result = (f"triad agreement {agreement:.2f} (same chord symbol {symbols:.2f}), "
              f"{counts['collisions']} collisions")
    facts = [f"Key: {key_name(q.key)}; labels per {per}, {len(pairs)} segments"]
    # two lines beside the two of the legend; a long note on the bars gets its own line
    facts += [f"{bars}; {result}"] if n_query == n_improv else [bars, result.capitalize()]
    header_mm = _header(out, out.metadata.title, "\n".join(facts), _legend(per))
    # smaller than music21's 7 mm: a bar of sixteenths in the improvisation otherwise
    # leaves room for two or three bars per page
    _scale(out, staff_height_mm(len(out.parts), largest=STAFF_MM_DENSE, header_mm=header_mm))
    return mark_write_only(out)  # built here: the writer need not copy it


def label_score(score, *, per: str = "bar", key=None):
    """A new score with chord symbols above its top staff and Roman numerals under its lowest.

    The score is read on its metric bars (:func:`qbdi_musicology.bars.metric_score`);
    labels go where the chord changes (at most one per ``per``); the numerals are in the
    score's key (``key`` overrides it) and written as lyrics, which MuseScore draws. The
    label table (:func:`~qbdi_musicology.analysis.chords.label_chords`) is kept on the new
    score as ``chord_labels``. Example: bwv66.6 gets "F#m" over bar 1 and "i" under it.
    """
    from music21 import metadata, stream
    source = _as_score(score)
    analysed = analyse_score(source, per=per, key=key, name="score")
    staves = _staves_of(source, "Score")
    _align([staves])
    _write_labels(staves, analysed.table, _positions(analysed.table, per, 0.0))
    out = stream.Score()
    out.metadata = copy.deepcopy(source.metadata) if source.metadata is not None \
        else metadata.Metadata()
    _assemble(out, [(staves, "", "")])
    for part, name in zip(out.parts, staves.names):
        part.partName = name
        part.partAbbreviation = None
    _renumber(out)
    set_score_fields(out, {**score_fields(source), "analysis key": key_name(analysed.key),
                           "analysis per": per})
    out.chord_labels = analysed.table
    return out


def _improvisation_name(rate: Any) -> str:
    """``'improvisation at 8 bits/bar'``; a label that is not a rate: ``'improvisation take1'``."""
    label = rate_text(rate)
    if not label:
        return "improvisation"
    try:
        float(rate)
    except (TypeError, ValueError):
        return f"improvisation {label}"
    return f"improvisation at {label}"


def _rate_field(rate: Any) -> dict[str, Any]:
    return {} if rate is None else {"rate": rate}


def _legend(per: str) -> str:
    """What the marks mean, in two lines: the page-1 header has little room to spare."""
    return ("Chord symbols above the top staff of each score, Roman numerals (query's key) "
            f"under its lowest; labels per {per}.\n"
            "Red notes and 'X vs Y': a collision, the query's chord X against the "
            "improvisation's Y (mostly foreign notes).")


def write_annotated(query, improvisation, path, *, rate: Any = None, per: str = "bar",
                    key=None, compressed: bool | None = None,
                    fields: Mapping[str, Any] | None = None,
                    min_foreign_share: float = MIN_FOREIGN_SHARE,
                    min_tonnetz_distance: float = MIN_TONNETZ_DISTANCE,
                    query_analysis: AnalysedScore | None = None,
                    improvisation_analysis: AnalysedScore | None = None) -> Path:
    """Write :func:`annotate_pair` to ``path`` (``.musicxml``, or ``.mxl`` compressed)."""
    score = annotate_pair(query, improvisation, rate=rate, per=per, key=key,
                          min_foreign_share=min_foreign_share,
                          min_tonnetz_distance=min_tonnetz_distance,
                          query_analysis=query_analysis,
                          improvisation_analysis=improvisation_analysis)
    return write_musicxml(score, path, compressed=compressed, fields=fields,
                          copy_score=False)  # a score built here, only to be written


# ----------------------------------------------------------------------------------------
# the drift overview


def grand_staff_reduction(score, label: str) -> _Staves:
    """The score on one grand staff: every sounding note, split at middle C.

    The score is chordified (music21 slices it at every onset), so each staff holds one
    chord or rest at a time. Example: a four-voice chorale becomes soprano and alto on the
    treble staff and tenor and bass (below middle C) on the bass staff, bar for bar.
    """
    from music21 import chord, clef, note, stream
    if not score.recurse().getElementsByClass(stream.Measure):
        raise InputError(f"the {label} has no bars (measures) to reduce to a grand staff")
    chordified = score.chordify()
    measures = list(chordified.getElementsByClass(stream.Measure))
    upper, lower = [], []
    for i, m in enumerate(measures):
        mu, ml = stream.Measure(number=m.number), stream.Measure(number=m.number)
        mu.paddingLeft = ml.paddingLeft = m.paddingLeft
        if i == 0:
            mu.insert(0, clef.TrebleClef())
            ml.insert(0, clef.BassClef())
        for el in m:
            if "TimeSignature" in el.classes or "KeySignature" in el.classes:
                mu.insert(el.offset, copy.deepcopy(el))
                ml.insert(el.offset, copy.deepcopy(el))
                continue
            if not isinstance(el, (chord.Chord, note.Note, note.Rest)):
                continue
            notes = list(el.notes) if isinstance(el, chord.Chord) else \
                ([el] if isinstance(el, note.Note) else [])
            for target, keep in ((mu, lambda p: p.ps >= MIDDLE_C),
                                 (ml, lambda p: p.ps < MIDDLE_C)):
                # the chordified copy is thrown away: its notes can move without copying
                chosen = [n for n in notes if keep(n.pitch)]
                for n in chosen:
                    n.lyrics = []  # sung text has no place in a reduction
                ql = el.duration.quarterLength
                if not chosen:
                    target.insert(el.offset, note.Rest(quarterLength=ql))
                elif len(chosen) == 1:
                    n = chosen[0]
                    n.duration.quarterLength = ql
                    target.insert(el.offset, n)
                else:
                    c = chord.Chord(chosen, quarterLength=ql)
                    target.insert(el.offset, c)
        upper.append(mu)
        lower.append(ml)
    return _Staves([label, label], [upper, lower], [(0, 1)],
                   [stream.PartStaff, stream.PartStaff])


def drift_overview(query, improvisations: Mapping[Any, Any], *, per: str = "bar", key=None,
                   min_foreign_share: float = MIN_FOREIGN_SHARE,
                   min_tonnetz_distance: float = MIN_TONNETZ_DISTANCE,
                   query_analysis: AnalysedScore | None = None,
                   analyses: Mapping[Any, AnalysedScore] | None = None):
    """The query over every rate's improvisation, one grand staff each, highest rate first.

    Each grand staff carries its chord symbols and Roman numerals; collisions with the query
    are red. Reading a bar downwards shows what each rate kept of the query's harmony.
    ``query_analysis`` and ``analyses`` (by rate) reuse analyses the caller made already,
    as in :func:`annotate_pair`.
    """
    from music21 import metadata, stream
    from ..analysis.drift import _sort_rates
    if not improvisations:
        raise InputError("no improvisations for the drift overview; give at least one")
    query = _as_score(query)
    q = query_analysis or analyse_score(query, per=per, key=key, name="query")
    if q.key is None:
        raise InputError("the query has no sounding notes, so no key can be found")
    rates = _sort_rates(list(improvisations))
    groups = [grand_staff_reduction(query, "Query")]
    given = dict(analyses or {})
    made = []
    for rate in rates:
        original = _as_score(improvisations[rate])
        improv = on_query_bars(original, query)
        _, i, pairs = _analysis_of(query, improv, per, key, min_foreign_share,
                                   min_tonnetz_distance, query_analysis=q,
                                   improvisation_analysis=given.get(rate)
                                   if improv is original else None)
        made.append((rate, i, pairs))
        groups.append(grand_staff_reduction(improv, rate_text(rate) or str(rate)))
    _match_meter_signs(groups[0], groups[1:])
    n_bars, shifts = _align(groups)
    _write_labels(groups[0], q.table, _positions(q.table, per, shifts[0]))
    from ..analysis.drift import _bar_triad_agreement, _grid_bars
    query_bars = _grid_bars(query)
    summary = []
    for g, shift, (rate, i, pairs) in zip(groups[1:], shifts[1:], made):
        counts = _write_labels(g, i.table, _positions(i.table, per, shift),
                               collisions=_improv_collisions(i, pairs))
        # no rehearsal marks here: MuseScore stacks them all over the top staff; the staff
        # names say the rates
        summary.append((rate, _bar_triad_agreement(query_bars, improvisations[rate]),
                        counts["collisions"]))
    title = score_title(query)
    out = stream.Score()
    out.metadata = metadata.Metadata()
    out.metadata.title = f"{title}: harmonic drift over {len(rates)} rates"
    set_score_fields(out, {"query title": title, "rates": ", ".join(
        rate_text(r) for r in rates), "analysis key": key_name(q.key), "analysis per": per})
    labelled = [(groups[0], "Query", "Q.")] + [
        (g, rate_text(r), rate_short(r)) for g, r in zip(groups[1:], rates)]
    _assemble(out, labelled)
    _renumber(out)
    facts = overview_facts(key_name(q.key), per, n_bars, summary)
    header_mm = _header(out, out.metadata.title, "\n".join(facts), _legend(per))
    # a whole system on a page; no larger than the annotated scores: sixteenths need room
    _scale(out, staff_height_mm(len(out.parts), largest=STAFF_MM_DENSE, header_mm=header_mm))
    return mark_write_only(out)  # built here: the writer need not copy it


def overview_facts(key: str, per: str, n_bars: int,
                   summary: list[tuple[Any, float, int]]) -> list[str]:
    """The lines of the overview's facts block: key, then each rate's agreement and collisions.

    ``summary`` holds (rate, triad agreement, collisions) from the highest rate down (the
    bar triad agreement of ``qbdi evaluate`` and the drift table). Up to
    five rates get a line each; more are written two to a line in a short form under a
    heading, so that ten rates take seven lines and the header leaves room for the system
    on page 1. Example, three rates::

        Key: f# minor; labels per bar, 10 bars
        full rate: triad agreement 0.50, 0 collisions
        8 bits/bar: triad agreement 0.10, 3 collisions
        0 bits/bar: triad agreement 0.20, 4 collisions

    and eight: ``Key: ...``, ``Triad agreement, collisions by rate (bits/bar):``, then
    ``full: 0.50, 0    256: 0.50, 0`` and three more such lines.
    """
    lines = [f"Key: {key}; labels per {per}, {n_bars} bars"]
    if len(summary) <= RATES_ONE_PER_LINE:
        return lines + [f"{rate_text(rate)}: triad agreement {agreement:.2f}, {clashes} collisions"
                        for rate, agreement, clashes in summary]
    short = [f"{rate_short(rate)}: {agreement:.2f}, {clashes}"
             for rate, agreement, clashes in summary]
    lines.append("Triad agreement, collisions by rate (bits/bar):")
    lines += ["    ".join(short[k:k + 2]) for k in range(0, len(short), 2)]
    return lines


def write_overview(query, improvisations: Mapping[Any, Any], path, *, per: str = "bar",
                   key=None, compressed: bool | None = None,
                   fields: Mapping[str, Any] | None = None,
                   min_foreign_share: float = MIN_FOREIGN_SHARE,
                   min_tonnetz_distance: float = MIN_TONNETZ_DISTANCE,
                   query_analysis: AnalysedScore | None = None,
                   analyses: Mapping[Any, AnalysedScore] | None = None) -> Path:
    """Write :func:`drift_overview` to ``path`` (``.musicxml``, or ``.mxl`` compressed)."""
    score = drift_overview(query, improvisations, per=per, key=key,
                           min_foreign_share=min_foreign_share,
                           min_tonnetz_distance=min_tonnetz_distance,
                           query_analysis=query_analysis, analyses=analyses)
    return write_musicxml(score, path, compressed=compressed, fields=fields,
                          copy_score=False)  # a score built here, only to be written
