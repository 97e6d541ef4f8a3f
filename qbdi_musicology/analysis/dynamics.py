"""Music information dynamics: information rate (IR) of a piece and the motifs it repeats.

Section 3 of Dubnov's paper analyses the query and the improvisations with a Variable
Markov Oracle (VMO): each beat (or bar) becomes a feature frame - a 12-bin chroma compared
with a Tonnetz distance, or a VAE latent compared with a cosine distance - the oracle is
built at many similarity thresholds, the threshold with the largest total information rate
is kept, and the repeated patterns of the oracle at that threshold are the piece's motifs.

* :func:`chroma_frames` - duration-weighted chroma of each beat or bar of a music21 score,
  with the bar and beat of each frame (so motifs can be put back into the score);
* :func:`analyse_frames` / :func:`analyse_score` - the threshold sweep, the best oracle and
  its motifs (:class:`Dynamics`); ``engine='fast'`` (default, exact, numba) or ``'vmo'``
  (the original package, slow; for checking);
* :func:`ir_summary` - one row of numbers per piece (optimal threshold, max IR, number of
  motifs...) for the drift table.

Well-defined results for awkward input (tested): a constant piece (every frame alike) has
IR 0 at every threshold, so the optimal threshold is the smallest one of the grid (as
``vmo.find_threshold`` answers) and ``ir_is_flat`` is true; silent frames have zero chroma
(Tonnetz: all silences are alike; cosine: a silence is like nothing, as scipy's cosine of a
zero vector is NaN). Errors: fewer than :data:`MIN_FRAMES` frames, NaN/infinite features
(:class:`InputError`), an empty, negative or NaN threshold range (:class:`ParameterError`).

Example::

    from music21 import corpus
    result = analyse_score(corpus.parse("bwv66.6"), unit="beat")
    result.best_threshold, result.max_ir, [m.label for m in result.motifs]
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError, ParameterError
from . import vmo_engine
from .vmo_engine import BestThreshold, Oracle, Sweep, check_distance, check_thresholds
from .vmo_patterns import Motif, motifs as find_motifs

log = logging.getLogger(__name__)

#: Fewer frames than this cannot show a repetition worth the name: an InputError.
MIN_FRAMES = 4
UNITS = ("beat", "bar")


# ----------------------------------------------------------------------------------------
# frames


@dataclass
class Frames:
    """Feature frames and where they are in the piece.

    ``values``: ``(n, features)``; ``measures``: bar number of each frame (music21's
    ``Measure.number``, 0 for a pickup); ``beats``: 1-based beat in the bar (a pickup of one
    beat in 4/4 is beat 4); ``offsets``/``durations``: in quarter notes from the start.
    ``parts``: names of the parts read. Frames from outside a score (e.g. VAE latents per
    bar) get bar numbers 1..n and beat 1.
    """

    values: np.ndarray
    unit: str = "frame"
    measures: np.ndarray | None = None
    beats: np.ndarray | None = None
    offsets: np.ndarray | None = None
    durations: np.ndarray | None = None
    title: str = ""
    parts: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=np.float64)
        if self.values.ndim == 1:
            self.values = self.values[:, None]
        n = self.values.shape[0]
        if self.measures is None:
            self.measures = np.arange(1, n + 1)
        if self.beats is None:
            self.beats = np.ones(n)
        if self.offsets is None:
            self.offsets = np.arange(n, dtype=np.float64)
        if self.durations is None:
            self.durations = np.ones(n)

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def where(self, frame: int) -> str:
        """Human position of a frame: ``'bar 3 beat 2'`` (or ``'bar 3'`` for bar frames)."""
        bar = int(self.measures[frame])
        if self.unit == "beat":
            beat = float(self.beats[frame])
            return f"bar {bar} beat {beat:g}"
        return f"bar {bar}"


#: Parts with this name are the query shown beside an improvisation (``qbdi sweep`` adds
#: them under the improvisation's staves); they are not part of the piece analysed.
QUERY_PART_NAME = "Query"


def analysed_parts(score) -> list:
    """The parts whose notes make the frames: all of them, except the staves of the query
    that ``qbdi sweep`` shows under an improvisation (parts named "Query") when there are
    other parts. A stream without parts is its own single part.

    Example: for ``bwv66.6_R8.musicxml`` from ``qbdi sweep``, the two "Improvisation"
    staves; for a chorale, soprano, alto, tenor and bass.
    """
    parts = list(score.parts) if hasattr(score, "parts") else []
    if not parts:
        return [score]
    kept = [p for p in parts if (p.partName or "") != QUERY_PART_NAME]
    return kept or parts


def _measures_of(score):
    """The measures of the first analysed part (or of the score itself if it has none)."""
    from music21 import stream
    ref = analysed_parts(score)[0]
    measures = list(ref.getElementsByClass(stream.Measure))
    if not measures and ref.notesAndRests:
        # an unmeasured stream (e.g. built note by note): bar it by its time signature,
        # on a copy (makeMeasures returns a new stream)
        try:
            barred = ref.makeMeasures()
            measures = list(barred.getElementsByClass(stream.Measure))
            ref = barred
        except Exception as exc:  # music21 raises various errors on odd streams
            log.info("could not bar the stream (%s); using 4/4 quarter-note beats", exc)
    return ref, measures


def _beat_grid(score) -> tuple[list, list, list, list]:
    """Frame starts, lengths, bar numbers and beat numbers of every beat of the score."""
    from music21 import meter
    ref, measures = _measures_of(score)
    starts, lengths, bars, beats = [], [], [], []
    if not measures:  # an unmeasured stream: quarter-note beats, 4/4 bars
        total = float(score.highestTime)
        for k in range(int(np.ceil(total))):
            starts.append(float(k))
            lengths.append(min(1.0, total - k))
            bars.append(k // 4 + 1)
            beats.append(float(k % 4 + 1))
        return starts, lengths, bars, beats
    ts = meter.TimeSignature("4/4")
    ref_offset = float(ref.offset) if ref is not score and ref.activeSite is score else 0.0
    for m in measures:
        if m.timeSignature is not None:
            ts = m.timeSignature
        beat = float(ts.beatDuration.quarterLength)
        start = ref_offset + float(m.offset)
        length = float(m.duration.quarterLength)
        pad = float(m.paddingLeft or 0.0)
        nominal = start - pad  # where the bar would start if it were complete
        k = int(np.floor(pad / beat + 1e-9))
        while nominal + k * beat < start + length - 1e-9:
            lo = max(nominal + k * beat, start)
            hi = min(nominal + (k + 1) * beat, start + length)
            if hi - lo > 1e-9:
                starts.append(lo)
                lengths.append(hi - lo)
                bars.append(int(m.number))
                beats.append(float(k + 1) + (lo - (nominal + k * beat)) / beat)
            k += 1
    return starts, lengths, bars, beats


def _bar_grid(score) -> tuple[list, list, list, list]:
    ref, measures = _measures_of(score)
    if not measures:
        total = float(score.highestTime)
        n = int(np.ceil(total / 4.0))
        return ([4.0 * k for k in range(n)], [min(4.0, total - 4.0 * k) for k in range(n)],
                list(range(1, n + 1)), [1.0] * n)
    ref_offset = float(ref.offset) if ref is not score and ref.activeSite is score else 0.0
    starts = [ref_offset + float(m.offset) for m in measures]
    lengths = [float(m.duration.quarterLength) for m in measures]
    return starts, lengths, [int(m.number) for m in measures], [1.0] * len(measures)


def chroma_frames(score, unit: str = "beat") -> Frames:
    """Duration-weighted 12-bin chroma of each beat (or bar) of a music21 score.

    Every sounding pitch adds the part of its duration that falls in the frame (in quarter
    notes) to its pitch class; all parts count (see :func:`analysed_parts`: the query staves
    shown under an improvisation do not); grace notes and unpitched notes do not.
    Beats follow the time signature (a dotted quarter in 6/8); a pickup bar gives only the
    beats it has. Repeats are not expanded.

    Example: in bwv66.6 (A major, 4/4, one-beat pickup) the first frame is the pickup beat
    (bar 0, beat 4), whose chroma holds A, C# and E.
    """
    unit = str(unit).lower()
    if unit not in UNITS:
        raise ParameterError(f"unit {unit!r}: choose 'beat' or 'bar'")
    starts, lengths, bars, beats = _beat_grid(score) if unit == "beat" else _bar_grid(score)
    starts_a = np.asarray(starts, dtype=np.float64)
    lengths_a = np.asarray(lengths, dtype=np.float64)
    values = np.zeros((len(starts), 12))
    if len(starts):
        ends = starts_a + lengths_a
        parts = analysed_parts(score)
        notes = [(el, float(el.offset) + (float(part.offset) if part is not score else 0.0))
                 for part in parts for el in part.flatten().notes]
        for element, onset in notes:
            duration = float(element.quarterLength)
            if duration <= 0 or not hasattr(element, "pitches"):
                continue
            offset = onset + duration
            first = max(int(np.searchsorted(ends, onset, side="right")), 0)
            last = int(np.searchsorted(starts_a, offset, side="left"))
            for f in range(first, last):
                overlap = min(offset, ends[f]) - max(onset, starts_a[f])
                if overlap > 0:
                    for p in element.pitches:
                        values[f, p.pitchClass] += overlap
    title = ""
    if getattr(score, "metadata", None) is not None:
        title = score.metadata.title or ""
    names = [getattr(p, "partName", None) or getattr(p, "id", "") for p in analysed_parts(score)]
    return Frames(values=values, unit=unit, measures=np.asarray(bars, dtype=np.int64),
                  beats=np.asarray(beats, dtype=np.float64), offsets=starts_a,
                  durations=lengths_a, title=title, parts=[str(n) for n in names])


# ----------------------------------------------------------------------------------------
# analysis


def default_thresholds(distance: str) -> np.ndarray:
    """The threshold grid used when none is given: 100 thresholds from 0 in steps of 0.01
    for the Tonnetz and cosine distances of chroma (their useful range), 0.02 for others.
    Latents compared by cosine can lie up to 2 apart: pass your own grid if needed."""
    distance = check_distance(distance)
    step = 0.01 if distance in ("tonnetz", "cosine") else 0.02
    return np.arange(0.0, 100 * step, step)


@dataclass
class Dynamics(BestThreshold):
    """The IR analysis of one piece: IR vs threshold, the best oracle, its motifs."""

    frames: Frames
    thresholds: np.ndarray
    ir_totals: np.ndarray
    oracle: Oracle
    motifs: list[Motif] = field(default_factory=list)
    distance: str = "tonnetz"
    n_symbols: np.ndarray | None = None

    @property
    def ir_is_flat(self) -> bool:
        """True when every threshold gives the same total IR (e.g. a constant piece)."""
        return bool(np.all(self.ir_totals == self.ir_totals[0]))

    def summary(self) -> dict:
        """One row of numbers for tables (see :func:`ir_summary`)."""
        n = len(self.frames)
        return {
            "unit": self.frames.unit,
            "distance": self.distance,
            "n_frames": n,
            "optimal_threshold": self.best_threshold,
            "max_ir": self.max_ir,
            "mean_ir_per_frame": self.max_ir / n if n else 0.0,
            "n_symbols": self.oracle.n_symbols,
            "n_motifs": len(self.motifs),
            "longest_motif": max((m.length for m in self.motifs), default=0),
            "motif_coverage": self.motif_coverage(),
            "ir_is_flat": self.ir_is_flat,
        }

    def motif_coverage(self) -> float:
        """Share of frames inside at least one motif statement (0-1)."""
        n = len(self.frames)
        if not n:
            return 0.0
        covered = np.zeros(n, dtype=bool)
        for motif in self.motifs:
            for occ in motif.occurrences:
                covered[occ.start:occ.stop] = True
        return float(covered.mean())

    def curve_table(self, piece: str = ""):
        """IR vs threshold as a tidy DataFrame: ``piece, threshold, ir, n_symbols``."""
        import pandas as pd
        return pd.DataFrame({"piece": piece, "threshold": self.thresholds,
                             "ir": self.ir_totals,
                             "n_symbols": self.n_symbols if self.n_symbols is not None
                             else np.nan})

    def motif_table(self, piece: str = ""):
        """One row per motif statement: label, motif, start bar/beat, length in frames."""
        import pandas as pd
        rows = []
        fr = self.frames
        for motif in self.motifs:
            for occ in motif.occurrences:
                rows.append({"piece": piece, "motif": motif.label, "occurrence": occ.label,
                             "start_frame": occ.start, "length_frames": occ.length,
                             "start_bar": int(fr.measures[occ.start]),
                             "start_beat": float(fr.beats[occ.start]),
                             "end_bar": int(fr.measures[occ.stop - 1]),
                             "start_offset": float(fr.offsets[occ.start]),
                             "duration_quarters": float(fr.offsets[occ.stop - 1]
                                                        + fr.durations[occ.stop - 1]
                                                        - fr.offsets[occ.start])})
        return pd.DataFrame(rows, columns=["piece", "motif", "occurrence", "start_frame",
                                           "length_frames", "start_bar", "start_beat",
                                           "end_bar", "start_offset", "duration_quarters"])


def _as_frames(frames) -> Frames:
    if isinstance(frames, Frames):
        return frames
    return Frames(values=np.asarray(frames, dtype=np.float64))


def analyse_frames(frames, *, distance: str = "cosine", thresholds=None,
                   min_length: int = 2, min_repeats: int = 2,
                   engine: str = "fast") -> Dynamics:
    """IR analysis of feature frames: sweep, best oracle, motifs.

    ``frames``: a :class:`Frames` or an array ``(n, features)`` - e.g. the VAE latent means
    of each bar, compared by cosine distance. ``thresholds``: an array (default
    :func:`default_thresholds`). ``engine='vmo'`` runs the original package instead (same
    numbers, much slower).

    Example: ``analyse_frames(latents, distance="cosine").best_threshold``.
    """
    fr = _as_frames(frames)
    distance = check_distance(distance)
    thr = check_thresholds(default_thresholds(distance) if thresholds is None else thresholds)
    x = vmo_engine.check_frames(fr.values, min_frames=MIN_FRAMES)
    if engine == "fast":
        sweep: Sweep = vmo_engine.ir_sweep(x, thr, distance=distance)
        oracle, totals, n_sym = sweep.oracle, sweep.ir_totals, sweep.n_symbols
    elif engine == "vmo":
        from .vmo_reference import reference_sweep
        totals, _ = reference_sweep(x, thr, distance=distance)
        # the motifs are read from the identical oracle of the fast engine's arrays
        oracle = vmo_engine.build_oracle(x, thr[int(np.argmax(totals))], distance=distance)
        n_sym = None
    else:
        raise ParameterError(f"engine {engine!r}: choose 'fast' or 'vmo'")
    found = find_motifs(oracle, min_length=min_length, min_repeats=min_repeats)
    log.info("%s: %d frames, best threshold %.3f, IR %.2f, %d motifs", fr.title or "piece",
             len(fr), thr[int(np.argmax(totals))], totals.max(), len(found))
    return Dynamics(frames=fr, thresholds=thr, ir_totals=totals, oracle=oracle,
                    motifs=found, distance=distance, n_symbols=n_sym)


def analyse_score(score, *, unit: str = "beat", distance: str = "tonnetz", thresholds=None,
                  min_length: int | None = None, min_repeats: int = 2,
                  engine: str = "fast") -> Dynamics:
    """IR analysis of a music21 score from its beat (or bar) chroma.

    ``min_length`` defaults to one 4/4 bar: 4 frames for beats, 2 for bars.

    Example: ``analyse_score(corpus.parse("bwv66.6")).motifs[0].occurrences`` - the
    statements of the first motif, with their start frames.
    """
    fr = chroma_frames(score, unit=unit)
    if len(fr) < MIN_FRAMES:
        raise InputError(f"the piece has only {len(fr)} {unit}(s); the information-rate "
                         f"analysis needs at least {MIN_FRAMES}: use --unit beat or a longer "
                         f"piece")
    if min_length is None:
        min_length = 4 if fr.unit == "beat" else 2
    return analyse_frames(fr, distance=distance, thresholds=thresholds,
                          min_length=min_length, min_repeats=min_repeats, engine=engine)


def ir_summary(piece, **kwargs) -> dict:
    """Summary numbers of one piece's IR analysis, for per-rate columns of the drift table.

    ``piece``: a music21 score (analysed by :func:`analyse_score`, Tonnetz on beat chroma by
    default), feature frames (array or :class:`Frames`, :func:`analyse_frames`, cosine by
    default) or a finished :class:`Dynamics`. Keys: ``unit, distance, n_frames,
    optimal_threshold, max_ir, mean_ir_per_frame, n_symbols, n_motifs, longest_motif,
    motif_coverage, ir_is_flat``.

    Example: ``ir_summary(improvisation)["max_ir"]``.
    """
    if isinstance(piece, Dynamics):
        return piece.summary()
    if isinstance(piece, (np.ndarray, Frames, list, tuple)):
        return analyse_frames(piece, **kwargs).summary()
    return analyse_score(piece, **kwargs).summary()
