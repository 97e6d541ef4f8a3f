"""Notes as voices, and the non-chord tones among them.

A Roman-numeral analyst reads a chord from the notes that belong to it and sets aside the
ones that only decorate it: passing and neighbour notes, suspensions, appoggiaturas,
anticipations, escape tones, pedal points. What marks them is voice leading, not the
vertical sonority alone, so this module keeps each part's line together:

* :func:`voiced_notes` reads every sounding pitch with the pitch that comes before and
  after it in the same part (tied notes joined into one);
* :func:`decoration_likelihood` says, before any chord is chosen, how much a note *looks
  like* a decoration (left by step, held over a beat and resolved down, a long bass under
  moving harmony), which the chord labeller uses to weigh it;
* :func:`classify` names the decoration once the chords are known.

Example: in a soprano line C-D-E over a C major chord with the D on a weak half beat, the
D is approached and left by step in one direction: a passing tone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The names :func:`classify` gives, in the order it tries them.
KINDS = ("suspension", "passing", "neighbour", "appoggiatura", "anticipation",
         "escape", "pedal", "other")


@dataclass
class VoicedNotes:
    """Every sounding pitch of a score as an array row, with its melodic neighbours.

    ``start``/``end`` are quarter notes from the start of the score; ``midi`` the pitch;
    ``part`` the index of its part; ``prev_midi``/``next_midi`` the pitch sung before and
    after it in the same part (-1 where a rest or the edge of the piece intervenes);
    ``next_start`` where the next note begins; ``names`` the spelling (``'F#'``, ``'Bb'``).
    """

    start: np.ndarray
    end: np.ndarray
    midi: np.ndarray
    part: np.ndarray
    prev_midi: np.ndarray
    next_midi: np.ndarray
    prev_end: np.ndarray
    next_start: np.ndarray
    names: list[str]

    def __len__(self) -> int:
        return len(self.start)

    @property
    def pc(self) -> np.ndarray:
        return self.midi % 12


def _nearest(pitches: list[int], target: int) -> int:
    return min(pitches, key=lambda p: (abs(p - target), p)) if pitches else -1


def _measure_starts(part) -> list[float]:
    from music21 import stream
    base = float(part.offset) if part.activeSite is not None else 0.0
    return [base + float(m.offset) for m in part.getElementsByClass(stream.Measure)]


def _timed_notes(part, reference: list[float]):
    """(start, note) of a part's notes, bar by bar on the first part's bar lines.

    Some editions give one part a bar of a different length (two whole rests in a 4/4
    bar); reading each bar from where the first part's bar of the same position starts keeps
    the parts together, as a reader of the score would.
    """
    from music21 import stream
    measures = list(part.getElementsByClass(stream.Measure))
    if not measures or len(reference) < len(measures):
        base = float(part.offset) if part.activeSite is not None else 0.0
        return [(base + float(n.offset), n) for n in part.flatten().notes]
    out = []
    for i, m in enumerate(measures):
        for n in m.recurse().notes:
            out.append((reference[i] + float(n.getOffsetInHierarchy(m)), n))
    out.sort(key=lambda t: t[0])
    return out


def voiced_notes(score) -> VoicedNotes:
    """Read the sounding notes of ``score`` part by part, ties joined.

    In a part that sings chords (a keyboard staff), the melodic neighbour of a pitch is the
    nearest pitch of the event before or after it. Grace notes take no time and are skipped.
    """
    from music21 import harmony, note, roman, stream
    parts = list(score.parts) if isinstance(score, stream.Score) and score.parts else [score]
    rows: list[tuple[float, float, int, int, str]] = []
    reference = _measure_starts(parts[0])
    for pi, part in enumerate(parts):
        events: dict[float, list[list]] = {}
        open_ties: dict[int, list] = {}
        for start, n in _timed_notes(part, reference):
            if isinstance(n, (harmony.Harmony, roman.RomanNumeral, note.Unpitched)):
                continue
            ql = float(n.quarterLength)
            if ql <= 0:
                continue
            for p in (n.pitches if n.isChord else (n.pitch,)):
                midi = int(round(p.ps))
                tie = (n.tie if not n.isChord else None)
                if n.isChord:
                    for sub in n.notes:
                        if int(round(sub.pitch.ps)) == midi:
                            tie = sub.tie
                held = open_ties.get(midi)
                if held is not None and abs(held[1] - start) < 1e-6 and tie is not None \
                        and tie.type in ("stop", "continue"):
                    held[1] = start + ql  # a tied continuation lengthens the held note
                    if tie.type == "stop":
                        open_ties.pop(midi, None)
                    continue
                row = [start, start + ql, midi, pi, p.name.replace("-", "b")]
                events.setdefault(start, []).append(row)
                if tie is not None and tie.type in ("start", "continue"):
                    open_ties[midi] = row
                else:
                    open_ties.pop(midi, None)
        for start in sorted(events):
            for row in events[start]:
                rows.append(tuple(row))  # type: ignore[arg-type]
    rows.sort(key=lambda r: (r[3], r[0], r[2]))
    n = len(rows)
    start = np.array([r[0] for r in rows], dtype=float)
    end = np.array([r[1] for r in rows], dtype=float)
    midi = np.array([r[2] for r in rows], dtype=int)
    part = np.array([r[3] for r in rows], dtype=int)
    prev_midi = np.full(n, -1)
    next_midi = np.full(n, -1)
    prev_end = np.full(n, -1.0)
    next_start = np.full(n, -1.0)
    # per part: the events (onset groups) in order; neighbours are the adjacent events when
    # they touch (a rest breaks the line)
    i = 0
    while i < n:
        j = i
        while j < n and part[j] == part[i]:
            j += 1
        onsets = sorted(set(start[i:j].tolist()))
        by_onset: dict[float, list[int]] = {}
        for k in range(i, j):
            by_onset.setdefault(float(start[k]), []).append(k)
        for a, o in enumerate(onsets):
            group = by_onset[o]
            if a > 0:
                before = by_onset[onsets[a - 1]]
                pend = max(end[k] for k in before)
                if pend >= o - 1e-6:
                    for k in group:
                        prev_midi[k] = _nearest([int(midi[b]) for b in before], int(midi[k]))
                        prev_end[k] = pend
            if a + 1 < len(onsets):
                after = by_onset[onsets[a + 1]]
                for k in group:
                    if end[k] >= onsets[a + 1] - 1e-6:
                        next_midi[k] = _nearest([int(midi[b]) for b in after], int(midi[k]))
                        next_start[k] = onsets[a + 1]
        i = j
    return VoicedNotes(start, end, midi, part, prev_midi, next_midi, prev_end, next_start,
                       [r[4] for r in rows])


def _step(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = np.abs(a - b)
    return (a >= 0) & (b >= 0) & (d >= 1) & (d <= 2)


def decoration_likelihood(notes: VoicedNotes, beat_starts: np.ndarray) -> np.ndarray:
    """How much each note looks like a decoration, 0 (a plain chord tone) to 1.

    Read from the line alone, before any chord is chosen:

    * left by step (passing, neighbour, suspension, appoggiatura): likely when the note is
      short (an eighth or less), or struck off the beat and falling; surely when, off the
      beat, it also came by step; a long note struck on the beat only when prepared by the
      same pitch and falling (a suspension), barely otherwise;
    * struck on a weak part of the beat, approached by step and left by a repeated pitch
      (an anticipation);
    * a bass note held across three beats or more (a pedal) counts partly.

    ``beat_starts`` are the onsets of the beats (the analysis units), to tell strong from
    weak positions.
    """
    n = len(notes)
    if n == 0:
        return np.zeros(0)
    dur = notes.end - notes.start
    left_by_step = _step(notes.midi, notes.next_midi)
    came_by_step = _step(notes.prev_midi, notes.midi)
    idx = np.searchsorted(beat_starts, notes.start + 1e-6) - 1
    on_beat = np.zeros(n, dtype=bool)
    ok = idx >= 0
    on_beat[ok] = np.abs(beat_starts[idx[ok]] - notes.start[ok]) < 1e-6
    short = dur <= 0.5 + 1e-9
    like = np.zeros(n)
    # left by step: the mark of nearly every decoration; a short note surely, a long note
    # struck on the beat only if it was prepared (a suspension: the same pitch before it,
    # or held into the beat) and falls
    held_into_beat = ~on_beat
    prepared = (notes.prev_midi == notes.midi) | held_into_beat
    falls = left_by_step & (notes.next_midi < notes.midi)
    like = np.where(left_by_step, np.where(short, 0.8, 0.3), like)
    like = np.where(falls & prepared, np.maximum(like, 0.8), like)
    # passing and neighbour notes off the beat
    like = np.where(left_by_step & came_by_step & ~on_beat, 1.0, like)
    anticip = (notes.next_midi == notes.midi) & ~on_beat & short & came_by_step
    like = np.where(anticip, np.maximum(like, 0.7), like)
    # the lowest part held for three beats or more under other motion: a pedal
    lowest = notes.part == notes.part.max()
    like = np.where(lowest & (dur >= 3.0 - 1e-9), np.maximum(like, 0.5), like)
    return like


def classify(notes: VoicedNotes, i: int, chord_pcs_here: set[int],
             chord_pcs_next: set[int] | None, on_beat: bool) -> str:
    """The kind of decoration note ``i`` is, given the chord it sounds against.

    ``chord_pcs_here`` is the chord at the note's onset, ``chord_pcs_next`` the chord where
    the note moves on (None if unknown). Returns one of :data:`KINDS`, or ``""`` when the
    note is a chord tone. Example: a C held from a C major chord into a G major chord and
    then falling to B is a suspension.
    """
    pc = int(notes.midi[i] % 12)
    if pc in chord_pcs_here:
        return ""
    prev_m, m, next_m = int(notes.prev_midi[i]), int(notes.midi[i]), int(notes.next_midi[i])
    step_in = prev_m >= 0 and 1 <= abs(m - prev_m) <= 2
    step_out = next_m >= 0 and 1 <= abs(next_m - m) <= 2
    if prev_m == m and step_out and next_m < m:
        return "suspension"  # prepared by the same pitch, resolved down by step
    if step_in and step_out:
        return "passing" if (m - prev_m) * (next_m - m) > 0 else "neighbour"
    if step_out and on_beat:
        return "appoggiatura"
    if next_m == m and chord_pcs_next is not None and pc in chord_pcs_next:
        return "anticipation"
    if step_in and next_m >= 0 and abs(next_m - m) > 2:
        return "escape"
    if notes.end[i] - notes.start[i] >= 3.0 - 1e-9:
        return "pedal"
    if step_out:
        return "appoggiatura"
    return "other"
