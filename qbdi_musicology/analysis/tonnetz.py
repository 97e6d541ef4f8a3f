"""Tonal centroid and Tonnetz distance (Harte, Sandler & Gasser 2006).

A pitch-class profile is projected onto three circles: the circle of fifths, the circle of
minor thirds and the circle of major thirds (radii 1, 1 and 0.5). Each pitch class is a
point on each circle; the *tonal centroid* of a sonority is the average of its pitch
classes' points, weighted by the L1-normalised profile, a 6-dimensional vector. Chords that
share notes or lie close on the circle of fifths have near centroids: C major is closer to
G major (one fifth away, a shared G) than to F# major (a tritone away, nothing shared).

Example::

    tonnetz_distance(pcs_chroma([0, 4, 7]), pcs_chroma([7, 11, 2]))   # C to G:  ~1.21
    tonnetz_distance(pcs_chroma([0, 4, 7]), pcs_chroma([6, 10, 1]))   # C to F#: ~1.97
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

#: Radii of the circle of fifths, of minor thirds and of major thirds.
RADII = (1.0, 1.0, 0.5)


def _transform() -> np.ndarray:
    """The 6 x 12 matrix Phi of Harte et al.: column l is pitch class l's point."""
    l = np.arange(12)
    r1, r2, r3 = RADII
    return np.array([
        r1 * np.sin(l * 7 * np.pi / 6), r1 * np.cos(l * 7 * np.pi / 6),  # fifths
        r2 * np.sin(l * 3 * np.pi / 2), r2 * np.cos(l * 3 * np.pi / 2),  # minor thirds
        r3 * np.sin(l * 2 * np.pi / 3), r3 * np.cos(l * 2 * np.pi / 3),  # major thirds
    ])


PHI = _transform()


def pcs_chroma(pitch_classes: Iterable[int]) -> np.ndarray:
    """A 12-bin profile with weight 1 on each given pitch class: ``[0, 4, 7]`` is C major."""
    chroma = np.zeros(12)
    for pc in pitch_classes:
        chroma[int(pc) % 12] += 1.0
    return chroma


def tonal_centroid(chroma: np.ndarray) -> np.ndarray:
    """Tonal centroid(s): ``(12,) -> (6,)`` or ``(n, 12) -> (n, 6)``.

    The profile is L1-normalised first, so only the proportions matter (a doubled C does
    not move C major's centroid far). Silence (an all-zero profile) maps to the origin.
    """
    chroma = np.asarray(chroma, dtype=float)
    centroids = _normalise(chroma) @ PHI.T
    return centroids


def _normalise(chroma: np.ndarray) -> np.ndarray:
    if chroma.shape[-1:] != (12,):
        raise ValueError(f"a chroma has 12 pitch classes, got shape {chroma.shape}")
    total = np.abs(chroma).sum(axis=-1, keepdims=True)
    return chroma / np.where(total > 0, total, 1.0)


def tonnetz_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray | float:
    """Euclidean distance between the tonal centroids of two profiles (or rows of them).

    0 for the same sonority; C-Am (~0.80) < C-G (~1.21) < C-F# (~1.97). Rows are paired,
    or one side broadcasts: ``tonnetz_distance(bars, tonic)`` gives each bar's distance to
    the tonic.
    """
    # The projection is linear: project the difference of the normalised profiles, so that
    # equal profiles give exactly 0 whatever the rounding of the matrix product.
    diff = _normalise(np.asarray(a, dtype=float)) - _normalise(np.asarray(b, dtype=float))
    distance = np.linalg.norm(diff @ PHI.T, axis=-1)
    return float(distance) if np.ndim(distance) == 0 else distance
