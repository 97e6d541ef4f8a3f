"""Accidentals are drawn against the key signature, also for notes read from MIDI."""

from __future__ import annotations

from lxml import etree
from music21 import corpus, key, meter, note, stream

from qbdi_musicology.musicxml import musicxml_bytes
from qbdi_musicology.scoreio import load_score


def _drawn(root):
    """(pitch, accidental drawn) of every note: ('C#4', None) is a C# taken from the key."""
    out = []
    for n in root.iter("note"):
        if n.find("pitch") is None:
            continue
        alter = {"1": "#", "-1": "b"}.get(n.findtext("pitch/alter") or "", "")
        out.append((n.findtext("pitch/step") + alter + n.findtext("pitch/octave"),
                    n.findtext("accidental")))
    return out


def test_a_part_marked_notated_with_undecided_sharps_gets_them_from_the_key():
    """F#-G#-A-C# in F# minor (three sharps): no sharp is drawn; an E# after E is."""
    part = stream.Part()
    m = stream.Measure(number=1)
    m.insert(0, key.Key("f#"))
    m.insert(0, meter.TimeSignature("4/4"))
    for name in ("F#4", "G#4", "A4", "C#5"):
        m.append(note.Note(name))
    part.append(m)
    m2 = stream.Measure(number=2)
    for name in ("E4", "E#4", "F#4", "F#4"):
        m2.append(note.Note(name))
    part.append(m2)
    part.streamStatus.accidentals = True  # as music21 leaves some parts read from MIDI
    root = etree.fromstring(musicxml_bytes(stream.Score([part])))
    assert _drawn(root) == [("F#4", None), ("G#4", None), ("A4", None), ("C#5", None),
                            ("E4", None), ("E#4", "sharp"), ("F#4", None), ("F#4", None)]


def _bars_with_accidentals(score):
    root = etree.fromstring(musicxml_bytes(score))
    return {m.get("number") for m in root.iter("measure")
            for n in m.findall("note") if n.findtext("accidental")}


def test_a_chorale_read_back_from_midi_draws_its_accidentals_where_the_chorale_does(tmp_path):
    """bwv66.6's soprano (F# minor) draws one accidental, the E# of bar 9. Read from MIDI
    (which spells it F, then F# again) the sharps of the key are still not drawn: only
    bar 9 has accidentals, not the 18 notes of F#, C# and G# elsewhere."""
    soprano = stream.Score([corpus.parse("bwv66.6").parts[0]])
    assert _bars_with_accidentals(soprano) == {"9"}
    soprano.write("midi", fp=str(tmp_path / "soprano.mid"))
    from_midi = load_score(tmp_path / "soprano.mid")
    assert _bars_with_accidentals(from_midi) == {"9"}
