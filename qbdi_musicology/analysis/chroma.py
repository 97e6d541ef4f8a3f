"""Pitch-class profiles (chroma) of piano-roll bars and the best-matching triad.

These are the small pure functions that the model's evaluation and the harmonic analysis
share: a duration-weighted 12-bin chroma per bar, and the best of the 24 major/minor triads
by cosine similarity (the measure of "triad agreement" used throughout the docs).
"""

from __future__ import annotations

import numpy as np

from ..grid import DEFAULT_GRID, PLAY, Grid

PITCH_NAMES = ("C", "C#", "D", "E-", "E", "F", "F#", "G", "A-", "A", "B-", "B")
#: Display names (sharps/flats as a musician would spell chord roots).
ROOT_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


def _triad_templates() -> np.ndarray:
    templates = np.zeros((24, 12))
    for root in range(12):
        templates[root, [root, (root + 4) % 12, (root + 7) % 12]] = 1.0  # major
        templates[12 + root, [root, (root + 3) % 12, (root + 7) % 12]] = 1.0  # minor
    return templates


TRIAD_TEMPLATES = _triad_templates()


def bars_chroma(bars: np.ndarray, grid: Grid = DEFAULT_GRID) -> np.ndarray:
    """Duration-weighted chroma of each bar: ``(n_bars, steps, pitches, 2) -> (n_bars, 12)``.

    Each sounding step of a pitch adds one to its pitch class, so a whole-note C counts 16
    times as much as a sixteenth-note D. Rows are not normalised; an empty bar is all zeros.
    """
    bars = np.asarray(bars)
    if bars.ndim == 3:
        bars = bars[None]
    play = bars[..., PLAY].astype(np.float64)  # (n, steps, pitches)
    per_pitch = play.sum(axis=1)  # (n, pitches)
    chroma = np.zeros((bars.shape[0], 12))
    pcs = (np.arange(grid.low_pitch, grid.low_pitch + bars.shape[2])) % 12
    np.add.at(chroma.T, pcs, per_pitch.T)
    return chroma


def best_triad(chroma: np.ndarray) -> np.ndarray:
    """Index (0-23) of the best major/minor triad for each chroma row; -1 for silence.

    0-11 are C, C#, ... B major; 12-23 the minor triads on the same roots. Ties go to the
    lower index (major before minor), so the answer is deterministic.

    Example: a bar of C-E-G gives 0 (C major); A-C-E gives 21 (A minor).
    """
    chroma = np.atleast_2d(np.asarray(chroma, dtype=np.float64))
    norms = np.linalg.norm(chroma, axis=1)
    scores = chroma @ TRIAD_TEMPLATES.T
    best = scores.argmax(axis=1)
    best[norms == 0] = -1
    return best


def triad_name(index: int) -> str:
    """Human name of a triad index from :func:`best_triad`: ``0 -> 'C'``, ``21 -> 'Am'``."""
    if index < 0:
        return "N.C."
    return ROOT_NAMES[index % 12] + ("m" if index >= 12 else "")


def tonic_triad_index(tonic_pc: int, mode: str) -> int:
    """Triad index of a key's tonic: ``(7, 'major') -> 7`` (G), ``(9, 'minor') -> 21`` (Am)."""
    return tonic_pc % 12 + (12 if mode == "minor" else 0)
