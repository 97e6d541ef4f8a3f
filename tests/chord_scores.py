"""Hand-made scores for the analysis tests: one block chord per bar."""

from __future__ import annotations

from music21 import chord, metadata, meter, note, stream


def bars_score(bars, time_signature: str = "4/4", *, title: str | None = None,
               symbol: str | None = None) -> stream.Score:
    """A one-part score, each bar one chord held for the whole bar (``[]`` = a rest).

    ``bars_score([["C4", "E4", "G4"], ["G3", "B3", "D4"]])`` is a C major bar then a G major
    bar in 4/4; a bar given as a list of chords (``[["C4", "E4"], ["D4", "F4"]]``) splits
    evenly between them. ``symbol="common"`` writes the meter as C, ``title`` sets the
    score's title.
    """
    ts = meter.TimeSignature(time_signature)
    if symbol is not None:
        ts.symbol = symbol
    length = ts.barDuration.quarterLength
    part = stream.Part()
    for number, pitches in enumerate(bars, 1):
        m = stream.Measure(number=number)
        if number == 1:
            m.insert(0, ts)
        chords = pitches if pitches and isinstance(pitches[0], (list, tuple)) else [pitches]
        for notes in chords:
            ql = length / len(chords)
            m.append(chord.Chord(notes, quarterLength=ql) if notes else note.Rest(quarterLength=ql))
        part.append(m)
    score = stream.Score([part])
    if title:
        score.metadata = metadata.Metadata(title=title)
    return score
