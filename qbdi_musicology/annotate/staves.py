"""Staves of annotated scores: bar-aligned copies of a score's staves, braces, bar numbers.

Every staff of a query or an improvisation is copied measure by measure (the scores come
on their metric bars, see :mod:`qbdi_musicology.bars`), aligned bar by bar with the other
scores' staves and assembled into one score; a score can also be reduced to one grand
staff (the drift overview).
"""

from __future__ import annotations

import copy
import logging
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError

log = logging.getLogger(__name__)

#: Lowest pitch written on the treble staff of a grand-staff reduction (middle C).
MIDDLE_C = 60


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
