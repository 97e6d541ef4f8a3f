"""The metric bars of a score, found once and used by every later step.

A printed score's measures are not always its metric bars. A chorale often notates a phrase
ending as a *split bar* (bwv13.6: three beats, a double barline, then one beat: one 4/4 bar
in two measures); a piece may open with a *pickup* (anacrusis) and close on an incomplete
bar; the meter may change. :func:`bar_structure` reads all of this from the score once:

* consecutive short measures that add up to a full bar of their meter are joined;
* a short first measure followed by full ones is a **pickup** (kept short);
* a short last measure is a **final** incomplete bar (kept short);
* any other short measure stays a bar of its own (``kind="short"``).

:func:`metric_score` then writes every part again on exactly these bars, so that the model's
input (:func:`qbdi_musicology.pianoroll.convert_score`), the improvisation, the query staves
of every annotated score and every analysis count the same bars.

**Meters and the model's grid.** The shipped model reads 4/4 bars of 16 steps. A bar in
another meter is mapped onto those 16 steps and back (:func:`to_model_bar`,
:func:`from_model_bar`), in one of two ways (``meter_map``):

* ``"scale"`` (default): the whole bar is stretched or squeezed onto the 16 steps, so that
  its beats fall where the model's do whenever the numbers allow: a 6/8 bar's two
  dotted-quarter beats land on steps 0 and 8 (the model's half bars), a 12/8 bar's four on
  the model's four beats, a 2/4 bar's two quarters on the model's half notes. A 3/4 bar's
  beats land on steps 0, 5 and 11. The rhythm the model hears is the bar's, at another
  speed; the improvisation is squeezed back into the bar's own length.
* ``"pad"``: the bar is read at the model's own speed (a sixteenth is a step) from the
  model bar's start; a short bar leaves the end of the model bar silent and the
  improvisation's steps past the bar's length are dropped. Bars longer than the model's
  (3/2, 12/8) cannot be padded and are scaled.

Pickups sit at the end of their model bar (the upbeat is where it would be in a full bar),
final and other short bars at its start.
"""

from __future__ import annotations

import copy
import logging
import math
from functools import lru_cache
import weakref
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from .errors import InputError, ParameterError
from .grid import ARTICULATE, PLAY, Grid
from .gcpause import without_gc_pauses

log = logging.getLogger(__name__)

METER_MAPS = ("scale", "pad")
BAR_KINDS = ("full", "pickup", "final", "short")
#: Lengths are compared to this many quarter notes: a notation program's rounding noise
#: (a bar of 40319/10080 quarters) is not a short bar.
TOLERANCE = Fraction(1, 64)
#: Marks a score written by :func:`metric_score` (so that it is not rebuilt again).
METRIC_MARK = "_qbdi_metric_bars"


@dataclass(frozen=True)
class Bar:
    """One metric bar: where it starts, how long it is, its meter and what kind of bar.

    ``offset`` and ``length`` are in quarter notes from the start of the score; ``full`` is
    the length of a complete bar of ``meter``. Example: the upbeat of bwv66.6 is
    ``Bar(number=0, offset=0, length=1, full=4, meter='4/4', kind='pickup')``.
    """

    number: int
    offset: Fraction
    length: Fraction
    full: Fraction
    meter: str
    kind: str
    measures: tuple[str, ...] = ()
    symbol: str = ""

    def time_signature(self):
        """A new music21 TimeSignature of the bar, with the source's sign ("C", cut time)."""
        from music21 import meter

        ts = meter.TimeSignature(self.meter)
        if self.symbol:
            ts.symbol = self.symbol
        return ts

    @property
    def end(self) -> Fraction:
        return self.offset + self.length

    @property
    def padding(self) -> Fraction:
        """Quarter notes missing before the bar's music (a pickup's), else 0."""
        return self.full - self.length if self.kind == "pickup" else Fraction(0)


@dataclass(frozen=True)
class BarStructure:
    """The metric bars of a score, in order. ``len(structure)`` is the number of bars.

    Example: bwv13.6 has 15 measures (three split bars) and 12 metric bars plus its pickup.
    """

    bars: tuple[Bar, ...]

    def __len__(self) -> int:
        return len(self.bars)

    def __iter__(self):
        return iter(self.bars)

    def __getitem__(self, i: int) -> Bar:
        return self.bars[i]

    @property
    def meters(self) -> tuple[str, ...]:
        """The meters in the order they first appear, e.g. ``('4/4', '3/4')``."""
        return tuple(dict.fromkeys(b.meter for b in self.bars))

    @property
    def length(self) -> Fraction:
        """The whole score's length in quarter notes."""
        return self.bars[-1].end if self.bars else Fraction(0)

    def describe(self) -> str:
        """One line for people: bars, meters, pickup, final and joined bars."""
        joined = sum(1 for b in self.bars if len(b.measures) > 1)
        parts = [f"{len(self.bars)} bar(s) in {', '.join(self.meters) or 'no meter'}"]
        if self.bars and self.bars[0].kind == "pickup":
            parts.append(f"a pickup of {float(self.bars[0].length):g} quarter(s)")
        if self.bars and len(self.bars) > 1 and self.bars[-1].kind == "final":
            parts.append(f"a final bar of {float(self.bars[-1].length):g} quarter(s)")
        if joined:
            parts.append(f"{joined} split bar(s) joined")
        return "; ".join(parts)

    def to_list(self) -> list[dict[str, Any]]:
        """Plain rows (for tables and metadata)."""
        return [dict(number=b.number, offset=float(b.offset), length=float(b.length),
                     meter=b.meter, kind=b.kind, measures="+".join(b.measures))
                for b in self.bars]


def _q(value) -> Fraction:
    return Fraction(value).limit_denominator(10_080)


def _near(a: Fraction, b: Fraction) -> bool:
    return abs(a - b) <= TOLERANCE


def _check_meter(ts, where: str) -> Fraction:
    """The full-bar length of a time signature; nonsense meters are an InputError."""
    try:
        full = _q(ts.barDuration.quarterLength)
        numerator, denominator = int(ts.numerator), int(ts.denominator)
    except Exception as exc:  # music21 raises its own errors for broken meters
        raise InputError(f"{where}: time signature {ts!r} cannot be read ({exc}); correct "
                         "it in a notation program") from None
    if numerator <= 0 or denominator <= 0 or denominator & (denominator - 1) or full <= 0:
        raise InputError(f"{where}: time signature {ts.ratioString} is not a meter (the "
                         "beat unit must be a power of two and the bar longer than 0); "
                         "correct it in a notation program")
    if full > 64:
        raise InputError(f"{where}: time signature {ts.ratioString} makes bars of "
                         f"{float(full):g} quarter notes; more than 64 is not a meter")
    return full


def _reference_measures(score):
    from music21 import stream

    parts = list(score.parts) if isinstance(score, stream.Score) else [score]
    best = None
    for part in parts:
        measures = list(part.getElementsByClass(stream.Measure))
        if measures and (best is None or len(measures) > len(best[1])):
            best = (part, measures)
    return best


def bar_structure(score, *, where: str = "score",
                  quantum: Fraction = Fraction(1, 4)) -> BarStructure:
    """The metric bars of ``score`` (see the module's description for the rules).

    Read from the part with the most measures; a score without measures (a bare stream of
    notes) is cut into bars of its first time signature (4/4 if it has none). A short bar's
    length is rounded to ``quantum`` quarter notes (the model's step, a sixteenth), the
    resolution at which its notes are read: a MIDI bar of 1.875 quarters is a bar of two.
    Example: ``bar_structure(corpus.parse("bach/bwv13.6"))`` joins measures 4 and 4a into
    bar 4, keeps the one-beat pickup as bar 0 and the three-beat last bar as a final bar.
    """
    from music21 import meter, stream

    if getattr(score, METRIC_MARK, None) is not None:
        return getattr(score, METRIC_MARK)
    found = _reference_measures(score)
    if found is None:
        ts = next(iter(score.recurse().getElementsByClass(meter.TimeSignature)), None) \
            or meter.TimeSignature("4/4")
        full = _check_meter(ts, where)
        total = _q(score.highestTime) if score.highestTime else Fraction(0)
        n = max(1, math.ceil(total / full - Fraction(1, 10_000)))
        bars = tuple(Bar(i + 1, full * i, full, full, ts.ratioString, "full", (str(i + 1),))
                     for i in range(n))
        return BarStructure(bars)
    part, measures = found
    base = _q(part.offset) if part.activeSite is not None and isinstance(
        part.activeSite, stream.Score) else Fraction(0)
    ts = None
    raw = []  # (offset, length, full, meter, label)
    for i, m in enumerate(measures):
        if m.timeSignature is not None:
            ts = m.timeSignature
        if ts is None:
            ts = meter.TimeSignature("4/4")
        full = _check_meter(ts, f"{where}, measure {m.number}")
        start = base + _q(m.offset)
        if i + 1 < len(measures):
            length = base + _q(measures[i + 1].offset) - start
        else:
            length = _q(m.duration.quarterLength)
        if length <= 0:
            continue  # an empty measure object (no time): nothing to count
        label = f"{m.number}{m.numberSuffix or ''}"
        raw.append((start, length, full, ts.ratioString, label, ts.symbol or ""))
    bars: list[Bar] = []
    i = 0
    number = None
    while i < len(raw):
        start, length, full, meter_text, label, symbol = raw[i]
        labels = [label]
        j = i + 1
        if length < full - TOLERANCE:
            # join following short measures of the same meter while they fit the bar
            total = length
            while j < len(raw) and raw[j][3] == meter_text and total < full - TOLERANCE \
                    and raw[j][1] < full - TOLERANCE and total + raw[j][1] <= full + TOLERANCE:
                total += raw[j][1]
                labels.append(raw[j][4])
                j += 1
            length = total
        if length > full + TOLERANCE:
            # an over-full measure (a final breve written in one 4/4 measure): cut into
            # bars of its meter, the rest a bar of its own
            if number is None:
                number = 1
            while length > full + TOLERANCE:
                if bars:
                    start = bars[-1].end
                bars.append(Bar(number, start, full, full, meter_text, "full", tuple(labels),
                                symbol))
                number += 1
                start += full
                length -= full
            if length <= TOLERANCE:
                i = j
                continue
        if bars:  # bars follow each other without gaps: rounding noise does not add up
            start = bars[-1].end
        if _near(length, full):
            kind = "full"
            length = full
        else:
            length = max(quantum, _quantise(length, quantum))
        if length == full:
            kind = "full"
        elif i == 0 and j < len(raw) and not bars:
            kind = "pickup"
        elif j >= len(raw):
            kind = "final"
        else:
            kind = "short"
        if number is None:
            number = 0 if kind == "pickup" else 1
        bars.append(Bar(number, start, length, full, meter_text, kind, tuple(labels), symbol))
        number += 1
        i = j
    return BarStructure(tuple(bars))


# ----------------------------------------------------------------------------------------
# the model's grid


def native_steps(bar: Bar, grid: Grid) -> tuple[int, int]:
    """(steps of the bar's music, steps of a full bar of its meter) at the grid's step length.

    Example: on the paper's grid (sixteenth steps) a 6/8 bar is ``(12, 12)``, the upbeat of
    bwv66.6 ``(4, 16)``.
    """
    step = Fraction(grid.step_quarter_length)
    full = bar.full / step
    length = bar.length / step
    if full.denominator != 1:
        raise InputError(f"bar {bar.number} in {bar.meter}: a bar of {float(bar.full):g} "
                         f"quarter notes is not a whole number of the grid's steps "
                         f"({float(step):g} quarter); use a grid with finer steps")
    return max(1, int(round(length))), int(full)


def beat_steps(bar: Bar, grid: Grid) -> int:
    """Steps per beat of the bar's meter on the grid: 4 in 4/4, 6 in 6/8, 8 in 3/2."""
    beat = _beat_quarters(bar.meter) / Fraction(grid.step_quarter_length)
    return max(1, int(round(beat)))


@lru_cache(maxsize=64)
def _beat_quarters(meter_text: str) -> Fraction:
    """The beat of a meter in quarter notes (music21 builds a meter slowly: once each)."""
    from music21 import meter

    return _q(meter.TimeSignature(meter_text).beatDuration.quarterLength)


def _notes_of(roll: np.ndarray) -> list[tuple[int, int, int, bool]]:
    """(row, start, end, struck) of every note in a (steps, pitches, 2) roll."""
    play, art = roll[..., PLAY], roll[..., ARTICULATE]
    out = []
    steps = play.shape[0]
    for row in np.nonzero(play.any(axis=0))[0]:
        s = 0
        col_p, col_a = play[:, row], art[:, row]
        while s < steps:
            if not col_p[s]:
                s += 1
                continue
            e = s + 1
            while e < steps and col_p[e] and not col_a[e]:
                e += 1
            out.append((int(row), s, e, bool(col_a[s])))
            s = e
    return out


def resample(roll: np.ndarray, steps: int) -> np.ndarray:
    """A roll of one bar stretched or squeezed to ``steps`` steps, note by note.

    Each note keeps its pitch; its start and end move to the nearest new step (a note never
    vanishes: it keeps at least one step). Stretching and then squeezing back gives the
    original roll. Example: a 6/8 bar (12 steps) with dotted quarters on steps 0 and 6
    becomes a 16-step bar with half notes on steps 0 and 8.
    """
    n = roll.shape[0]
    out = np.zeros((steps,) + roll.shape[1:], dtype=bool)
    if n == steps:
        out[:] = roll
        return out
    ratio = Fraction(steps, n)

    def place(x: int) -> int:
        return int(math.floor(x * ratio + Fraction(1, 2)))

    for row, s, e, struck in _notes_of(roll):
        a, b = place(s), place(e)
        a = min(a, steps - 1)
        b = max(b, a + 1)
        out[a:b, row, PLAY] = True
        if struck:
            out[a, row, ARTICULATE] = True
    return out


def _check_map(meter_map: str) -> str:
    if meter_map not in METER_MAPS:
        raise ParameterError(f"meter_map={meter_map!r}: choose 'scale' (each bar stretched "
                             "onto the model's bar) or 'pad' (read at the model's speed)")
    return meter_map


def to_model_bar(native: np.ndarray, bar: Bar, grid: Grid, meter_map: str = "scale"
                 ) -> np.ndarray:
    """One bar's roll at the grid's step length (its own length) as one model bar.

    A pickup is first placed at the end of a full bar of its meter, a final or short bar at
    its start; then the full bar is mapped by ``meter_map``.
    """
    _check_map(meter_map)
    n, full = native_steps(bar, grid)
    whole = np.zeros((full,) + native.shape[1:], dtype=bool)
    take = native[:min(n, full)]
    if bar.kind == "pickup":
        whole[full - len(take):] = take
    else:
        whole[:len(take)] = take
    if full == grid.steps:
        return whole
    if meter_map == "pad" and full < grid.steps:
        out = np.zeros((grid.steps,) + native.shape[1:], dtype=bool)
        out[:full] = whole
        return out
    return resample(whole, grid.steps)


def from_model_bar(model_bar: np.ndarray, bar: Bar, grid: Grid, meter_map: str = "scale"
                   ) -> np.ndarray:
    """The inverse of :func:`to_model_bar`: a model bar as the bar's own steps."""
    _check_map(meter_map)
    n, full = native_steps(bar, grid)
    if full == grid.steps:
        whole = np.array(model_bar, dtype=bool)
    elif meter_map == "pad" and full < grid.steps:
        whole = np.array(model_bar[:full], dtype=bool)
    else:
        whole = resample(model_bar, full)
    if bar.kind == "pickup":
        return whole[full - n:]
    return whole[:n]


def as_written(bars: np.ndarray, structure: BarStructure, grid: Grid,
               meter_map: str = "scale") -> np.ndarray:
    """Model bars as they come back from the score they are written into.

    Each bar goes into its query bar's own length and meter (:func:`from_model_bar`) and is
    read again (:func:`to_model_bar`): a pickup keeps only its last beats, a 3/4 bar what
    survives the squeeze into twelve sixteenths. Measures of an improvisation computed on
    these bars are the measures of the written file. Bars in the grid's own meter are
    returned unchanged.
    """
    if len(structure) != len(bars):
        raise ParameterError(f"{len(bars)} bars for a structure of {len(structure)}")
    out = np.array(bars, dtype=bool, copy=True)
    for i, bar in enumerate(structure.bars):
        n, full = native_steps(bar, grid)
        if n == full == grid.steps:
            continue
        out[i] = to_model_bar(from_model_bar(out[i], bar, grid, meter_map), bar, grid,
                              meter_map)
    return out


def uniform_structure(n_bars: int, grid: Grid) -> BarStructure:
    """``n_bars`` full bars of the grid's own meter (an improvisation without a query)."""
    full = Fraction(grid.bar_quarter_length)
    return BarStructure(tuple(Bar(i + 1, full * i, full, full, grid.time_signature, "full",
                                  (str(i + 1),)) for i in range(n_bars)))


# ----------------------------------------------------------------------------------------
# a score written on its metric bars


def _quantise(value: Fraction, quantum: Fraction) -> Fraction:
    return Fraction(math.floor(value / quantum + Fraction(1, 2))) * quantum


@dataclass
class _Head:
    start: Fraction
    end: Fraction
    pitch: Any
    source: Any  # the note it came from (lyrics, expressions, articulations)


def _heads_of(part, quantum: Fraction, base: Fraction, *,
              numerals: bool = False) -> list[_Head]:
    """Every sounding pitch of a part as one head from its attack to its release.

    Tied notes are joined (the new bars decide where ties go); grace notes, unpitched
    notes and chord symbols are left out. ``numerals``: Roman numerals count as the chords
    they name (a RomanText analysis has no other notes).
    """
    from music21 import harmony, note, roman

    heads: list[_Head] = []
    open_ties: dict[float, _Head] = {}
    for el in part.flatten().notes:
        if numerals and isinstance(el, roman.RomanNumeral) and el.pitches:
            pass  # the chord the numeral names, as music21 voices it
        elif isinstance(el, (harmony.Harmony, roman.RomanNumeral, note.Unpitched)) or \
                "PercussionChord" in el.classes:
            continue
        if el.duration.isGrace or el.quarterLength <= 0:
            continue
        start = _quantise(base + _q(el.offset), quantum)
        end = _quantise(base + _q(el.offset) + _q(el.quarterLength), quantum)
        if end <= start:
            end = start + quantum
        members = [el] if isinstance(el, note.Note) else list(el.notes)
        for n in members:
            tie = n.tie.type if n.tie is not None else (
                el.tie.type if isinstance(el, note.Note) and el.tie is not None else None)
            ps = float(n.pitch.ps)
            held = open_ties.get(ps)
            if tie in ("stop", "continue") and held is not None and held.end >= start - quantum:
                held.end = max(held.end, end)
                if tie == "stop":
                    open_ties.pop(ps, None)
                continue
            head = _Head(start, end, n.pitch, el if isinstance(el, note.Note) else n)
            if isinstance(el, note.Note) is False and not n.lyrics and el.lyrics:
                head.source = el  # a chord's lyric belongs to the chord
            heads.append(head)
            if tie in ("start", "continue"):
                open_ties[ps] = head
            else:
                open_ties.pop(ps, None)
    return heads


def _voices_for(pieces: list[tuple[Fraction, Fraction, list]]) -> list[list]:
    """Chords of one bar shared among as few voices as keep each voice free of overlaps."""
    voices: list[list] = []
    ends: list[Fraction] = []
    for start, end, heads in sorted(pieces, key=lambda p: (p[0], -(p[1] - p[0]))):
        for v, last in enumerate(ends):
            if last <= start:
                voices[v].append((start, end, heads))
                ends[v] = end
                break
        else:
            voices.append([(start, end, heads)])
            ends.append(end)
    return voices


def _bar_pieces(heads: list[_Head], bar: Bar) -> list[tuple[Fraction, Fraction, list]]:
    """(start, end, [(head, tie, first)]) of the heads in ``bar``, grouped into chords."""
    groups: dict[tuple[Fraction, Fraction], list] = {}
    for h in heads:
        if h.end <= bar.offset or h.start >= bar.end:
            continue
        a, b = max(h.start, bar.offset), min(h.end, bar.end)
        if b <= a:
            continue
        from_before, to_after = h.start < bar.offset, h.end > bar.end
        tie = ("continue" if from_before and to_after else "stop" if from_before
               else "start" if to_after else None)
        groups.setdefault((a - bar.offset, b - bar.offset), []).append(
            (h, tie, not from_before))
    return [(a, b, members) for (a, b), members in groups.items()]


def _element_for(start: Fraction, end: Fraction, members: list):
    from music21 import chord, note, tie as m21tie

    made = []
    for head, tie, first in sorted(members, key=lambda m: m[0].pitch.ps):
        n = note.Note(copy.deepcopy(head.pitch))
        n.quarterLength = end - start
        if tie is not None:
            n.tie = m21tie.Tie(tie)
        if first:
            src = head.source
            for lyric in getattr(src, "lyrics", []) or []:
                n.lyrics.append(copy.deepcopy(lyric))
            for attr in ("expressions", "articulations"):
                items = [copy.deepcopy(x) for x in getattr(src, attr, []) or []
                         if "Fermata" in x.classes or attr == "articulations"]
                setattr(n, attr, items)
        made.append(n)
    if len(made) == 1:
        return made[0]
    c = chord.Chord(made)
    c.quarterLength = end - start
    lyrics = [ly for n in made for ly in n.lyrics]
    for n in made:
        n.lyrics = []
    c.lyrics = lyrics[:1]
    return c


def _fill_voice(holder, items: list, length: Fraction, hidden: bool) -> None:
    """Insert the voice's chords and the rests between them."""
    from music21 import note

    pos = Fraction(0)
    for start, end, members in items:
        if start > pos:
            rest = note.Rest(quarterLength=start - pos)
            rest.style.hideObjectOnPrint = hidden
            holder.insert(pos, rest)
        holder.insert(start, _element_for(start, end, members))
        pos = end
    if pos < length:
        rest = note.Rest(quarterLength=length - pos)
        rest.style.hideObjectOnPrint = hidden and pos > 0
        holder.insert(pos, rest)


def _placed(part, cls_names: tuple[str, ...], base: Fraction):
    """(offset, element) of every element of these classes in a part, first of each offset."""
    out = []
    for el in part.flatten().getElementsByClass(cls_names):
        out.append((base + _q(el.offset), el))
    return out


def _bar_index(structure: BarStructure, offset: Fraction) -> int:
    for i, bar in enumerate(structure.bars):
        if offset < bar.end - TOLERANCE / 2:
            return i
    return len(structure.bars) - 1


def _metric_part(part, structure: BarStructure, quantum: Fraction, base: Fraction, *,
                 first_part: bool, numerals: bool = False):
    from music21 import stream

    new = type(part)() if isinstance(part, stream.Part) else stream.Part()
    if isinstance(part.id, str):
        new.id = part.id
    new.partName = part.partName
    new.partAbbreviation = part.partAbbreviation
    inst = part.getInstrument(returnDefault=False)
    if inst is not None:
        new.insert(0, copy.deepcopy(inst))
    heads = _heads_of(part, quantum, base, numerals=numerals)
    clefs = _placed(part, ("Clef",), base)
    keys = _placed(part, ("KeySignature",), base)
    tempos = _placed(part, ("MetronomeMark",), base) if first_part else []
    extras: dict[int, list] = {}
    for items in (clefs, keys, tempos):
        seen_bars: set[int] = set()
        for offset, el in items:
            i = _bar_index(structure, offset)
            if i in seen_bars:
                continue
            seen_bars.add(i)
            extras.setdefault(i, []).append(el)
    previous_meter = None
    for i, bar in enumerate(structure.bars):
        m = stream.Measure(number=bar.number)
        if bar.kind == "pickup":
            m.paddingLeft = float(bar.padding)
        elif bar.length < bar.full:
            m.paddingRight = float(bar.full - bar.length)
        for el in extras.get(i, []):
            m.insert(0, copy.deepcopy(el))
        if (bar.meter, bar.symbol) != previous_meter:
            m.insert(0, bar.time_signature())
            previous_meter = (bar.meter, bar.symbol)
        pieces = _bar_pieces(heads, bar)
        voices = _voices_for(pieces)
        if len(voices) <= 1:
            _fill_voice(m, voices[0] if voices else [], bar.length, hidden=False)
        else:
            for v, items in enumerate(voices):
                voice = stream.Voice(id=str(v + 1))
                _fill_voice(voice, items, bar.length, hidden=v > 0)
                m.insert(0, voice)
        new.append(m)
    if not new.getElementsByClass(stream.Measure).first().getElementsByClass("Clef"):
        new.getElementsByClass(stream.Measure).first().insert(0, copy.deepcopy(
            clefs[0][1]) if clefs else _default_clef(heads))
    return new


def _default_clef(heads: list[_Head]):
    from music21 import clef

    if heads and float(np.mean([h.pitch.ps for h in heads])) < 55:
        return clef.BassClef()
    return clef.TrebleClef()


@without_gc_pauses
def metric_score(score, *, quantum: Fraction | None = None, grid: Grid | None = None,
                 where: str = "score"):
    """A new score with every part written on the score's metric bars.

    Split bars are joined into one measure, a pickup stays a short first bar and a final
    incomplete bar a short last bar; each part's notes are placed by their time in the
    piece (never by the source's measure objects), tied over the new barlines, and a part
    whose notes overlap (a MIDI track) is written in voices so that every bar is exactly
    full. Onsets and ends are moved to the nearest ``quantum`` (default: the grid's step,
    a sixteenth), the resolution at which the model reads the music, so that reading the
    written score back gives the model's input bars exactly. A score of Roman numerals
    only (a RomanText analysis) is written as the chords the numerals name. Lyrics,
    fermatas, clefs, key signatures and the first tempo mark are kept; part names, staff groups (a piano's
    brace) and metadata too. The input is not changed; a score made here is returned as
    is. Example: bwv13.6's 15 measures become 13 bars (pickup, 11 full bars, final bar).
    """
    from music21 import layout, metadata, stream

    if getattr(score, METRIC_MARK, None) is not None:
        return score
    grid = grid or Grid()
    quantum = Fraction(quantum) if quantum is not None else Fraction(grid.step_quarter_length)
    wanted = (quantum, _fingerprint(score))
    try:
        known = _MADE.get(score)
    except TypeError:  # not weakly referable
        known = None
    if known is not None and known[0] == wanted:
        return known[1]
    source = score
    if isinstance(score, stream.Part):
        score = stream.Score([score])
    structure = bar_structure(score, where=where, quantum=quantum)
    parts = list(score.parts) if isinstance(score, stream.Score) and score.parts else [score]
    # an analysis alone (RomanText): its numerals are the music, realised as chords
    numerals = not any("RomanNumeral" not in n.classes and "Harmony" not in n.classes
                       for n in score.recurse().notes)
    out = stream.Score()
    out.metadata = copy.deepcopy(score.metadata) if score.metadata is not None \
        else metadata.Metadata()
    made = {}
    for k, part in enumerate(parts):
        base = _q(part.offset) if part is not score else Fraction(0)
        new = _metric_part(part, structure, quantum, base, first_part=(k == 0),
                           numerals=numerals)
        out.insert(0, new)
        made[id(part)] = new
    for group in score.getElementsByClass(layout.StaffGroup):
        members = [made[id(p)] for p in group.getSpannedElements() if id(p) in made]
        if members:
            out.insert(0, layout.StaffGroup(members, name=group.name,
                                            abbreviation=group.abbreviation,
                                            symbol=group.symbol, barTogether=group.barTogether))
    setattr(out, METRIC_MARK, structure)
    try:
        _MADE[source] = (wanted, out)
    except TypeError:
        pass
    return out


#: Scores already written on their bars in this process, by source score (identity): the
#: query of a sweep is annotated and analysed at every rate from one metric score.
_MADE: "weakref.WeakKeyDictionary[Any, tuple]" = weakref.WeakKeyDictionary()


def _fingerprint(score) -> tuple:
    """What an edit of the score would change: its length and its notes' times and pitches."""
    return (float(score.highestTime), tuple(
        (float(n.offset), float(n.quarterLength), tuple(p.ps for p in n.pitches))
        for n in score.recurse().notes))


def same_bars(a: BarStructure, b: BarStructure) -> bool:
    """True when two structures have the same bar lengths, meters and kinds, in order."""
    return len(a) == len(b) and all(
        x.length == y.length and x.meter == y.meter and x.kind == y.kind
        for x, y in zip(a.bars, b.bars))
