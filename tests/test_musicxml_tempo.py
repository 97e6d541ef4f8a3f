"""One tempo mark per bar, also when the two hands of a piano each carry the tempo."""

from __future__ import annotations

from lxml import etree
from music21 import layout, meter, note, stream, tempo

from qbdi_musicology.musicxml import musicxml_bytes


def _hands(marks_upper, marks_lower):
    """A one-bar piano grand staff; each hand gets MetronomeMarks (offset, bpm)."""
    staves = []
    for pitch, marks in (("C5", marks_upper), ("C3", marks_lower)):
        staff = stream.PartStaff()
        m = stream.Measure(number=1)
        m.insert(0, meter.TimeSignature("4/4"))
        for offset, bpm in marks:
            m.insert(offset, tempo.MetronomeMark(number=bpm))
        for k in range(4):
            m.insert(k, note.Note(pitch, quarterLength=1))
        staff.append(m)
        staves.append(staff)
    score = stream.Score(staves)
    score.insert(0, layout.StaffGroup(staves, symbol="brace"))
    return score


def _tempos(score):
    root = etree.fromstring(musicxml_bytes(score))
    assert len(root.findall("part")) == 1  # the two hands are one part on two staves
    return [s.get("tempo") for s in root.iter("sound") if s.get("tempo")]


def test_both_hands_at_the_same_tempo_give_one_mark():
    assert _tempos(_hands([(0, 96)], [(0, 96)])) == ["96"]


def test_a_tempo_change_inside_the_bar_is_kept():
    """Beat 3 slows to 60: that is a second tempo of the bar, not a duplicate."""
    assert _tempos(_hands([(0, 96), (2, 60)], [(0, 96)])) == ["96", "60"]
