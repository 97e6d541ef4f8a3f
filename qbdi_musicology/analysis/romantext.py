"""A Roman-numeral analysis as text: RomanText (``.rntxt``) and a CSV of chord changes.

RomanText is the plain-text format of Tymoczko, Gotham, Cuthbert and Ariza (ISMIR 2019)
that music21 reads (``converter.parse(path, format='romanText')``) and in which the
analyses shipped with music21 are written::

    Time Signature: 4/4
    m0 b4 A: I
    m1 vi b2 I6 b3 IV b4 V6/V
    m2 E: V7 b3 I

One line per bar: ``m<bar>``, then the chords, each preceded by ``b<beat>`` unless it is on
the downbeat, and by ``<Key>:`` where the local key changes (upper case major, lower case
minor, ``b`` for flat: ``Bb:``, ``eb:``).

The CSV has one row per chord change with the columns ``measure, beat, root, quality,
roman, key`` (quality as the triad: major, minor, diminished, augmented, other), the
format in which predicted analyses are compared with human ones.
"""

from __future__ import annotations

import csv
import io

from .roman import RomanAnalysis

CSV_COLUMNS = ("measure", "beat", "root", "quality", "roman", "key")


def _beat_text(beat: float) -> str:
    text = f"{beat:.4f}".rstrip("0").rstrip(".")
    return text


def to_romantext(analysis: RomanAnalysis, *, title: str | None = None,
                 composer: str = "", analyst: str = "qbdi-musicology") -> str:
    """The analysis as RomanText; reading it back with music21 gives the same numerals.

    Example: a chorale in A major that moves to E major in bar 2 gives lines such as
    ``m1 vi b2 I6 b3 IV b4 V6/V`` and ``m2 E: V7 b3 I``.
    """
    c = analysis.chords
    lines = []
    name = title if title is not None else analysis.title
    if composer:
        lines.append(f"Composer: {composer}")
    lines.append(f"Title: {name or 'Untitled'}")
    lines.append(f"Analyst: {analyst}")
    lines.append("")
    current_ts = None
    by_measure: dict[int, list[str]] = {}
    order: list[int] = []
    for row in c.itertuples(index=False):
        m = int(row.measure)
        if m not in by_measure:
            by_measure[m] = []
            order.append(m)
            if row.time_signature != current_ts:
                by_measure[m].append(f"\x00Time Signature: {row.time_signature}")
                current_ts = row.time_signature
        token = row.roman
        if row.key_change:
            # RomanText writes flats as "b" (Bb:, eb:); "-" would be read as no key at all
            token = f"{row.key[0]}{row.key[1:].replace('-', 'b')}: {token}"
        beat = float(row.beat)
        if abs(beat - 1.0) > 1e-6 or any(not t.startswith("\x00") for t in by_measure[m]):
            token = f"b{_beat_text(beat)} {token}"
        by_measure[m].append(token)
    for m in order:
        tokens = by_measure[m]
        heads = [t[1:] for t in tokens if t.startswith("\x00")]
        body = [t for t in tokens if not t.startswith("\x00")]
        lines.extend(heads)
        lines.append(f"m{m} " + " ".join(body))
    return "\n".join(lines) + "\n"


def to_csv(analysis: RomanAnalysis) -> str:
    """One row per chord change: ``measure, beat, root, quality, roman, key``.

    Example row: ``2,1,B,major,V7/V,A``.
    """
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for row in analysis.chords.itertuples(index=False):
        w.writerow([int(row.measure), _beat_text(float(row.beat)), row.root, row.triad,
                    row.roman, row.key])
    return out.getvalue()
