"""Tonal centroid and Tonnetz distance (Harte, Sandler & Gasser 2006)."""

from __future__ import annotations

import numpy as np
import pytest

from qbdi_musicology.analysis.tonnetz import pcs_chroma, tonal_centroid, tonnetz_distance

C, G, F_SHARP, A_MINOR = pcs_chroma([0, 4, 7]), pcs_chroma([7, 11, 2]), \
    pcs_chroma([6, 10, 1]), pcs_chroma([9, 0, 4])


def test_a_chord_is_at_distance_zero_from_itself():
    assert tonnetz_distance(C, C) == 0.0
    # doubling the root changes the weights a little, never the pitch-class set
    assert tonnetz_distance(C, C * 3) == 0.0


def test_fifth_closer_than_tritone_and_relative_minor_closest():
    assert tonnetz_distance(C, A_MINOR) < tonnetz_distance(C, G) < tonnetz_distance(C, F_SHARP)
    # symmetric, and the same for every transposition (the circles are rotations)
    assert tonnetz_distance(C, G) == pytest.approx(tonnetz_distance(G, C))
    d_g = pcs_chroma([2, 6, 9])
    assert tonnetz_distance(G, d_g) == pytest.approx(tonnetz_distance(C, G))


def test_centroid_geometry():
    centroid = tonal_centroid(pcs_chroma([0]))
    # a single pitch class lies on each circle: radii 1, 1 and 0.5
    assert np.linalg.norm(centroid[0:2]) == pytest.approx(1.0)
    assert np.linalg.norm(centroid[2:4]) == pytest.approx(1.0)
    assert np.linalg.norm(centroid[4:6]) == pytest.approx(0.5)
    # the diminished seventh chord cancels out on the circle of minor thirds...
    dim7 = tonal_centroid(pcs_chroma([11, 2, 5, 8]))
    assert np.linalg.norm(dim7[2:4]) == pytest.approx(0.0, abs=1e-12)
    # ...and the augmented triad on the circle of major thirds
    aug = tonal_centroid(pcs_chroma([0, 4, 8]))
    assert np.linalg.norm(aug[4:6]) == pytest.approx(0.0, abs=1e-12)
    # all twelve pitch classes together sit at the centre
    assert np.allclose(tonal_centroid(np.ones(12)), 0.0)
    assert np.allclose(tonal_centroid(np.zeros(12)), 0.0)


def test_rows_broadcast():
    bars = np.stack([C, G, F_SHARP])
    distances = tonnetz_distance(bars, C)
    assert distances.shape == (3,)
    assert distances[0] == 0.0 and distances[1] < distances[2]
    assert tonal_centroid(bars).shape == (3, 6)
    with pytest.raises(ValueError):
        tonal_centroid(np.ones(7))
