"""Scores to piano-roll bars and back: the lossless bridge between music21 and the model.

A *bar array* has shape ``(n_bars, steps, pitches, 2)`` (bool). For the paper's grid a
4/4 bar is 16 sixteenth steps by 78 pitches (MIDI 24-101), with two planes:

* ``PLAY`` (0): the pitch sounds during this step;
* ``ARTICULATE`` (1): the pitch is struck at this step (a new note starts).

A half-note C4 on beat 1 followed by a quarter C4 on beat 3 is therefore
``PLAY`` on steps 0-11 and ``ARTICULATE`` on steps 0 and 8: the repeated note stays
distinct from one long note. A note tied over the barline has ``PLAY`` on step 0 of the
next bar but no ``ARTICULATE``.

The conversion policies (pickup bars, notes out of range, tuplets, several parts, drums,
meters that do not match the grid) are described in ``docs/pianoroll.md``; every choice is
counted in a :class:`ConversionReport` so that a user can be told what happened.

Only numpy and music21 are used here.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from typing import Any, Sequence

import numpy as np

from .errors import InputError, ParameterError
from .grid import ARTICULATE, DEFAULT_GRID, PLAY, Grid
from .gcpause import without_gc_pauses

log = logging.getLogger(__name__)

OUT_OF_RANGE_POLICIES = ("fold", "drop", "error")
METER_POLICIES = ("map", "strict", "rebar")
STAFF_LAYOUTS = ("grand", "one")
#: Lowest pitch of the treble staff in a grand staff (middle C, C4).
MIDDLE_C = 60
_EPS = 1e-6


# --------------------------------------------------------------------------- report


@dataclass
class ConversionReport:
    """What happened while a score was turned into bars.

    Example: a chorale with a one-beat upbeat gives ``pickup_quarters=1.0`` and
    ``pickup_shift_steps=12`` (the upbeat is placed on the last beat of bar 0).
    """

    source: str = ""
    n_bars: int = 0
    notes_read: int = 0
    notes_folded: int = 0
    notes_dropped: int = 0
    onsets_snapped: int = 0
    durations_snapped: int = 0
    grace_notes_skipped: int = 0
    unpitched_skipped: int = 0
    pickup_quarters: float = 0.0
    pickup_shift_steps: int = 0
    parts_read: tuple[str, ...] = ()
    parts_skipped: tuple[tuple[str, str], ...] = ()
    meters_rebarred: tuple[str, ...] = ()
    meters_mapped: tuple[str, ...] = ()
    meter_map: str = "scale"
    final_quarters: float = 0.0
    bars_joined: int = 0
    notes_past_end: int = 0

    def changes(self) -> list[str]:
        """Human sentences for everything that was not read exactly as written."""
        out = []
        if self.notes_folded:
            out.append(f"{self.notes_folded} note(s) outside the grid's pitch range were "
                       "moved by octaves into range")
        if self.notes_dropped:
            out.append(f"{self.notes_dropped} note(s) outside the grid's pitch range were dropped")
        if self.onsets_snapped:
            out.append(f"{self.onsets_snapped} onset(s) off the grid (tuplets, swing, "
                       "performance timing) were moved to the nearest step")
        if self.durations_snapped:
            out.append(f"{self.durations_snapped} note end(s) were moved to the nearest step")
        if self.grace_notes_skipped:
            out.append(f"{self.grace_notes_skipped} grace note(s) were left out")
        if self.unpitched_skipped:
            out.append(f"{self.unpitched_skipped} unpitched (percussion) note(s) were left out")
        if self.pickup_quarters:
            out.append(f"a pickup of {self.pickup_quarters:g} quarter(s) was read as the end "
                       "of a full bar 0")
        if self.final_quarters:
            out.append(f"the final bar of {self.final_quarters:g} quarter(s) was read as the "
                       "start of a full bar")
        if self.bars_joined:
            out.append(f"{self.bars_joined} split bar(s) (a bar notated in two measures) "
                       "were joined")
        if self.meters_rebarred:
            out.append(f"music in {', '.join(self.meters_rebarred)} was cut into grid bars")
        if self.meters_mapped:
            how = "stretched or squeezed onto" if self.meter_map == "scale" else \
                "read at the grid's speed into"
            out.append(f"bars in {', '.join(self.meters_mapped)} were {how} the grid's bars, "
                       "one model bar per bar")
        if self.notes_past_end:
            out.append(f"{self.notes_past_end} note(s) sounding past the last bar were cut "
                       "at its end")
        for name, reason in self.parts_skipped:
            out.append(f"part {name!r} was skipped: {reason}")
        return out

    def summary(self) -> str:
        """One paragraph for the user: what was read and what was changed."""
        head = (f"{self.source or 'score'}: {self.n_bars} bar(s), {self.notes_read} note(s) "
                f"from part(s) {', '.join(self.parts_read) or '(none)'}")
        changes = self.changes()
        return head + ("; " + "; ".join(changes) if changes else "; read exactly")


@dataclass(frozen=True)
class Conversion:
    """The result of :func:`convert_score`: the bar array, the report and the bar structure.

    ``structure`` is the score's :class:`~qbdi_musicology.bars.BarStructure`: bar ``i`` of
    ``bars`` is ``structure[i]`` of the score.
    """

    bars: np.ndarray
    report: ConversionReport = field(default_factory=ConversionReport)
    structure: Any = None


# --------------------------------------------------------------------------- helpers


def empty_bars(n_bars: int, grid: Grid = DEFAULT_GRID) -> np.ndarray:
    """An all-silent bar array of ``n_bars`` bars."""
    return np.zeros((n_bars, grid.steps, grid.pitches, 2), dtype=bool)


def _check_bars(bars: np.ndarray, grid: Grid) -> np.ndarray:
    bars = np.asarray(bars)
    if bars.ndim == 3:
        bars = bars[None]
    expected = (grid.steps, grid.pitches, 2)
    if bars.ndim != 4 or tuple(bars.shape[1:]) != expected:
        raise ParameterError(
            f"bar array of shape {tuple(bars.shape)} does not fit the grid "
            f"{grid.time_signature}, {grid.steps} steps, {grid.pitches} pitches: expected "
            f"(n_bars, {expected[0]}, {expected[1]}, 2)")
    return bars.astype(bool, copy=False)


def canonical_bars(bars: np.ndarray, grid: Grid = DEFAULT_GRID) -> np.ndarray:
    """The canonical form of a bar array: the one :func:`score_to_bars` produces.

    Two rules, applied over the whole piece (bars are joined end to end):

    * a pitch can only be struck where it sounds (``ARTICULATE`` implies ``PLAY``);
    * a pitch that starts sounding is struck (a ``PLAY`` run always begins with
      ``ARTICULATE``; a run that continues from the previous bar is a tie and needs none).

    Model outputs can break both rules; :func:`bars_to_score` reads any array through this
    function, so ``score_to_bars(bars_to_score(b)) == canonical_bars(b)`` for every ``b``.
    """
    bars = _check_bars(bars, grid)
    n = bars.shape[0]
    roll = bars.reshape(n * grid.steps, grid.pitches, 2)
    play = roll[..., PLAY]
    art = roll[..., ARTICULATE] & play
    starts = play.copy()
    starts[1:] &= ~play[:-1]
    art = art | starts
    return np.stack([play, art], axis=-1).reshape(bars.shape)


def transpose_bars(bars: np.ndarray, semitones: int, grid: Grid = DEFAULT_GRID) -> np.ndarray:
    """Shift every note by ``semitones``; notes pushed out of range are moved by octaves.

    Used for key normalisation (e.g. a chorale in A major down 9 semitones to C major) and
    12-key augmentation. A note pushed above the grid's top comes back one (or more)
    octave(s) lower, so its pitch class -- what the harmony measures see -- is kept.

    Example: with the paper's grid (top F7 = 101), transposing an E7 (100) up by 3 gives
    G6 (91), not G7.
    """
    bars = _check_bars(bars, grid)
    semitones = int(semitones)
    p = grid.pitches
    out = np.zeros_like(bars)
    if semitones == 0:
        out[...] = bars
        return out
    for src in range(p):
        dst = _fold_index(src + semitones, p)
        if dst is None:
            continue
        out[:, :, dst, :] |= bars[:, :, src, :]
    return out


def _fold_index(idx: int, n: int) -> int | None:
    """Move a pitch-row index into ``[0, n)`` by octaves; None when the range is < 1 octave."""
    if 0 <= idx < n:
        return idx
    if idx < 0:
        idx += 12 * math.ceil(-idx / 12)
    else:
        idx -= 12 * math.ceil((idx - n + 1) / 12)
    return idx if 0 <= idx < n else None


# --------------------------------------------------------------------------- reading


def _is_drum_part(part) -> bool:
    """True for a percussion part: a percussion instrument, MIDI channel 10, or no pitches."""
    from music21 import instrument, note

    for inst in part.recurse().getElementsByClass(instrument.Instrument):
        if isinstance(inst, instrument.UnpitchedPercussion):
            return True
        if inst.midiChannel == 9:  # channel 10 counted from 1 is the General MIDI drum kit
            return True
    notes = part.recurse().notes
    if len(notes) and all(isinstance(n, (note.Unpitched,)) or n.classes[0] == "PercussionChord"
                          for n in notes):
        return True
    return False


def _part_name(part, index: int) -> str:
    """The part's name as a user sees it; its number (from 1) when it has none."""
    name = getattr(part, "partName", None)
    if not name:
        inst = part.getInstrument(returnDefault=False)
        name = inst.instrumentName if inst is not None else None
    return str(name) if name else f"part {index + 1}"


def _select_parts(score, parts, report: ConversionReport, source: str):
    from music21 import stream

    if isinstance(score, stream.Score):
        all_parts = list(score.parts) or [score]
    elif isinstance(score, stream.Stream):
        all_parts = [score]
    else:
        raise ParameterError(f"expected a music21 Score or Part, got {type(score).__name__}")
    names = [_part_name(p, i) for i, p in enumerate(all_parts)]
    if parts is None:
        chosen = list(range(len(all_parts)))
    else:
        if isinstance(parts, (str, int)):
            parts = [parts]
        chosen = []
        for want in parts:
            if isinstance(want, int) and not isinstance(want, bool):
                if not 0 <= want < len(all_parts):
                    raise InputError(
                        f"{source or 'score'}: there is no part {want}; parts are numbered "
                        f"0-{len(all_parts) - 1}: {names}")
                chosen.append(want)
            else:
                hits = [i for i, n in enumerate(names) if n.lower() == str(want).lower()]
                if not hits:
                    raise InputError(
                        f"{source or 'score'}: no part named {want!r}; the parts are {names}; "
                        "give a name or a number from 0")
                chosen.extend(hits)
    selected = []
    skipped = []
    for i in range(len(all_parts)):
        if i not in chosen:
            skipped.append((names[i], "not selected"))
        elif _is_drum_part(all_parts[i]):
            skipped.append((names[i], "drums/percussion have no pitches on the grid"))
        else:
            selected.append((names[i], all_parts[i]))
    report.parts_read = tuple(n for n, _ in selected)
    report.parts_skipped = tuple(skipped)
    return selected


def _check_meter(structure, grid: Grid, source: str, policy: str) -> tuple[str, ...]:
    """The meters that differ from the grid's; an error when ``policy='strict'``."""
    wrong = tuple(m for m in structure.meters if m != grid.time_signature)
    if wrong and policy == "strict":
        raise InputError(
            f"{source or 'score'}: time signature {', '.join(wrong)} does not match the "
            f"{grid.time_signature} grid; use meter='map' (the default: every bar of the "
            f"score becomes one model bar) or a grid in that meter (e.g. Grid(beats=3))")
    return wrong


def _rebar_structure(structure, grid: Grid):
    """Grid bars from the first downbeat, regardless of the written meters (``'rebar'``)."""
    from .bars import Bar, BarStructure

    full = Fraction(grid.bar_quarter_length)
    first = structure.bars[0] if len(structure) else None
    shift = first.padding if first is not None else Fraction(0)
    total = structure.length + shift
    n = max(1, math.ceil(total / full - Fraction(1, 10_000))) if total > 0 else 0
    bars = []
    for i in range(n):
        start = full * i - shift
        if i == 0 and shift:
            bars.append(Bar(0, Fraction(0), full - shift, full, grid.time_signature,
                            "pickup", ("0",)))
        else:
            bars.append(Bar(i + (0 if shift else 1), start, full, full,
                            grid.time_signature, "full", (str(i),)))
    return BarStructure(tuple(bars))


def _describe(score, source: str) -> str:
    """How errors name a score: ``source``, plus the file it was read from when known."""
    meta = getattr(score, "metadata", None)
    path = getattr(meta, "filePath", None) if meta is not None else None
    if path:
        name = str(path).replace("\\", "/").rsplit("/", 1)[-1]
        if not source or name in source:
            return str(path) if not source else source
        return f"{source} ({path})"
    return source or "score"


def _to_step(ql: float, step_ql: float) -> tuple[int, bool]:
    """A time in quarter notes as a step index, and whether it had to be rounded."""
    exact = float(ql) / step_ql
    step = int(math.floor(exact + 0.5))
    return step, abs(exact - step) > _EPS


def _note_heads(element):
    """(midi, tie type or None) for each pitch of a Note or Chord."""
    from music21 import note

    # ``ps`` (pitch space) rather than ``midi``: music21 folds ``midi`` into 0-127 silently,
    # so a C in octave 15 would pass for a C8; quarter tones round to the nearest key.
    if isinstance(element, note.Note):
        tie = element.tie.type if element.tie is not None else None
        return [(int(round(element.pitch.ps)), tie)]
    # Ties belong to each note of a chord (one voice can hold the root while the third
    # is struck again); music21's chord-level ``tie`` only mirrors the first note.
    return [(int(round(n.pitch.ps)), n.tie.type if n.tie is not None else None)
            for n in element.notes]


def convert_score(score, grid: Grid = DEFAULT_GRID, *, parts: Sequence[int | str] | None = None,
                  out_of_range: str = "fold", source: str = "",
                  meter: str = "map", meter_map: str = "scale") -> Conversion:
    """Turn a music21 score into a bar array and report every choice made.

    Every metric bar of the score (:func:`qbdi_musicology.bars.bar_structure`: split bars
    joined, pickup and final bar kept) becomes one bar of the array, so bar ``i`` of the
    array is bar ``i`` of the score in every meter.

    ``parts``: ``None`` merges all pitched parts into one roll (chords and voices collapse);
    a list of part numbers (from 0) or names selects some. Drum parts are always skipped.
    ``out_of_range``: ``"fold"`` moves a note by octaves into the grid's range (keeps the
    pitch class), ``"drop"`` leaves it out, ``"error"`` raises :class:`InputError`.
    ``meter``: ``"map"`` (default) maps a bar in another meter onto one grid bar by
    ``meter_map`` (``"scale"``: stretched or squeezed onto the grid's steps; ``"pad"``: read
    at the grid's speed, the rest of the grid bar silent; see :mod:`qbdi_musicology.bars`);
    ``"strict"`` makes a meter other than the grid's an :class:`InputError`; ``"rebar"``
    ignores the written bars and cuts the music into grid bars from the first downbeat.

    Example: bwv 66.6 (4/4, one-beat upbeat, 4 voices) gives 10 bars; its upbeat sits on
    beat 4 of bar 0::

        conv = convert_score(corpus.parse("bach/bwv66.6"))
        conv.bars.shape            # (10, 16, 78, 2)
        conv.report.pickup_quarters  # 1.0
    """
    from music21 import note as m21note

    from .bars import _check_map, bar_structure, native_steps, to_model_bar

    if out_of_range not in OUT_OF_RANGE_POLICIES:
        raise ParameterError(f"out_of_range={out_of_range!r}: choose one of "
                             f"{', '.join(OUT_OF_RANGE_POLICIES)}")
    if meter not in METER_POLICIES:
        raise ParameterError(f"meter={meter!r}: choose 'map' (each bar of the score is one "
                             "model bar), 'strict' (other meters are an error) or 'rebar' "
                             "(cut the music into grid bars)")
    _check_map(meter_map)
    where = _describe(score, source)
    report = ConversionReport(source=source)
    structure = bar_structure(score, where=where,
                              quantum=Fraction(grid.step_quarter_length))
    wrong = _check_meter(structure, grid, where, meter)
    if meter == "rebar":
        report.meters_rebarred = wrong
        structure = _rebar_structure(structure, grid)
    else:
        report.meters_mapped = wrong
        report.meter_map = meter_map
    selected = _select_parts(score, parts, report, where)
    step_ql = float(grid.step_quarter_length)
    origin = float(structure.bars[0].offset) if len(structure) else 0.0
    if len(structure) and structure.bars[0].kind == "pickup":
        report.pickup_quarters = float(structure.bars[0].length)
        n0, full0 = native_steps(structure.bars[0], grid)
        report.pickup_shift_steps = (full0 - n0) if full0 == grid.steps else 0
    report.final_quarters = float(structure.bars[-1].length) \
        if len(structure) > 1 and structure.bars[-1].kind == "final" else 0.0
    report.bars_joined = sum(1 for b in structure.bars if len(b.measures) > 1)

    # Notes on the score's own timeline, in grid steps from the first bar's start.
    onsets: list[int] = []
    ends: list[int] = []
    rows: list[int] = []
    struck: list[bool] = []
    lo, hi = grid.low_pitch, grid.high_pitch
    for name, part in selected:
        flat = part.flatten()
        base = float(part.offset) if part is not score else 0.0
        for el in flat.notes:
            if isinstance(el, m21note.Unpitched) or "PercussionChord" in el.classes:
                report.unpitched_skipped += 1
                continue
            ql = float(el.quarterLength)
            if ql <= 0 or el.duration.isGrace:
                report.grace_notes_skipped += 1
                continue
            start = base + float(el.offset) - origin
            on, off_on = _to_step(start, step_ql)
            end, off_end = _to_step(start + ql, step_ql)
            if end <= on:
                end = on + 1
                off_end = True
            for midi, tie in _note_heads(el):
                if not 0 <= midi <= 127:  # e.g. a MusicXML note in octave 15
                    raise InputError(
                        f"{where}: part {name!r}, offset {el.offset}: pitch "
                        f"{midi} is not a MIDI pitch (0-127); correct the note's octave")
                continuation = tie in ("stop", "continue")
                if not continuation:
                    report.notes_read += 1
                    report.onsets_snapped += off_on
                report.durations_snapped += off_end
                if midi < lo or midi > hi:
                    if out_of_range == "error":
                        raise InputError(
                            f"{where}: part {name!r}, offset {el.offset}: MIDI "
                            f"pitch {midi} is outside the grid's range {lo}-{hi}; use "
                            "out_of_range='fold' or 'drop'")
                    if out_of_range == "drop":
                        report.notes_dropped += not continuation
                        continue
                    folded = _fold_index(midi - lo, grid.pitches)
                    if folded is None:
                        report.notes_dropped += not continuation
                        continue
                    report.notes_folded += not continuation
                    row = folded
                else:
                    row = midi - lo
                onsets.append(on)
                ends.append(end)
                rows.append(row)
                struck.append(not continuation)
    # bar b covers native steps [starts[b], starts[b] + lengths[b])
    starts, lengths = [], []
    for bar in structure.bars:
        n, _ = native_steps(bar, grid)
        starts.append(int(round((float(bar.offset) - origin) / step_ql)))
        lengths.append(n)
    total = (starts[-1] + lengths[-1]) if starts else 0
    if ends and max(ends) > total:
        report.notes_past_end = sum(1 for e in ends if e > total)
    roll = np.zeros((max(total, 1), grid.pitches, 2), dtype=bool)
    for on, end, row, hit in zip(onsets, ends, rows, struck):
        if on >= total:
            continue
        roll[on:min(end, total), row, PLAY] = True
        if hit:
            roll[on, row, ARTICULATE] = True
    n_bars = len(structure) if onsets or total else 0
    bars = empty_bars(n_bars, grid)
    for b in range(n_bars):
        bars[b] = to_model_bar(roll[starts[b]:starts[b] + lengths[b]], structure.bars[b],
                               grid, meter_map)
    # Snapping and tie continuations without a preceding note can leave runs without a
    # strike; the canonical form fixes them so that the round trip is exact.
    bars = canonical_bars(bars, grid)
    report.n_bars = n_bars
    if report.changes():
        log.info("%s", report.summary())
    return Conversion(bars=bars, report=report, structure=structure)


def score_to_bars(score, grid: Grid = DEFAULT_GRID, **kw) -> np.ndarray:
    """The bar array of a score: ``convert_score(score, grid, **kw).bars``.

    Example: a C major triad as a whole note in 4/4 gives one bar with ``PLAY`` set on all
    16 steps of rows 60-24, 64-24 and 67-24, and ``ARTICULATE`` on step 0 only.
    """
    return convert_score(score, grid, **kw).bars


# --------------------------------------------------------------------------- keys


#: Krumhansl-Kessler key profiles (probe-tone ratings) of C major and C minor.
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def pitch_class_profile(bars: np.ndarray, grid: Grid = DEFAULT_GRID) -> np.ndarray:
    """How many steps each pitch class sounds in all the bars (12 numbers, C first)."""
    bars = _check_bars(bars, grid)
    per_row = bars[..., PLAY].sum(axis=(0, 1)).astype(np.float64)
    profile = np.zeros(12)
    np.add.at(profile, (np.arange(grid.pitches) + grid.low_pitch) % 12, per_row)
    return profile


def estimate_key(bars: np.ndarray, grid: Grid = DEFAULT_GRID) -> tuple[int, str]:
    """The most likely key of some bars: ``(tonic pitch class, 'major' | 'minor')``.

    Krumhansl-Schmuckler: the duration-weighted pitch-class profile is correlated with the
    24 rotations of the Krumhansl-Kessler profiles (music21's ``analyze('Krumhansl')``).
    Example: a bar of G-B-D then one of D-F#-A-C gives ``(7, 'major')``; silence gives
    ``(0, 'major')``.
    """
    profile = pitch_class_profile(bars, grid)
    if not profile.any() or np.ptp(profile) == 0:
        return 0, "major"
    best, best_r = (0, "major"), -np.inf
    for mode, template in (("major", KK_MAJOR), ("minor", KK_MINOR)):
        for tonic in range(12):
            r = np.corrcoef(profile, np.roll(template, tonic))[0, 1]
            if r > best_r + 1e-12:
                best, best_r = (tonic, mode), r
    return best


def _speller(key_obj):
    """A function midi -> music21 Pitch spelled for ``key_obj`` (None: music21's default).

    Scale notes take the key's spelling (F# in D major, G-flat in E-flat minor...); other
    notes take sharps in sharp keys and flats in flat keys.
    """
    from music21 import pitch

    if key_obj is None:
        return lambda midi: pitch.Pitch(midi=midi)
    names = {p.pitchClass: p.name for p in key_obj.getScale().getPitches("C4", "B4")}
    # the raised 6th and 7th of the minor key (or of the relative minor of a major key):
    # E-sharp and D-sharp in F-sharp minor and in A major, not F and E-flat
    minor = key_obj if key_obj.mode == "minor" else key_obj.relative
    for interval in ("M6", "M7"):
        raised = minor.tonic.transpose(interval)
        if raised.accidental is None or abs(raised.accidental.alter) <= 1:  # no C-double-sharp
            names.setdefault(raised.pitchClass, raised.name)
    sharps = key_obj.sharps >= 0
    for pc in range(12):
        if pc not in names:
            default = pitch.Pitch(pc)
            if default.accidental is not None and default.accidental.alter \
                    and (default.accidental.alter > 0) != sharps:
                default = default.getEnharmonic()
            names[pc] = default.name

    def spell(midi: int):
        p = pitch.Pitch(names[midi % 12])
        p.octave = midi // 12 - 1
        p.octave += (midi - p.midi) // 12  # B#, C- cross the octave boundary
        return p

    return spell


def _key_object(key, bars: np.ndarray, grid: Grid):
    from music21 import key as m21key
    from music21 import pitch

    if key is None:
        return None
    if key == "auto":
        tonic, mode = estimate_key(bars, grid)
        # Of the two spellings of the tonic (F# / G-flat), take the one with the fewer
        # accidentals in its signature.
        base = pitch.Pitch(tonic)
        names = {base.name, base.getEnharmonic().name}
        return min((m21key.Key(n, mode) for n in sorted(names)), key=lambda k: abs(k.sharps))
    if isinstance(key, m21key.Key):
        return key
    try:
        return m21key.Key(str(key))
    except Exception as exc:  # music21 raises its own exceptions for bad names
        raise ParameterError(f"key={key!r} is not a key name; write e.g. 'D' (D major), "
                             "'f#' (F-sharp minor), 'auto' or None") from exc


# --------------------------------------------------------------------------- writing


@lru_cache(maxsize=256)
def _notatable_lengths(step_ql: Fraction, most: int) -> tuple[int, ...]:
    """Step counts (longest first, at most ``most``) that one note value (dotted or not) shows."""
    from music21 import duration

    out = []
    for n in range(most, 0, -1):
        d = duration.Duration(step_ql * n)
        if d.type not in ("complex", "inexpressible") and d.dots <= 1 and not d.tuplets:
            out.append(n)
    return tuple(out)


def _split_lengths(start: int, length: int, grid: Grid, beat: int | None = None,
                   bar_steps: int | None = None) -> list[int]:
    """Split a slice of a bar into note values a reader expects.

    A slice that starts on a beat takes the longest value that fits; one that starts off
    the beat first runs up to the next beat, so syncopations show the beat
    (e.g. in 4/4 a note from the 2nd sixteenth for 7 sixteenths is 3 + 4, not 6 + 1).
    ``start`` counts steps from where a full bar of the meter would start (a pickup's
    notes start late); ``beat`` is the meter's beat in steps (6 in 6/8).
    """
    lengths = _notatable_lengths(Fraction(grid.step_quarter_length), bar_steps or grid.steps)
    out = []
    spb = beat or grid.steps_per_beat
    pos, left = start, length
    while left > 0:
        room = left
        if pos % spb:
            room = min(left, spb - pos % spb)
        piece = next((n for n in lengths if n <= room), 1)
        out.append(piece)
        pos += piece
        left -= piece
    return out


def _staff_rows(grid: Grid, staves: str) -> list[tuple[str, np.ndarray]]:
    """(clef name, pitch-row indices) for each staff of the piano."""
    rows = np.arange(grid.pitches)
    if staves == "one":
        return [("auto", rows)]
    split = MIDDLE_C - grid.low_pitch
    return [("treble", rows[rows >= split]), ("bass", rows[rows < split])]


@dataclass(frozen=True)
class _BarLayout:
    """Where one written bar lies on the continuous roll and how it is notated."""

    start: int          # first step on the roll
    steps: int          # steps of music in the bar
    phase: int          # steps missing before it (a pickup's), for beat positions
    beat: int           # steps per beat of its meter
    full: int           # steps of a full bar of its meter
    meter: str | None   # a time signature to write here (the first bar, a change)
    number: int
    padding_left: float
    padding_right: float
    symbol: str = ""


def _layouts(structure, grid: Grid) -> list[_BarLayout]:
    from .bars import beat_steps, native_steps

    out, pos, previous = [], 0, None
    step = Fraction(grid.step_quarter_length)
    for bar in structure.bars:
        n, full = native_steps(bar, grid)
        phase = full - n if bar.kind == "pickup" else 0
        right = 0.0 if bar.kind == "pickup" else float(max(Fraction(0), (full - n) * step))
        sign = (bar.meter, getattr(bar, "symbol", ""))
        out.append(_BarLayout(pos, n, phase, beat_steps(bar, grid), full,
                              bar.meter if sign != previous else None, bar.number,
                              float(phase * step), right, sign[1]))
        previous = sign
        pos += n
    return out


def _quarters(value: Fraction) -> float | Fraction:
    """A length as a float when the float is exact (binary fractions), else the Fraction."""
    as_float = float(value)
    return as_float if Fraction(as_float) == value else value


def _build_staff(play: np.ndarray, art: np.ndarray, grid: Grid, clef_name: str, pitch_rows,
                 *, first: bool, tempo: float | None, part_cls, instrument_obj, staff_id: str,
                 key_obj=None, layouts: Sequence[_BarLayout]):
    from music21 import chord, clef, meter, note, stream, tempo as m21tempo, tie

    n_steps = play.shape[0]
    step_ql = Fraction(grid.step_quarter_length)
    part = part_cls(id=staff_id)
    part.insert(0, instrument_obj)
    local_play = play[:, pitch_rows]
    local_art = art[:, pitch_rows]
    if clef_name == "auto":
        sounding = np.nonzero(local_play.any(axis=0))[0]
        mean = (pitch_rows[sounding].mean() + grid.low_pitch) if len(sounding) else MIDDLE_C
        clef_name = "treble" if mean >= MIDDLE_C - 5 else "bass"
    spell = _speller(key_obj)
    for b, lay in enumerate(layouts):
        measure = stream.Measure(number=lay.number)
        if lay.padding_left:
            measure.paddingLeft = lay.padding_left
        if lay.padding_right:
            measure.paddingRight = lay.padding_right
        if b == 0:
            measure.insert(0, clef.TrebleClef() if clef_name == "treble" else clef.BassClef())
            if key_obj is not None:
                # a fresh Key per staff: a music21 object belongs in one place
                measure.insert(0, type(key_obj)(key_obj.tonic.name, key_obj.mode))
            if first and tempo is not None:
                measure.insert(0, m21tempo.MetronomeMark(number=tempo, referent=1.0))
        if lay.meter is not None:
            ts = meter.TimeSignature(lay.meter)
            if lay.symbol:
                ts.symbol = lay.symbol
            measure.insert(0, ts)
        b0, steps = lay.start, lay.steps
        # Slice boundaries: bar start, every step where the set of sounding notes changes
        # or a note is struck again.
        bar_play = local_play[b0:b0 + steps]
        bar_art = local_art[b0:b0 + steps]
        change = np.zeros(steps, dtype=bool)
        change[0] = True
        change[1:] = (bar_play[1:] != bar_play[:-1]).any(axis=1)
        change |= bar_art.any(axis=1)
        bounds = list(np.nonzero(change)[0]) + [steps]
        if not bar_play.any():
            measure.append(note.Rest(quarterLength=_quarters(step_ql * steps)))
            part.append(measure)
            continue
        # Offsets and lengths as floats: grid steps are binary fractions of a quarter
        # (exact in a float), and music21 handles floats much faster than Fractions.
        offset = 0.0
        for a, z in zip(bounds[:-1], bounds[1:]):
            sounding = np.nonzero(bar_play[a])[0]
            pieces = _split_lengths(lay.phase + a, z - a, grid, lay.beat, lay.full)
            pos = a
            for k, length in enumerate(pieces):
                ql = _quarters(step_ql * length)
                if len(sounding) == 0:
                    el = note.Rest(quarterLength=ql)
                else:
                    heads = []
                    for r in sounding:
                        midi = int(pitch_rows[r]) + grid.low_pitch
                        # a fresh Pitch per note: music21 keeps accidental display
                        # decisions on the Pitch object
                        n = note.Note(spell(midi), quarterLength=ql)
                        g = b0 + pos  # absolute step of this piece
                        from_before = (k > 0) or (g > 0 and local_play[g - 1, r]
                                                  and not local_art[g, r])
                        end = b0 + pos + length
                        to_after = (k < len(pieces) - 1) or (
                            end < n_steps and local_play[end, r] and not local_art[end, r])
                        if from_before and to_after:
                            n.tie = tie.Tie("continue")
                        elif from_before:
                            n.tie = tie.Tie("stop")
                        elif to_after:
                            n.tie = tie.Tie("start")
                        heads.append(n)
                    el = heads[0] if len(heads) == 1 else chord.Chord(heads, quarterLength=ql)
                measure.insert(offset, el)
                offset += ql
                pos += length
        part.append(measure)
    return part


@without_gc_pauses
def bars_to_score(bars: np.ndarray, grid: Grid = DEFAULT_GRID, *, tempo: float | None = 120.0,
                  instrument: str = "Piano", title: str | None = None,
                  staves: str = "grand", key=None, structure=None,
                  meter_map: str = "scale"):
    """A music21 score of a bar array: measures, meter, clefs, chords and ties.

    ``staves="grand"`` writes one piano on two staves (treble from middle C up, bass
    below), braced together; ``"one"`` writes a single staff with the clef that suits its
    notes. Notes that sound on in the next bar are tied over the barline; a slice of a bar
    that is not a single note value is written as tied notes split at the beat.
    ``score_to_bars`` of the result gives back ``canonical_bars(bars)`` exactly (for any
    array produced by ``score_to_bars``, that is ``bars`` itself).

    ``key``: ``None`` (default) writes no key signature and spells black keys as music21
    does (C#, E-flat, F#, G#, B-flat); ``"auto"`` estimates the key from the notes
    (:func:`estimate_key`), writes its signature and spells the notes in it; a name such as
    ``"D"`` or ``"f#"`` (lower case = minor) or a music21 ``Key`` sets it. The spelling never
    changes a pitch, so the round trip stays exact.

    ``structure``: the bar structure to write (a query's
    :class:`~qbdi_musicology.bars.BarStructure`, one bar per bar of ``bars``): each bar is
    written in its own meter and length (a pickup as a short first bar), mapped back from
    the grid by ``meter_map`` as :func:`convert_score` mapped it in; ``None`` writes full
    bars of the grid's meter. ``score_to_bars`` of the result gives back the bars then too
    (for bars in the grid's meter exactly; other meters up to the mapping's rounding).

    Example: one bar with C4-E4-G4 struck on step 0 and held for 8 steps gives a half-note
    C major chord and a half rest in the treble staff, and a whole rest in the bass.
    """
    from music21 import instrument as m21instrument
    from music21 import layout, metadata, stream

    if staves not in STAFF_LAYOUTS:
        raise ParameterError(f"staves={staves!r}: choose 'grand' (two staves) or 'one'")
    from .bars import from_model_bar, uniform_structure

    bars = canonical_bars(bars, grid)
    n = bars.shape[0]
    if structure is None:
        structure = uniform_structure(n, grid)
    if len(structure) != n:
        raise ParameterError(f"the bar structure has {len(structure)} bars but the bar array "
                             f"{n}; give the structure the bars were read with")
    layouts = _layouts(structure, grid)
    if all(lay.steps == grid.steps and lay.full == grid.steps for lay in layouts):
        roll = bars.reshape(n * grid.steps, grid.pitches, 2)
    else:
        roll = np.concatenate([from_model_bar(bars[b], structure.bars[b], grid, meter_map)
                               for b in range(n)]) if n else \
            np.zeros((0, grid.pitches, 2), dtype=bool)
    play, art = roll[..., PLAY], roll[..., ARTICULATE]
    score = stream.Score()
    score.metadata = metadata.Metadata()
    score.metadata.title = title or "Piano roll"
    try:
        inst_template = m21instrument.fromString(instrument)
    except Exception:  # music21 raises its own InstrumentException for unknown names
        log.warning("unknown instrument %r; using a piano", instrument)
        inst_template = m21instrument.Piano()
    key_obj = _key_object(key, bars, grid)
    layout_rows = _staff_rows(grid, staves)
    part_cls = stream.PartStaff if staves == "grand" else stream.Part
    made = []
    for i, (clef_name, rows) in enumerate(layout_rows):
        inst = type(inst_template)()  # one instrument object per staff
        inst.partName = instrument
        staff_id = f"P1-Staff{i + 1}" if staves == "grand" else "P1"
        # the tempo mark goes on the top staff only (MuseScore draws one per staff)
        part = _build_staff(play, art, grid, clef_name, rows, first=(i == 0), tempo=tempo,
                            part_cls=part_cls, instrument_obj=inst, staff_id=staff_id,
                            key_obj=key_obj, layouts=layouts)
        part.partName = instrument
        made.append(part)
        score.insert(0, part)
    if staves == "grand":
        score.insert(0, layout.StaffGroup(made, name=instrument, abbreviation=None,
                                          symbol="brace", barTogether=True))
    return score
