"""A score with its Roman-numeral analysis written under the bass.

At each chord change the numeral is a lyric under the lowest staff (MuseScore 3 draws
lyrics, but not MusicXML ``<numeral>`` harmonies), preceded by the key where a new local
key starts: ``A: I``, ``vi``, ``I6``, ``E: V7``. The lowest staff's sung text gives way to
the numerals. Where the bass holds a note through a chord change, the note is split into
two tied notes so that the numeral stands exactly where the chord changes, as an analyst
writes it.

Example::

    from music21 import corpus
    score = corpus.parse("bach/bwv347")
    write_roman_musicxml(score, analyse_roman(score), "bwv347_roman.musicxml")
"""

from __future__ import annotations

import bisect
import copy
import logging
import os
from pathlib import Path

from ..analysis.roman import RomanAnalysis, analyse_roman

log = logging.getLogger(__name__)


def lyric_text(figure: str, key: str | None = None) -> str:
    """How a numeral is printed: the diminished mark ``o`` as a degree sign, the key before
    it at a modulation. Example: ``lyric_text("viio7/V", "E") -> "E: vii°7/V"``."""
    shown = figure.replace("o", "°")
    return f"{key.replace('-', 'b')}: {shown}" if key else shown


def _measures(part):
    from music21 import stream
    return list(part.getElementsByClass(stream.Measure))


def _note_at(measure, local: float, *, split: bool):
    """The note of ``measure`` struck at ``local``; with ``split``, a note sounding through
    ``local`` is cut there into two tied notes and the second returned."""
    for n in measure.recurse().notes:
        if "Harmony" in n.classes or "RomanNumeral" in n.classes:
            continue
        o = float(n.getOffsetInHierarchy(measure))
        if abs(o - local) < 1e-6:
            return n
    if not split:
        return None
    for n in list(measure.recurse().notes):
        if "Harmony" in n.classes or "RomanNumeral" in n.classes:
            continue
        o = float(n.getOffsetInHierarchy(measure))
        if o < local - 1e-6 < o + float(n.quarterLength) - 2e-6:
            site = n.activeSite
            first, second = n.splitAtQuarterLength(local - o)
            at = float(n.getOffsetBySite(site))
            site.remove(n)
            site.insert(at, first)
            site.insert(at + float(first.quarterLength), second)
            return second
    return None


def annotate_roman(score, analysis: RomanAnalysis | None = None):
    """A copy of ``score`` with the numerals as lyrics under the bass at each chord change.

    ``analysis`` defaults to :func:`~qbdi_musicology.analysis.roman.analyse_roman` of the
    score. The input score is not changed.
    """
    from music21 import stream
    if analysis is None:
        analysis = analyse_roman(score)
    work = copy.deepcopy(score)
    parts = list(work.parts) if isinstance(work, stream.Score) and work.parts else [work]
    bass = parts[-1]
    for n in bass.recurse().notes:
        if n.lyrics:
            n.lyrics = []
    reference = _measures(parts[0])
    base = float(parts[0].offset) if parts[0].activeSite is not None else 0.0
    starts = [base + float(m.offset) for m in reference]
    bass_measures = _measures(bass)
    written = 0
    for row in analysis.chords.itertuples(index=False):
        i = bisect.bisect_right(starts, float(row.offset) + 1e-6) - 1
        if i < 0 or i >= len(bass_measures):
            continue
        local = float(row.offset) - starts[i]
        text = lyric_text(row.roman, row.key if row.key_change else None)
        target = _note_at(bass_measures[i], local, split=True)
        if target is None:
            # the bass rests here: the lowest part that sings at this point carries it
            for part in reversed(parts[:-1]):
                ms = _measures(part)
                if i < len(ms):
                    target = _note_at(ms[i], local, split=True)
                    if target is not None:
                        break
        if target is None:
            log.debug("no note carries %s at bar %s beat %s", text, row.measure, row.beat)
            continue
        target.addLyric(text)
        written += 1
    work.metadata = copy.deepcopy(score.metadata) if score.metadata is not None else None
    log.info("%d numerals written of %d chords", written, len(analysis.chords))
    return work


def write_roman_musicxml(score, analysis: RomanAnalysis | None, path: str | os.PathLike) -> Path:
    """Write :func:`annotate_roman` of ``score`` as MusicXML (``.mxl`` compressed)."""
    from ..musicxml import write_musicxml
    annotated = annotate_roman(score, analysis)
    keys = analysis.keys() if analysis is not None else None
    fields = {"analysis": "Roman numerals with local keys (qbdi harmony)"}
    if keys is not None and not keys.empty:
        fields["keys"] = " ".join(f"m{m}:{k}" for m, k in zip(keys["measure"], keys["key"]))
    return write_musicxml(annotated, path, fields=fields, copy_score=False)
