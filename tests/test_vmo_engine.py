"""The fast VMO engine against the original ``vmo`` package: identical arrays and IR."""

from __future__ import annotations

import numpy as np
import pytest

from qbdi_musicology.analysis import vmo_engine as E
from qbdi_musicology.analysis import vmo_reference as R
from qbdi_musicology.analysis.vmo_patterns import repeated_patterns
from qbdi_musicology.errors import InputError, ParameterError

vmo = pytest.importorskip("vmo")


def _frames(seed: int, n: int, dim: int = 12, silent: bool = False) -> np.ndarray:
    """Quantised chroma-like frames with many near-repeats (and some silences)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 3, size=(6, dim)).astype(float)
    x = base[rng.integers(0, 6, size=n)] + (rng.random((n, dim)) < 0.1) * rng.random((n, dim))
    if silent:
        x[rng.random(n) < 0.2] = 0.0
    return x


def _assert_same_oracle(fast: E.Oracle, ref) -> None:
    mine, theirs = fast.to_vmo_lists(), R.vmo_lists(ref)
    for key in mine:
        assert mine[key] == theirs[key], f"{key} differs"
    ir, h0, h1 = ref.IR()
    assert np.array_equal(fast.ir, ir) and np.array_equal(fast.h0, h0)
    assert np.array_equal(fast.h1, h1)


@pytest.mark.parametrize("distance", ["cosine", "tonnetz", "euclidean"])
@pytest.mark.parametrize("seed", range(4))
def test_sweep_identical_to_vmo_on_random_frames(seed, distance):
    x = _frames(seed, 40 + 25 * seed, silent=seed % 2 == 1)
    thresholds = np.arange(0.0, 1.2, 0.03)  # 40 thresholds
    sweep = E.ir_sweep(x, thresholds, distance)
    totals, ref = R.reference_sweep(x, thresholds, distance)
    assert np.array_equal(sweep.ir_totals, totals)  # identical, not close
    assert sweep.best_threshold == thresholds[int(np.argmax(totals))]
    _assert_same_oracle(sweep.oracle, ref)


@pytest.mark.parametrize("distance", ["cosine", "tonnetz"])
def test_every_threshold_gives_the_same_oracle(distance):
    x = _frames(7, 60)
    for threshold in np.arange(0.0, 1.0, 0.05):
        _assert_same_oracle(E.build_oracle(x, threshold, distance),
                            R.reference_oracle(x, threshold, distance))


def test_chorale_sweep_identical_to_vmo_find_threshold():
    from music21 import corpus
    from qbdi_musicology.analysis.dynamics import chroma_frames
    x = chroma_frames(corpus.parse("bach/bwv66.6"), unit="beat").values
    for distance, step in (("cosine", 0.01), ("tonnetz", 0.02)):
        thresholds = np.arange(0.0, 1.0, step)
        (best_ir, best_t), pairs = R.reference_find_threshold(x, 0.0, 1.0, step, distance)
        sweep = E.ir_sweep(x, thresholds, distance)
        assert np.array_equal(sweep.ir_totals, [p[0] for p in pairs])
        assert sweep.best_threshold == best_t and sweep.max_ir == best_ir
        _assert_same_oracle(sweep.oracle, R.reference_oracle(x, best_t, distance))


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_tiny_inputs_match_vmo(n):
    x = _frames(3, n)
    for threshold in (0.0, 0.3, 0.9):
        _assert_same_oracle(E.build_oracle(x, threshold, "cosine"),
                            R.reference_oracle(x, threshold, "cosine"))


def test_constant_input_has_zero_ir_everywhere():
    x = np.tile([4.0, 0, 0, 0, 3, 0, 0, 3, 0, 0, 0, 0], (30, 1))  # a C major triad, 30 times
    thresholds = np.arange(0.0, 0.5, 0.05)
    sweep = E.ir_sweep(x, thresholds, "tonnetz")
    totals, _ = R.reference_sweep(x, thresholds, "tonnetz")
    assert np.array_equal(sweep.ir_totals, totals)
    assert (sweep.ir_totals == 0).all() and sweep.best_threshold == 0.0
    # above threshold 0 the whole piece is one symbol repeated
    assert E.build_oracle(x, 0.1, "tonnetz").n_symbols == 1


def test_tonnetz_distance_is_vmos_bit_for_bit():
    from vmo.VMO.utility.distances.tonnetz import distance as vmo_tonnetz
    x = _frames(11, 50, silent=True)
    assert E.tonnetz_kernel() in ("fma", "plain")
    block = E._Distances(x, "tonnetz", 50).block(0, 50)
    for a in range(50):
        for b in range(a):
            assert block[a, b] == vmo_tonnetz(x[a], x[b])
    assert np.array_equal(E.tonnetz_matrix(), vmo.VMO.utility.distances.tonnetz._make_tonnetz_matrix())


@pytest.mark.parametrize("distance", ["cosine", "tonnetz"])
@pytest.mark.parametrize("lower", [0, 1, 3])
def test_pattern_finder_matches_vmo(distance, lower):
    x = _frames(5, 120)
    sweep = E.ir_sweep(x, np.arange(0.0, 1.0, 0.05), distance)
    ref = R.reference_oracle(x, sweep.best_threshold, distance)
    mine = repeated_patterns(sweep.oracle, lower=lower)
    theirs = R.reference_patterns(ref, lower=lower)
    assert mine == [(list(map(int, ends)), int(length)) for ends, length in theirs]
    assert mine, "a piece with this much repetition has patterns"


def test_bad_inputs_are_clear_errors():
    x = _frames(1, 10)
    with pytest.raises(ParameterError, match="empty"):
        E.ir_sweep(x, [], "cosine")
    with pytest.raises(ParameterError, match="empty"):
        E.ir_sweep(x, np.arange(0.5, 0.1, 0.1), "cosine")
    with pytest.raises(ParameterError, match="negative"):
        E.ir_sweep(x, [-0.1, 0.2], "cosine")
    with pytest.raises(ParameterError):
        E.ir_sweep(x, [np.nan], "cosine")
    with pytest.raises(ParameterError, match="unknown distance"):
        E.ir_sweep(x, [0.1], "manhattan-ish")
    bad = x.copy()
    bad[4, 2] = np.nan
    with pytest.raises(InputError, match="frame 4"):
        E.ir_sweep(bad, [0.1], "cosine")
    with pytest.raises(InputError, match="12-bin chroma"):
        E.ir_sweep(np.ones((5, 3)), [0.1], "tonnetz")
    with pytest.raises(InputError, match="at least"):
        E.ir_sweep(np.zeros((0, 12)), [0.1], "cosine")


@pytest.mark.slow
@pytest.mark.parametrize("distance", ["cosine", "tonnetz"])
def test_large_random_sweep_identical(distance):
    rng = np.random.default_rng(0)
    x = rng.random((600, 12))
    thresholds = np.arange(0.0, 1.0, 0.05)
    sweep = E.ir_sweep(x, thresholds, distance)
    totals, ref = R.reference_sweep(x, thresholds, distance)
    assert np.array_equal(sweep.ir_totals, totals)
    _assert_same_oracle(sweep.oracle, ref)


def test_identical_for_any_small_integer_chroma():
    """Property: integer chroma (many exact repeats and distance ties) gives vmo's oracle."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from hypothesis.extra.numpy import arrays

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(x=arrays(np.float64, st.tuples(st.integers(1, 25), st.just(12)),
                    elements=st.integers(0, 2).map(float)),
           threshold=st.sampled_from([0.0, 0.05, 0.2, 0.35, 0.5, 0.8]),
           distance=st.sampled_from(["cosine", "tonnetz"]))
    def check(x, threshold, distance):
        _assert_same_oracle(E.build_oracle(x, threshold, distance),
                            R.reference_oracle(x, threshold, distance))

    check()


@pytest.mark.parametrize("distance, step", [("cosine", 0.01), ("tonnetz", 0.05)])
def test_three_chorales_in_a_row_identical_to_vmo(distance, step):
    """Real chroma with real repetition: three chorales' beats, one after the other."""
    from music21 import corpus
    from qbdi_musicology.analysis.dynamics import chroma_frames
    x = np.concatenate([chroma_frames(corpus.parse(name), unit="beat").values
                        for name in ("bach/bwv66.6", "bach/bwv269", "bach/bwv347")])
    assert len(x) == 36 + 63 + 52
    thresholds = np.arange(0.0, 1.0, step)
    sweep = E.ir_sweep(x, thresholds, distance)
    totals, ref = R.reference_sweep(x, thresholds, distance)
    assert np.array_equal(sweep.ir_totals, totals)
    _assert_same_oracle(sweep.oracle, ref)
    assert repeated_patterns(sweep.oracle, 3) == [
        (list(map(int, e)), int(n)) for e, n in R.reference_patterns(ref, 3)]


def test_transitions_overflow_into_a_growing_edge_pool_in_insertion_order():
    """States with more transitions than their inline slots keep the rest in a linked edge
    pool; starting from an empty pool, it is reallocated as it fills, and every oracle is
    still vmo's (transition lists in vmo's order)."""
    x = _frames(2, 150)
    thresholds = np.arange(0.0, 1.0, 0.1)
    sweep = E.ir_sweep(x, thresholds, "cosine", edge_pool=0)
    totals, _ = R.reference_sweep(x, thresholds, "cosine")
    assert np.array_equal(sweep.ir_totals, totals)
    widest = 0
    for keep in range(len(thresholds)):
        oracle = E.ir_sweep(x, thresholds, "cosine", keep=keep, edge_pool=0).oracle
        _assert_same_oracle(oracle, R.reference_oracle(x, thresholds[keep], "cosine"))
        widest = max(widest, max(len(oracle.transitions(k)) for k in range(151)))
    assert widest > E._SLOTS + 2


@pytest.mark.parametrize("dim", [1, 2, 7, 12, 24])
def test_cosine_distance_is_scipys_bit_for_bit(dim):
    """The engine's own cosine distance gives scipy's numbers (which vmo uses), silent
    frames (NaN) included."""
    from scipy.spatial.distance import cdist
    rng = np.random.default_rng(dim)
    x = rng.normal(size=(90, dim)) * rng.uniform(0.01, 100.0, size=(90, 1))
    x[::9] = 0.0
    x[1::4] = np.abs(np.round(x[1::4]))
    assert E.cosine_kernel(dim) in ("pairs", "plain")
    block = E._Distances(x, "cosine", 90).block(0, 90)
    with np.errstate(invalid="ignore", divide="ignore"):
        reference = cdist(x, x, "cosine")
    low = np.tril_indices(90, -1)
    assert np.array_equal(block[low], reference[low], equal_nan=True)
    rows = E._Distances(x, "cosine", 30)
    for first in (0, 30, 60):
        part = rows.block(first, first + 30)
        for r in range(30):
            a = first + r
            assert np.array_equal(part[r, :a], reference[a, :a], equal_nan=True)


@pytest.mark.parametrize("lanes", [1, 2])
@pytest.mark.parametrize("dim", [1, 2, 3, 6, 7, 12])
def test_both_cosine_summations_follow_their_definition(lanes, dim):
    """Whichever summation this machine's scipy uses, the other one is exact too: each
    distance equals the formula summed in that order, one pair at a time in Python."""
    rng = np.random.default_rng(10 * dim + lanes)
    x = rng.normal(size=(40, dim)) * rng.uniform(0.01, 100.0, size=(40, 1))
    x[::8] = 0.0

    def dot(u, v):
        if lanes == 1:
            total = 0.0
            for a, b in zip(u, v):
                total += a * b
            return total
        even = odd = 0.0
        paired = dim - dim % 2
        for k in range(0, paired, 2):
            even += u[k] * v[k]
            odd += u[k + 1] * v[k + 1]
        total = 0.0 + (even + odd)
        for k in range(paired, dim):
            total += u[k] * v[k]
        return total

    norms = E._cosine_norms(x, lanes)
    out = np.empty((40, 40))
    E._cosine_block(x, np.ascontiguousarray(x.T), norms, 0, 40, lanes, out)
    for a in range(40):
        assert norms[a] == np.sqrt(dot(x[a], x[a]))
        for b in range(a):
            with np.errstate(invalid="ignore"):
                c = dot(x[a], x[b]) / (norms[a] * norms[b])
            if abs(c) > 1.0:
                c = 1.0 if c > 0 else -1.0
            expected = 1.0 - c
            assert out[a, b] == expected or (np.isnan(expected) and np.isnan(out[a, b]))


def test_log2_of_counts_does_not_depend_on_the_array_it_is_in():
    """The IR looks log2 of its counts up in one table; numpy gives each count the same
    log2 wherever it stands, as in vmo's ``log2(cumsum(...))`` of every length."""
    table = np.log2(np.arange(1, 5001, dtype=np.float64))
    rng = np.random.default_rng(8)
    for length in (1, 3, 8, 17, 100, 1001, 5000):
        counts = np.cumsum(rng.random(length) < rng.random())
        counts = counts[counts > 0].astype(np.float64)
        assert np.array_equal(np.log2(counts), table[counts.astype(np.int64) - 1])


def test_scipy_fallbacks_and_wide_state_numbers_give_vmos_oracle(monkeypatch):
    """The slower exact paths - scipy's own cosine distance, 32-bit state numbers (used
    for oracles too long for 16 bits) - build the same oracles as vmo."""
    x = _frames(4, 90, silent=True)
    thresholds = np.arange(0.0, 1.0, 0.04)
    totals, ref = R.reference_sweep(x, thresholds, "cosine")
    monkeypatch.setattr(E, "cosine_kernel", lambda dim: "scipy")
    sweep = E.ir_sweep(x, thresholds, "cosine")
    assert np.array_equal(sweep.ir_totals, totals)
    _assert_same_oracle(sweep.oracle, ref)
    monkeypatch.undo()
    monkeypatch.setattr(E, "_INT16_STATES", 0)
    sweep = E.ir_sweep(x, thresholds, "cosine")
    assert np.array_equal(sweep.ir_totals, totals)
    _assert_same_oracle(sweep.oracle, ref)
