"""What a reader finds in a score, as plain data: to check that two files hold the same music.

Two MusicXML files may differ in their bytes (element order, beams, stems, which
accidentals are printed) and still say the same thing. :func:`score_content` reads what
matters to a theorist from a parsed score, bar by bar and part by part: the notes and
rests with their durations, ties and colours, the lyrics (Roman numerals among them), the
chord symbols, the texts above the staves, the meters, keys and clefs, the part names and
the provenance fields. :func:`content_differences` lists where two scores disagree.

Example::

    from music21 import converter
    a = converter.parse("one.musicxml")
    b = converter.parse("other.musicxml")
    content_differences(a, b)      # [] when both hold the same music
"""

from __future__ import annotations

from typing import Any


def _round(value: float) -> float:
    return round(float(value), 6)


def _pitch_row(p, tie, colour) -> tuple:
    return (p.nameWithOctave, tie, colour)


def _event(el, offset: float) -> tuple:
    """One note, chord or rest as (offset, kind, duration, pitches, lyrics, colour, hidden)."""
    from music21 import note

    colour = el.style.color if el.hasStyleInformation else None
    lyrics = tuple(ly.text for ly in el.lyrics)
    fermata = (any(type(x).__name__ == "Fermata" for x in el.expressions),
               tuple(sorted(type(a).__name__ for a in el.articulations)))
    if isinstance(el, note.Rest):
        hidden = bool(el.hasStyleInformation and el.style.hideObjectOnPrint)
        return (_round(offset), "rest", _round(el.quarterLength), (), lyrics, colour, hidden,
                fermata)
    members = el.notes if el.isChord else [el]
    pitches = []
    for m in members:
        tie = m.tie  # each note of a chord has its own tie
        own = m.style.color if m.hasStyleInformation else None
        pitches.append(_pitch_row(m.pitch, tie.type if tie is not None else None,
                                  own or colour))
    return (_round(offset), "notes", _round(el.quarterLength), tuple(sorted(pitches)), lyrics,
            colour if not el.isChord else None, False, fermata)


def score_content(score) -> dict[str, Any]:
    """What a reader finds in ``score`` (a parsed music21 score), as comparable data.

    Returns a dict with ``parts`` (one entry per staff: its name and, per bar, the meter,
    key, clef, notes and rests, chord symbols and texts) and ``fields`` (the provenance
    fields of :func:`qbdi_musicology.musicxml.score_fields`).
    """
    from music21 import clef, expressions, harmony, key, meter, note, stream, tempo

    from .musicxml import score_fields

    parts = []
    for part in score.parts:
        bars = []
        for m in part.getElementsByClass(stream.Measure):
            events, symbols, texts, marks = [], [], [], []
            for el in m.recurse():
                if isinstance(el, stream.Stream):
                    continue
                offset = el.getOffsetInHierarchy(m)
                if isinstance(el, harmony.NoChord):
                    texts.append((_round(offset), "N.C."))
                elif isinstance(el, harmony.ChordSymbol):
                    symbols.append((_round(offset), el.figure))
                elif isinstance(el, note.GeneralNote):
                    events.append(_event(el, offset))
                elif isinstance(el, (expressions.TextExpression, expressions.RehearsalMark)):
                    if el.content:
                        texts.append((_round(offset), el.content))
                elif isinstance(el, tempo.MetronomeMark):
                    marks.append(("tempo", _round(offset), _round(el.getQuarterBPM() or 0)))
                elif isinstance(el, meter.TimeSignature):
                    marks.append(("meter", _round(offset), el.ratioString))
                elif isinstance(el, key.KeySignature):
                    marks.append(("key", _round(offset), el.sharps))
                elif isinstance(el, clef.Clef):
                    marks.append(("clef", _round(offset), el.sign, el.line, el.octaveChange))
            bars.append({"number": f"{m.number}{m.numberSuffix or ''}",
                         "events": sorted(events, key=repr), "symbols": sorted(symbols),
                         "texts": sorted(texts), "marks": sorted(marks, key=repr)})
        parts.append({"name": part.partName, "bars": bars})
    return {"parts": parts, "fields": score_fields(score)}


def content_differences(a, b, *, limit: int = 10) -> list[str]:
    """Where two scores disagree (at most ``limit`` lines); empty when they hold the same."""
    ca, cb = score_content(a), score_content(b)
    out: list[str] = []
    if ca["fields"] != cb["fields"]:
        out.append(f"provenance fields differ: {ca['fields']} vs {cb['fields']}")
    if len(ca["parts"]) != len(cb["parts"]):
        out.append(f"{len(ca['parts'])} staves vs {len(cb['parts'])}")
        return out
    for i, (pa, pb) in enumerate(zip(ca["parts"], cb["parts"]), 1):
        if pa["name"] != pb["name"]:
            out.append(f"staff {i}: named {pa['name']!r} vs {pb['name']!r}")
        if len(pa["bars"]) != len(pb["bars"]):
            out.append(f"staff {i}: {len(pa['bars'])} bars vs {len(pb['bars'])}")
            continue
        for ba, bb in zip(pa["bars"], pb["bars"]):
            for what in ("number", "events", "symbols", "texts", "marks"):
                if ba[what] != bb[what]:
                    out.append(f"staff {i} bar {ba['number']}: {what} differ: "
                               f"{ba[what]} vs {bb[what]}")
            if len(out) >= limit:
                return out[:limit]
    return out[:limit]
