"""Harmony written into staves: chord symbols, Roman numerals as lyrics, collisions in red."""

from __future__ import annotations

import copy
import functools
import logging

import pandas as pd

from ..analysis.chords import NO_CHORD
from ..analysis.collisions import _ordinal_keys

log = logging.getLogger(__name__)

from .staves import _Staves

#: Colour of the improvisation's notes in a collision.
COLLISION_COLOUR = "#D01010"


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


def _legend(per: str) -> str:
    """What the marks mean, in two lines: the page-1 header has little room to spare."""
    return ("Chord symbols above the top staff of each score, Roman numerals (query's key) "
            f"under its lowest; labels per {per}.\n"
            "Red notes and 'X vs Y': a collision, the query's chord X against the "
            "improvisation's Y (mostly foreign notes).")
