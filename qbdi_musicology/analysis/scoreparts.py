"""What the chord labellers share: note names, a score's metric bars, keys spelled as read.

A small module of its own so that the labellers (:mod:`.chords`, :mod:`.roman`) and the key
analysis (:mod:`.keys`) can all use it without importing one another.
"""

from __future__ import annotations

from typing import Any

from ..errors import InputError

SHARP_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
FLAT_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")


def _as_score(score):
    """The score on its metric bars (:func:`qbdi_musicology.bars.metric_score`).

    Every analysis counts the bars the model read and the annotated scores show: split
    bars joined, a pickup as bar 0.
    """
    from music21 import stream

    from ..bars import metric_score
    if isinstance(score, stream.Stream):
        return metric_score(score)
    raise InputError(f"expected a music21 score, got {type(score).__name__}; parse the file "
                     "with music21.converter.parse (or qbdi's readers) first")


def _bar_grid(score) -> list[tuple[int, float, float, float, Any]]:
    """(bar number, start, end, padding, time signature) of each bar of the first part."""
    from music21 import meter, stream
    parts = list(score.parts) if hasattr(score, "parts") and score.parts else [score]
    measures = list(parts[0].getElementsByClass(stream.Measure))
    if not measures:
        return []
    base = parts[0].offset if parts[0] is not score else 0.0
    ts = meter.TimeSignature("4/4")
    bars = []
    for i, m in enumerate(measures):
        if m.timeSignature is not None:
            ts = m.timeSignature
        start = float(base + m.offset)
        if i + 1 < len(measures):
            end = float(base + measures[i + 1].offset)
        else:
            end = start + float(m.duration.quarterLength or ts.barDuration.quarterLength)
        padding = float(m.paddingLeft or 0.0)
        if i == 0 and padding == 0.0 and end - start < ts.barDuration.quarterLength - 1e-9:
            padding = float(ts.barDuration.quarterLength) - (end - start)  # a pickup bar
        number = m.number if m.number is not None else i + 1
        bars.append((int(number), start, end, padding, ts))
    return bars


def _spelled_key(tonic_pc: int, mode: str, sharps: int | None):
    from music21 import key as m21key
    candidates = []
    for name in {SHARP_NAMES[tonic_pc], FLAT_NAMES[tonic_pc]}:
        m21name = name.replace("b", "-") if len(name) > 1 else name
        k = m21key.Key(m21name if mode == "major" else m21name.lower(), mode)
        if abs(k.sharps) <= 7:
            candidates.append(k)
    if sharps is None:
        return min(candidates, key=lambda k: (abs(k.sharps), k.sharps < 0))
    return min(candidates, key=lambda k: (abs(k.sharps - sharps), abs(k.sharps)))
