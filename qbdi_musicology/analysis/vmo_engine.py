"""A fast, exact Variable Markov Oracle (VMO) and its information-rate threshold sweep.

The Variable Markov Oracle (Wang & Dubnov) reads a sequence of feature frames (chroma per
beat, VAE latents per bar...) and decides, frame by frame, whether the new frame *repeats*
something heard before: two frames count as "the same symbol" when their distance is below
a threshold. The oracle's suffix links then point from every frame to the earlier place
where the longest repeated context ends, and its compression code gives the *information
rate* (IR): how much the past helps to predict the present. Sweeping the threshold and
keeping the one with the largest total IR is the analysis of Dubnov's paper (Sec. 3).

This module builds exactly the same oracle as the reference package ``vmo`` 0.30.5
(``vmo.build_oracle(..., suffix_method='inc')``, IR type ``'cum'``) - the same suffix links,
LRS values, transitions, reverse suffix links, symbols, compression code and IR values, bit
for bit - but much faster:

* the distances between frames are computed once per sweep, not once per threshold and
  per step, and each is the number ``vmo`` sees. The cosine distance has its own compiled
  kernel that sums in the order of this machine's scipy (checked against scipy's ``cdist``
  at first use for each frame width, see :func:`cosine_kernel`; scipy itself is called if
  neither known order agrees). Other scipy metrics (``'euclidean'``...) go through
  ``cdist``, whose value for a pair of frames does not depend on the other rows it is
  called with. The Tonnetz distance is projected per frame with the same numpy calls as
  ``vmo``, and the pairwise norm reproduces numpy's BLAS dot product (the summation order
  and fused multiply-adds are checked against numpy on this machine at first use; see
  :func:`tonnetz_kernel`);
* all thresholds are built side by side in one compiled (numba) pass over the frames, each
  state of each threshold's oracle kept in one small record (see :func:`_advance`);
* the IR values are computed with ``vmo``'s arithmetic in the same order, with numpy's own
  ``log2`` of the counts and numpy's own sum of each threshold's IR, so the IR totals are
  identical, not just close.

States are numbered as in ``vmo``: state 0 is the empty start, state ``i`` (1..N) is frame
``i - 1``. ``sfx[0]`` (``None`` in ``vmo``) is stored as -1, and so is the symbol of state 0.

Example: the IR of a chorale's beat chroma over 100 thresholds::

    frames = chroma_frames(corpus.parse("bwv66.6"), unit="beat").values
    sweep = ir_sweep(frames, np.arange(0.0, 1.0, 0.01), distance="tonnetz")
    sweep.best_threshold, sweep.ir_totals.max()
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field

import numpy as np
from numba import njit
from numba.core import types
from numba.extending import intrinsic

from ..errors import InputError, ParameterError

log = logging.getLogger(__name__)

#: Distances the engine knows. Scipy metric names mean scipy's definitions (see _Distances).
TONNETZ = "tonnetz"
SCIPY_METRICS = ("cosine", "euclidean", "sqeuclidean", "cityblock", "chebyshev",
                 "correlation", "braycurtis", "canberra")
DISTANCES = (TONNETZ,) + SCIPY_METRICS

#: Distances are computed in blocks of at most this many rows (new frames) against all
#: earlier frames: small blocks skip most of the unused upper triangle, memory stays
#: bounded (64 x N values), and a block stays in the processor's cache while the oracles
#: read it.
_BLOCK_ROWS = 64


# ----------------------------------------------------------------------------------------
# the result


@dataclass
class Oracle:
    """One Variable Markov Oracle, in ``vmo``'s conventions, as numpy arrays.

    ``sfx[i]``: suffix link of state i (-1 for state 0); ``lrs[i]``: length of the longest
    repeated suffix ending at state i; ``symbols[i]``: the symbol (cluster) of frame i - 1
    (-1 for state 0); ``trn``/``rsfx``: forward transitions and reverse suffix links of each
    state, in insertion order, as CSR arrays (see :meth:`transitions`); ``code``: the
    compression code, rows ``(length, position)`` (length 0 = a new frame at position);
    ``compror``: rows ``(end state, length)``; ``ir``, ``h0``, ``h1``: the per-frame
    information rate and the two entropies it is made of.

    Example: in a piece whose beats go C-G-C-G, ``symbols[1:]`` is ``[0, 1, 0, 1]`` and
    ``sfx[3] == 1`` (the second C points back to the first).
    """

    threshold: float
    distance: str
    sfx: np.ndarray
    lrs: np.ndarray
    symbols: np.ndarray
    trn_indptr: np.ndarray
    trn_indices: np.ndarray
    rsfx_indptr: np.ndarray
    rsfx_indices: np.ndarray
    max_lrs: np.ndarray
    avg_lrs: np.ndarray
    code: np.ndarray
    compror: np.ndarray
    ir: np.ndarray
    h0: np.ndarray
    h1: np.ndarray

    @property
    def n_frames(self) -> int:
        """Number of frames (states minus the start state)."""
        return int(self.sfx.shape[0] - 1)

    @property
    def n_symbols(self) -> int:
        """Number of distinct symbols (clusters of similar frames) the threshold made."""
        return int(self.symbols.max() + 1) if self.n_frames else 0

    @property
    def total_ir(self) -> float:
        """Total information rate, as ``vmo.find_threshold`` sums it."""
        return float(self.ir.sum())

    def transitions(self, state: int) -> np.ndarray:
        """Forward transitions of ``state`` (target states, in insertion order)."""
        return self.trn_indices[self.trn_indptr[state]:self.trn_indptr[state + 1]]

    def reverse_suffixes(self, state: int) -> np.ndarray:
        """States whose suffix link points to ``state`` (ascending)."""
        return self.rsfx_indices[self.rsfx_indptr[state]:self.rsfx_indptr[state + 1]]

    def latent(self) -> list[list[int]]:
        """States of each symbol, as ``vmo``'s ``oracle.latent`` lists them."""
        order = np.argsort(self.symbols[1:], kind="stable")
        states = order + 1
        counts = np.bincount(self.symbols[1:], minlength=self.n_symbols)
        return [s.tolist() for s in np.split(states, np.cumsum(counts)[:-1])] \
            if self.n_frames else []

    def to_vmo_lists(self) -> dict:
        """All arrays as the Python lists a ``vmo`` oracle holds (``None`` for state 0)."""
        n = self.sfx.shape[0]
        return {
            "sfx": [None] + self.sfx[1:].tolist(),
            "lrs": self.lrs.tolist(),
            "data": [None] + self.symbols[1:].tolist(),
            "trn": [self.transitions(k).tolist() for k in range(n)],
            "rsfx": [self.reverse_suffixes(k).tolist() for k in range(n)],
            "latent": self.latent(),
            "code": self.code.tolist(),
            "compror": self.compror.tolist(),
            "max_lrs": self.max_lrs.tolist(),
            "avg_lrs": self.avg_lrs.tolist(),
        }


class BestThreshold:
    """The choice of threshold shared by every IR sweep result (needs ``thresholds`` and
    ``ir_totals``): the first threshold with the largest total IR, as
    ``vmo.find_threshold`` chooses (ties go to the smaller threshold)."""

    thresholds: np.ndarray
    ir_totals: np.ndarray

    @property
    def best_index(self) -> int:
        return int(np.argmax(self.ir_totals))

    @property
    def best_threshold(self) -> float:
        """The smallest threshold with the largest total IR (vmo's choice)."""
        return float(self.thresholds[self.best_index])

    @property
    def max_ir(self) -> float:
        """Total IR (bits, summed over frames) at the best threshold."""
        return float(self.ir_totals[self.best_index])


@dataclass
class Sweep(BestThreshold):
    """Total information rate at each threshold of a sweep, and the best oracle."""

    thresholds: np.ndarray
    ir_totals: np.ndarray
    distance: str
    oracle: Oracle
    n_symbols: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


# ----------------------------------------------------------------------------------------
# input checks


def check_frames(frames, min_frames: int = 1) -> np.ndarray:
    """Return ``frames`` as a C-contiguous float64 array ``(n_frames, dim)``.

    A 1-d array is one feature per frame. NaN or infinite values are an :class:`InputError`
    naming the first bad frame; fewer than ``min_frames`` frames too.
    """
    x = np.asarray(frames, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise InputError(f"feature frames must be a 2-d array (frames x features); "
                         f"got shape {x.shape}")
    if x.shape[0] < min_frames:
        raise InputError(f"only {x.shape[0]} feature frame(s); the oracle needs at least "
                         f"{min_frames}: analyse a longer passage or use shorter frames "
                         f"(beats instead of bars)")
    if x.shape[1] == 0:
        raise InputError("feature frames have no features (0 columns)")
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InputError(f"feature frame {first} (0-based) contains NaN or infinite values "
                         f"({int(bad.sum())} bad frame(s) in all); clean or drop them first")
    return np.ascontiguousarray(x)


def check_thresholds(thresholds) -> np.ndarray:
    """Return thresholds as a float64 array; empty, NaN or negative ones are an error.

    Example: ``check_thresholds(np.arange(0.0, 1.0, 0.01))`` (100 thresholds).
    """
    t = np.atleast_1d(np.asarray(thresholds, dtype=np.float64))
    if t.ndim != 1 or t.size == 0:
        raise ParameterError("the threshold range is empty; give e.g. start 0, stop 1, "
                             "step 0.01")
    if not np.isfinite(t).all():
        raise ParameterError("thresholds must be finite numbers")
    if (t < 0).any():
        raise ParameterError(f"threshold {float(t[t < 0][0])!r} is negative; a distance "
                             f"is never below a negative threshold, use values >= 0")
    return np.ascontiguousarray(t)


def check_distance(distance: str) -> str:
    """Lower-cased distance name, or a :class:`ParameterError` listing the known ones."""
    name = str(distance).lower()
    if name not in DISTANCES:
        raise ParameterError(f"unknown distance {distance!r}; choose one of {DISTANCES}")
    return name


# ----------------------------------------------------------------------------------------
# distances


def tonnetz_matrix() -> np.ndarray:
    """The 6 x 12 Tonnetz projection (Harte, Sandler & Gasser 2006) with vmo's radii.

    Rows: circle of fifths (x, y; radius 1), circle of minor thirds (x, y; radius 1),
    circle of major thirds (x, y; radius 0.5). The entries are computed with the same
    expressions as ``vmo``, so the projection is bit-identical.
    """
    pc = np.arange(12)
    angle_fifth, angle_minor, angle_major = 7 * np.pi / 6, 3 * np.pi / 2, 2 * np.pi / 3
    return np.vstack((1.0 * np.sin(angle_fifth * pc), 1.0 * np.cos(angle_fifth * pc),
                      1.0 * np.sin(angle_minor * pc), 1.0 * np.cos(angle_minor * pc),
                      0.5 * np.sin(angle_major * pc), 0.5 * np.cos(angle_major * pc)))


_TONNETZ = tonnetz_matrix()


def tonnetz_points(chroma: np.ndarray) -> np.ndarray:
    """Tonnetz point (6-d, L1-normalised) of each chroma frame; silence maps to 0.

    Projected frame by frame with the same numpy calls as ``vmo`` (a matrix-vector product
    per frame, not one matrix product), because the two can round differently.
    Example: a C major triad and a C major triad in another voicing map to the same point.
    """
    chroma = np.asarray(chroma, dtype=np.float64)
    if chroma.ndim != 2 or chroma.shape[1] != 12:
        raise InputError(f"the Tonnetz distance needs 12-bin chroma frames; got shape "
                         f"{chroma.shape}")
    out = np.zeros((chroma.shape[0], 6))
    for i, frame in enumerate(chroma):
        if np.sum(np.abs(frame)) == 0.:
            continue
        point = np.dot(_TONNETZ, frame)
        out[i] = point / float(np.sum(np.abs(point)))
    return out


@intrinsic
def _fma(typingctx, a, b, c):
    """Fused multiply-add a * b + c with one rounding (LLVM ``llvm.fma.f64``)."""
    from llvmlite import ir as llir

    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        d = llir.DoubleType()
        fn = builder.module.declare_intrinsic("llvm.fma", [d], llir.FunctionType(d, [d] * 3))
        return builder.call(fn, args)

    return sig, codegen


@njit(cache=True)
def _sq_plain(v):
    s = 0.0
    for k in range(v.shape[0]):
        s += v[k] * v[k]
    return s


@njit(cache=True)
def _sq_fma(v):
    s = 0.0
    for k in range(v.shape[0]):
        s = _fma(v[k], v[k], s)
    return s


@njit(cache=True)
def _tonnetz_block(points, first, last, use_fma, out):
    """out[r, j] = |points[j] - points[first + r]| for frames first..last-1, j < first + r."""
    dim = points.shape[1]
    diff = np.empty(dim)
    for r in range(last - first):
        a = first + r
        for j in range(a):
            for k in range(dim):
                diff[k] = points[j, k] - points[a, k]
            if use_fma:
                out[r, j] = np.sqrt(_sq_fma(diff))
            else:
                out[r, j] = np.sqrt(_sq_plain(diff))


@functools.lru_cache(maxsize=1)
def tonnetz_kernel() -> str:
    """How numpy's dot product sums 6 squares on this machine: ``'fma'`` or ``'plain'``.

    ``vmo``'s Tonnetz distance is ``numpy.linalg.norm`` of a 6-d difference, i.e. a BLAS
    dot product, whose rounding depends on the BLAS kernel (OpenBLAS sums short vectors left
    to right, with fused multiply-adds on CPUs that have them). The engine checks both
    summations against numpy on fixed random vectors and uses the one that agrees on all of
    them; ``'numpy'`` means neither did and the (slow, exact) numpy path is used.
    """
    rng = np.random.default_rng(20191)
    vectors = rng.normal(size=(4000, 6)) * rng.uniform(0.001, 1.0, size=(4000, 1))
    reference = np.array([v.dot(v) for v in vectors])
    for name, fn in (("fma", _sq_fma), ("plain", _sq_plain)):
        if all(fn(v) == r for v, r in zip(vectors, reference)):
            return name
    log.warning("numpy's dot product matches neither summation; Tonnetz distances use the "
                "slow numpy path")
    return "numpy"


@njit(cache=True)
def _cosine_norms(x, lanes):
    """Euclidean length of each frame, summed the way scipy's cosine distance sums it.

    ``lanes == 1``: squares added left to right; ``lanes == 2``: even and odd features in
    two running sums that are then added (what a compiler makes of scipy's loop with
    2-wide vector instructions), then the last feature of an odd-length frame.
    """
    n, dim = x.shape
    out = np.empty(n)
    paired = dim - dim % 2 if lanes == 2 else 0
    for j in range(n):
        s = 0.0
        if lanes == 2:
            s0 = 0.0
            s1 = 0.0
            for k in range(0, paired, 2):
                s0 += x[j, k] * x[j, k]
                s1 += x[j, k + 1] * x[j, k + 1]
            s += s0 + s1
        for k in range(paired, dim):
            s += x[j, k] * x[j, k]
        out[j] = np.sqrt(s)
    return out


@njit(cache=True, error_model="numpy")
def _cosine_block(x, xt, norms, first, last, lanes, out):
    """out[r, j] = cosine distance of frames first + r and j (j < first + r), as scipy.

    scipy computes ``1 - dot(u, v) / (|u| |v|)``, clipped to [0, 2] against rounding; the
    dot product is summed like the lengths (see :func:`_cosine_norms`). The loops run over
    the earlier frames innermost (``xt`` is ``x`` transposed), so each frame's own sum keeps
    its order while the machine works on many frames at once. Silent frames give NaN.
    """
    dim = x.shape[1]
    paired = dim - dim % 2 if lanes == 2 else 0
    other = np.empty(last)
    # Each running sum starts at its first product, not at 0 + that product: the two
    # differ only in the sign of a zero sum, and 1 - (+0 or -0) is the same distance.
    # Features are taken two (or four) at a time, so each pass over the earlier frames
    # does more arithmetic per number read and written.
    for r in range(last - first):
        a = first + r
        acc = out[r]
        if paired == 0:
            u0 = x[a, 0]
            v0 = xt[0]
            for j in range(a):
                acc[j] = u0 * v0[j]
            k = 1
            while k + 2 <= dim:
                u0 = x[a, k]
                u1 = x[a, k + 1]
                v0 = xt[k]
                v1 = xt[k + 1]
                for j in range(a):
                    acc[j] = (acc[j] + u0 * v0[j]) + u1 * v1[j]
                k += 2
            if k < dim:
                u0 = x[a, k]
                v0 = xt[k]
                for j in range(a):
                    acc[j] += u0 * v0[j]
        else:
            # even features in acc, odd ones in other
            u0 = x[a, 0]
            u1 = x[a, 1]
            v0 = xt[0]
            v1 = xt[1]
            for j in range(a):
                acc[j] = u0 * v0[j]
                other[j] = u1 * v1[j]
            k = 2
            while k + 4 <= paired:
                u0 = x[a, k]
                u1 = x[a, k + 1]
                u2 = x[a, k + 2]
                u3 = x[a, k + 3]
                v0 = xt[k]
                v1 = xt[k + 1]
                v2 = xt[k + 2]
                v3 = xt[k + 3]
                for j in range(a):
                    acc[j] = (acc[j] + u0 * v0[j]) + u2 * v2[j]
                    other[j] = (other[j] + u1 * v1[j]) + u3 * v3[j]
                k += 4
            if k < paired:
                u0 = x[a, k]
                u1 = x[a, k + 1]
                v0 = xt[k]
                v1 = xt[k + 1]
                for j in range(a):
                    acc[j] += u0 * v0[j]
                    other[j] += u1 * v1[j]
            if paired < dim:
                u0 = x[a, dim - 1]
                v0 = xt[dim - 1]
                for j in range(a):
                    acc[j] = (acc[j] + other[j]) + u0 * v0[j]
            else:
                for j in range(a):
                    acc[j] = acc[j] + other[j]
        norm_a = norms[a]
        for j in range(a):
            c = acc[j] / (norm_a * norms[j])
            if abs(c) > 1.0:
                c = 1.0 if c > 0.0 else -1.0
            acc[j] = 1.0 - c


@functools.lru_cache(maxsize=None)
def cosine_kernel(dim: int) -> str:
    """How this machine's scipy sums the cosine distance of ``dim``-feature frames:
    ``'pairs'`` or ``'plain'`` (see :func:`_cosine_norms`); ``'scipy'`` if neither.

    scipy's loop is written left to right, but the compiled library may add even and odd
    features separately (2-wide vector instructions), which rounds differently. The engine
    checks both summations against ``scipy.spatial.distance.cdist`` on fixed random frames
    (of several magnitudes, with integer and silent ones) and uses the one that agrees on
    every pair; with neither it calls scipy itself (exact, slower).
    """
    from scipy.spatial.distance import cdist
    rng = np.random.default_rng(20192)
    n = 160
    x = rng.normal(size=(n, dim)) * rng.uniform(0.001, 1000.0, size=(n, 1))
    x[n // 4:n // 2] = rng.integers(0, 3, size=(n // 4, dim))
    x[n // 2:3 * n // 4] = np.abs(x[n // 2:3 * n // 4])
    x[::17] = 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        reference = cdist(x, x, metric="cosine")
    xt = np.ascontiguousarray(x.T)
    for name, lanes in (("pairs", 2), ("plain", 1)):
        out = np.empty((n, n))
        _cosine_block(x, xt, _cosine_norms(x, lanes), 0, n, lanes, out)
        low = np.tril_indices(n, -1)
        if np.array_equal(out[low], reference[low], equal_nan=True):
            return name
    log.info("scipy's cosine distance matches neither summation; cosine distances go "
             "through scipy")
    return "scipy"


class _Distances:
    """The distances ``vmo`` computes between each new frame and the earlier ones, a block
    of new frames at a time, bit for bit.

    ``block(first, last)`` returns a ``(last - first, last)`` array whose row r, column j is
    the distance between the new frame first + r and the earlier frame j (only j < first + r
    is filled in or used). The blocks share one buffer, so a block is valid until the next.
    """

    def __init__(self, x: np.ndarray, distance: str, rows: int):
        self.x = x
        self.distance = distance
        self.buffer = np.empty(max(1, min(rows, x.shape[0]) * x.shape[0]))
        self.kernel = "scipy"
        if distance == TONNETZ:
            self.kernel = tonnetz_kernel()
            self.points = tonnetz_points(x)
        elif distance == "cosine":
            self.kernel = cosine_kernel(x.shape[1])
            if self.kernel != "scipy":
                self.lanes = 2 if self.kernel == "pairs" else 1
                self.xt = np.ascontiguousarray(x.T)
                self.norms = _cosine_norms(x, self.lanes)

    def block(self, first: int, last: int) -> np.ndarray:
        out = self.buffer[:(last - first) * last].reshape(last - first, last)
        if self.distance == TONNETZ:
            if self.kernel == "numpy":
                for r in range(last - first):
                    a = first + r
                    for j in range(a):
                        out[r, j] = np.linalg.norm(self.points[j] - self.points[a])
            else:
                _tonnetz_block(self.points, first, last, self.kernel == "fma", out)
        elif self.kernel != "scipy":
            _cosine_block(self.x, self.xt, self.norms, first, last, self.lanes, out)
        else:
            from scipy.spatial.distance import cdist
            with np.errstate(invalid="ignore", divide="ignore"):
                cdist(self.x[first:last], self.x[:last], metric=self.distance, out=out)
        return out


# ----------------------------------------------------------------------------------------
# the compiled oracle


@njit(cache=True)
def _grow(arr, size):
    """A copy of the 1-d array ``arr`` with room for at least ``size`` items (at least
    twice its length, so repeated growth stays cheap); the new part is unset."""
    out = np.empty(max(size, 2 * arr.shape[0]), dtype=arr.dtype)
    out[:arr.shape[0]] = arr
    return out


#: How many nearest earlier frames are kept per frame to shortcut the scans of trn[0].
_NEAREST = 16
#: Transitions of a state kept in its record (the rest in the shared edge pool).
_SLOTS = 7
#: The fields of a state's record (see :func:`_advance`); 16 fields, 32 bytes in 16 bits.
(_F_SFX, _F_LRS, _F_SYM, _F_PRE, _F_CNT, _F_RS_HEAD, _F_RS_TAIL, _F_RS_NEXT, _F_RS_SEEN,
 _F_SLOT) = range(10)
_FIELDS = _F_SLOT + _SLOTS
#: ``pre`` of a state whose LRS reaches back before the first frame (see :func:`_advance`).
_PRE_UNKNOWN = -2
#: All bits of a record's ``seen`` field (see :func:`_seen_bit`).
_SEEN_ALL = (1 << 15) - 1
#: Oracles with at most this many states keep state numbers in 16 bits.
_INT16_STATES = 2 ** 15 - 1


@njit(cache=True, inline="always")
def _insert_nearer(nd, nj, q, d, j):
    """Put frame ``j`` at distance ``d`` into a row kept in ascending order, at slot ``q``
    or before it (the entries after its place move one slot on; the last one at ``q`` is
    dropped). Equal distances keep the earlier frame first."""
    while q > 0 and nd[q - 1] > d:
        nd[q] = nd[q - 1]
        nj[q] = nj[q - 1]
        q -= 1
    nd[q] = d
    nj[q] = j


@njit(cache=True)
def _nearest(dblock, first, k_max):
    """The k_max nearest earlier frames of each new frame, by (distance, frame) ascending.

    NaN distances never count (vmo's ``d < threshold`` is false for them). Ties keep the
    earlier frame first, which is the order vmo's scans meet them in.
    """
    rows = dblock.shape[0]
    nd = np.empty((rows, k_max))
    nj = np.empty((rows, k_max), dtype=np.int64)
    count = np.zeros(rows, dtype=np.int64)
    for r in range(rows):
        row = dblock[r]
        a = first + r
        # fill the list with the first k_max frames (NaN never enters)...
        c = 0
        j = 0
        while j < a and c < k_max:
            d = row[j]
            if d == d:
                _insert_nearer(nd[r], nj[r], c, d, j)
                c += 1
            j += 1
        count[r] = c
        # ...then only a frame nearer than the farthest kept one goes in (NaN is never
        # nearer), which for most frames is one comparison
        worst = nd[r, k_max - 1] if c == k_max else 0.0
        while j < a:
            d = row[j]
            if d < worst:
                _insert_nearer(nd[r], nj[r], k_max - 1, d, j)
                worst = nd[r, k_max - 1]
            j += 1
    return nd, nj, count


@njit(cache=True, inline="always")
def _seen_bit(lrs, pre):
    """One of 15 bits for a child's (LRS, preceding symbol) pair.

    Each state records in ``seen`` the bits of all its children (the states whose suffix
    link points to it); vmo's search for a better suffix among them (see
    :func:`_advance`) can only succeed if the bit of what it looks for is set, so most
    searches, which would find nothing, are skipped without reading a child.
    """
    return 1 << ((lrs * 40503 + pre * 9973) % 15)


@njit(cache=True)
def _advance(thresholds, dblock, near_d, near_j, near_n, first, rec, n_sym, first_states,
             trn_head, trn_tail, e_to, e_next, e_count):
    """Add frames first..first+len(dblock)-1 to every threshold's oracle (vmo's add_state).

    The oracles of all thresholds grow side by side: for each new frame, every threshold
    takes its step before the next frame comes, so the frame's row of distances is read
    while it is in the cache. Building an oracle is mostly waiting for memory, so each
    state of each threshold's oracle is one small record, ``rec[state, threshold]``, which
    holds everything a step reads about that state: suffix link, LRS, symbol, ``pre`` (the
    symbol before its repeated suffix), the number of its transitions and the first
    ``_SLOTS`` of them, and its place in the reverse suffix links (head and tail of its
    own list of children, next sibling, and the ``seen`` bits of its children, see
    :func:`_seen_bit`). One read brings all of it in, and the records of neighbouring
    thresholds, whose oracles mostly visit the same states, are neighbours.

    Transitions beyond the slots go to linked lists in one edge pool shared by all
    thresholds (``trn_head``/``trn_tail`` per state, ``e_to``/``e_next`` per edge,
    ``e_count[0]`` edges used), so appending keeps vmo's insertion order. ``near_*`` (each
    new frame's nearest earlier frames, see :func:`_nearest`) shortcut the scans: a frame
    whose nearest earlier frame is not below the threshold is new, so vmo's scans would all
    come back empty and only their side effects (the new transitions along the suffix
    chain) are made; and the scan of trn[0] - the states that started a symbol - usually
    ends within the nearest frames. Both give exactly what the full scans give.

    Everything happens in this one function, with no array passed to a call in the loops:
    in compiled code each such call costs reference counting on every array argument, which
    used to take as long as the oracle itself. Returns the edge pool (reallocated when full).
    """
    n_thr = thresholds.shape[0]
    for r in range(dblock.shape[0]):
        i = first + r + 1  # the new state
        nn = near_n[r]
        nearest_d = near_d[r, 0] if nn > 0 else 0.0
        # a step adds at most one edge per state on the suffix chain, i.e. fewer than i + 1
        room = e_count[0] + n_thr * (i + 1)
        if e_to.shape[0] < room:
            e_to = _grow(e_to, room)
            e_next = _grow(e_next, room)
        for t in range(n_thr):
            thr = thresholds[t]
            novel = nn == 0 or not (nearest_d < thr)
            # Walk the suffix chain from i - 1: each state without a transition to a frame
            # like the new one gets a transition to i (i - 1 always does), until a state
            # whose transitions reach a frame below the threshold (cand) or the chain ends.
            src = i - 1
            k = rec[src, t, _F_SFX]
            cand = 0
            while True:
                # append the transition src -> i after src's others
                c = rec[src, t, _F_CNT]
                if c < _SLOTS:
                    rec[src, t, _F_SLOT + c] = i
                else:
                    e = e_count[0]
                    e_count[0] = e + 1
                    e_to[e] = i
                    e_next[e] = -1
                    if c == _SLOTS:
                        trn_head[src, t] = e
                    else:
                        e_next[trn_tail[src, t]] = e
                    trn_tail[src, t] = e
                rec[src, t, _F_CNT] = c + 1
                pi_1 = src
                if k == -1:
                    break
                best = -1
                best_d = 0.0
                if novel:
                    pass
                elif k == 0:
                    # trn[0] holds exactly the states that started a new symbol (the states
                    # whose suffix link is 0), in ascending order. The nearest earlier
                    # frames, in (distance, frame) order, usually decide: the first of them
                    # that started a symbol is the answer, and one at or above the
                    # threshold means none is below.
                    decided = False
                    for q in range(nn):
                        d = near_d[r, q]
                        if not (d < thr):
                            decided = True
                            break
                        s = near_j[r, q] + 1
                        if rec[s, t, _F_SFX] == 0:
                            best = s
                            best_d = d
                            decided = True
                            break
                    # otherwise scan their contiguous copy (the longest list)
                    for m in range(0 if decided else n_sym[t]):
                        s = first_states[t, m]
                        d = dblock[r, s - 1]
                        if d < thr:
                            if best == -1 or d < best_d:
                                best = s
                                best_d = d
                else:
                    c = rec[k, t, _F_CNT]
                    for q in range(min(c, _SLOTS)):
                        s = rec[k, t, _F_SLOT + q]
                        d = dblock[r, s - 1]
                        if d < thr:
                            if best == -1 or d < best_d:
                                best = s
                                best_d = d
                    e = trn_head[k, t] if c > _SLOTS else -1
                    while e != -1:
                        s = e_to[e]
                        d = dblock[r, s - 1]
                        if d < thr:
                            if best == -1 or d < best_d:
                                best = s
                                best_d = d
                        e = e_next[e]
                if best != -1:
                    cand = best
                    break
                src = k
                k = rec[k, t, _F_SFX]

            if k == -1:
                rec[i, t, _F_SFX] = 0
                rec[i, t, _F_LRS] = 0
                rec[i, t, _F_SYM] = n_sym[t]
                first_states[t, n_sym[t]] = i
                n_sym[t] += 1
                li = 0
            else:
                # length of the common suffix of pi_1 and cand - 1 (vmo's _len_common_suffix)
                p1 = pi_1
                p2 = cand - 1
                sfx_p1 = rec[p1, t, _F_SFX]
                if p2 == sfx_p1:
                    common = rec[p1, t, _F_LRS]
                else:
                    while rec[p2, t, _F_SFX] != sfx_p1 and p2 != 0:
                        p2 = rec[p2, t, _F_SFX]
                    common = min(rec[p1, t, _F_LRS], rec[p2, t, _F_LRS])
                li = common + 1
                rec[i, t, _F_SYM] = rec[cand, t, _F_SYM]

                # vmo's _find_better: the first sibling (a state with the same suffix
                # link) with the same LRS, preceded by the same symbol, becomes the suffix
                # link instead, one longer. ``pre`` holds each sibling's preceding symbol.
                # (A brand-new symbol has no such sibling: its long scan of rsfx[0] is
                # skipped.)
                idx = i - li
                if idx < 0:  # Python's negative indexing into the symbol list (length i + 1)
                    idx += i + 1
                symbol = rec[idx, t, _F_SYM]
                seen = rec[cand, t, _F_RS_SEEN]
                j = rec[cand, t, _F_RS_HEAD] if seen & _seen_bit(li, symbol) else -1
                while j != -1:
                    if rec[j, t, _F_LRS] == li:
                        pre = rec[j, t, _F_PRE]
                        if pre == _PRE_UNKNOWN:  # vmo's index wraps around: look it up
                            pre = rec[j - li + i + 1, t, _F_SYM]
                        if pre == symbol:
                            cand = j
                            li += 1
                            break
                    j = rec[j, t, _F_RS_NEXT]
                rec[i, t, _F_SFX] = cand
                rec[i, t, _F_LRS] = li

            before = i - li
            pre = rec[before, t, _F_SYM] if before >= 0 else _PRE_UNKNOWN
            rec[i, t, _F_PRE] = pre
            # append i to the reverse suffix links of its suffix, and mark its (LRS, pre)
            s = rec[i, t, _F_SFX]
            rec[i, t, _F_RS_NEXT] = -1
            rec[i, t, _F_RS_SEEN] = 0
            if rec[s, t, _F_RS_HEAD] == -1:
                rec[s, t, _F_RS_HEAD] = i
            else:
                rec[rec[s, t, _F_RS_TAIL], t, _F_RS_NEXT] = i
            rec[s, t, _F_RS_TAIL] = i
            rec[s, t, _F_RS_SEEN] |= _SEEN_ALL if pre == _PRE_UNKNOWN else _seen_bit(li, pre)
    return e_to, e_next


@njit(cache=True)
def _lrs_summaries(lrs):
    """vmo's running maximum and running mean of the LRS (``max_lrs``, ``avg_lrs``),
    updated state by state with vmo's arithmetic."""
    n_states = lrs.shape[0]
    max_lrs = np.zeros(n_states, dtype=np.int64)
    avg_lrs = np.zeros(n_states)
    for i in range(1, n_states):
        max_lrs[i] = lrs[i] if lrs[i] > max_lrs[i - 1] else max_lrs[i - 1]
        avg_lrs[i] = (avg_lrs[i - 1] * ((i - 1.0) / float(i))
                      + lrs[i] * (1.0 / float(i)))
    return max_lrs, avg_lrs


@njit(cache=True)
def _encode(lrs, sfx, n):
    """vmo's compression code of one oracle: rows (length, position) and (end, length)."""
    code = np.zeros((n, 2), dtype=np.int64)
    compror = np.zeros((n, 2), dtype=np.int64)
    m = 0
    j = 0
    i = 0
    while j < n:
        while i < n and lrs[i + 1] >= i - j + 1:
            i += 1
        if i == j:
            i += 1
            code[m, 0] = 0
            code[m, 1] = i
            compror[m, 0] = i
            compror[m, 1] = 0
        else:
            code[m, 0] = i - j
            code[m, 1] = sfx[i] - i + j + 1
            compror[m, 0] = i
            compror[m, 1] = i - j
        m += 1
        j = i
    return code[:m], compror[:m]


@njit(cache=True)
def _codewords(lrs, sfx, n, cw0, cw1, bl):
    """Fill vmo's 'cum' IR ingredients: new-symbol and code-word counts, block lengths."""
    code, _ = _encode(lrs, sfx, n)
    j = 0
    for c in range(code.shape[0]):
        length = code[c, 0]
        if length == 0:
            cw0[j] = 1.0
            cw1[j] = 1.0
            bl[j] = 1.0
            j += 1
        else:
            cw1[j] = 1.0
            for q in range(j, min(j + length, n)):
                bl[q] = length
            j += length


@njit(cache=True)
def _ir_rows(lrs, n, alpha, log2_count):
    """The per-frame IR of every threshold's oracle, row t for threshold t (``lrs`` holds
    one column per threshold).

    vmo's ``_ir_cum`` in one pass over the compression code: ``h0`` is log2 of the number
    of new frames so far, ``h1`` log2 of the number of code words so far divided by the
    length of the current code word, IR = alpha * h0 - h1, negative values set to 0.
    The counts are whole numbers, so their logarithms are looked up in ``log2_count``
    (numpy's own ``log2`` of 0, 1, ... n); the rest is the same arithmetic in the same
    order, so each value is bit-identical to vmo's.
    """
    n_thr = lrs.shape[1]
    # one pass through memory in its own order, to a row per threshold
    rows = np.empty((n_thr, n + 1), dtype=lrs.dtype)
    for i in range(n + 1):
        for t in range(n_thr):
            rows[t, i] = lrs[i, t]
    out = np.empty((n_thr, n))
    for t in range(n_thr):
        row = rows[t]
        new_frames = 0
        words = 0
        j = 0
        i = 0
        while j < n:
            while i < n and row[i + 1] >= i - j + 1:
                i += 1
            if i == j:  # a new frame: a code word of its own
                i += 1
                new_frames += 1
                words += 1
                length = 1
            else:  # a copy of i - j earlier frames
                words += 1
                length = i - j
            h0 = log2_count[new_frames]
            h1 = log2_count[words] / length
            ir = alpha * h0 - h1
            if ir < 0:
                ir = 0.0
            for q in range(j, min(j + length, n)):
                out[t, q] = ir
            j = i
    return out


def _ir_arrays(cw0: np.ndarray, cw1: np.ndarray, bl: np.ndarray, alpha: float):
    """vmo's ``_ir_cum`` on the code-word arrays, with the same numpy calls."""
    h0 = np.log2(np.cumsum(cw0))
    h1 = np.log2(np.cumsum(cw1))
    h1 = h1 / bl
    ir = alpha * h0 - h1
    ir[ir < 0] = 0
    return ir, h0, h1


@njit(cache=True)
def _csr(head, nxt, values, use_values):
    """Walk per-state linked lists into CSR arrays (indptr, indices)."""
    n_items = 0
    for k in range(head.shape[0]):
        e = head[k]
        while e != -1:
            n_items += 1
            e = nxt[e]
    indptr = np.zeros(head.shape[0] + 1, dtype=np.int64)
    out = np.empty(n_items, dtype=np.int64)
    m = 0
    for k in range(head.shape[0]):
        e = head[k]
        while e != -1:
            out[m] = values[e] if use_values else e
            m += 1
            e = nxt[e]
        indptr[k + 1] = m
    return indptr, out


@njit(cache=True)
def _trn_csr(cnt, slot, head, nxt, to):
    """Transitions of every state (inline slots, then the overflow list) as CSR arrays."""
    n_states = cnt.shape[0]
    indptr = np.zeros(n_states + 1, dtype=np.int64)
    for k in range(n_states):
        indptr[k + 1] = indptr[k] + cnt[k]
    out = np.empty(indptr[-1], dtype=np.int64)
    for k in range(n_states):
        m = indptr[k]
        for q in range(min(cnt[k], _SLOTS)):
            out[m] = slot[k, q]
            m += 1
        e = head[k] if cnt[k] > _SLOTS else -1
        while e != -1:
            out[m] = to[e]
            m += 1
            e = nxt[e]
    return indptr, out


# ----------------------------------------------------------------------------------------
# public entry points


def ir_sweep(frames, thresholds, distance: str = "cosine", alpha: float = 1.0,
             keep: int | None = None, edge_pool: int | None = None) -> Sweep:
    """Build the oracle at every threshold and return the total IR curve and the best oracle.

    Equivalent to ``vmo.find_threshold(frames, r=..., dfunc=distance, dim=frames.shape[1])``
    with ``ir_type='cum'`` (vmo's default), but the thresholds are given as an array (e.g.
    ``np.arange(0, 1, 0.01)``) and the oracle at the best threshold comes back too. ``keep``
    returns the oracle of another threshold index instead of the best one. ``edge_pool``
    (for tests) is the initial room for transitions beyond each state's inline slots; it
    grows as needed, so the results never depend on it.

    Example: chroma of a melody that states a motif twice has its best threshold where the
    two statements become the same symbols and the IR total is highest.
    """
    distance = check_distance(distance)
    x = check_frames(frames)
    thr = check_thresholds(thresholds)
    if distance == TONNETZ and x.shape[1] != 12:
        raise InputError(f"the Tonnetz distance needs 12-bin chroma frames; got "
                         f"{x.shape[1]} features per frame (use distance='cosine')")
    n, n_thr = x.shape[0], thr.shape[0]

    # One record per state and threshold (see _advance). State numbers are stored in the
    # smallest integer type that holds them: the oracle's time goes into waiting for
    # memory, so smaller records are faster. Only what vmo reads before writing is set.
    idx = np.int16 if n + 1 <= _INT16_STATES else np.int32
    rec = np.empty((n + 1, n_thr, _FIELDS), dtype=idx)
    rec[:, :, _F_CNT] = 0
    rec[:, :, _F_RS_HEAD] = -1
    rec[0, :, _F_RS_SEEN] = 0
    rec[0, :, _F_SFX] = -1
    rec[0, :, _F_LRS] = 0
    rec[0, :, _F_SYM] = -1
    n_sym = np.zeros(n_thr, dtype=idx)
    first_states = np.empty((n_thr, n + 1), dtype=idx)
    # the edge pool for transitions beyond the slots, grown when needed
    trn_head = np.empty((n + 1, n_thr), dtype=np.int32)
    trn_tail = np.empty((n + 1, n_thr), dtype=np.int32)
    pool = n_thr * (n + 16) if edge_pool is None else int(edge_pool)
    e_to = np.empty(pool, dtype=idx)
    e_next = np.empty(pool, dtype=np.int32)
    e_count = np.zeros(1, dtype=np.int64)

    rows = _BLOCK_ROWS
    distances = _Distances(x, distance, rows)
    for first in range(0, n, rows):
        last = min(n, first + rows)
        block = distances.block(first, last)
        near_d, near_j, near_n = _nearest(block, first, _NEAREST)
        e_to, e_next = _advance(thr, block, near_d, near_j, near_n, first, rec, n_sym,
                                first_states, trn_head, trn_tail, e_to, e_next, e_count)

    # the total IR of each threshold: the per-frame values are vmo's to the bit, and each
    # row is summed with numpy's sum of a 1-d array, as vmo sums it
    with np.errstate(divide="ignore"):
        log2_count = np.log2(np.arange(n + 1, dtype=np.float64))
    ir_rows = _ir_rows(rec[:, :, _F_LRS], n, float(alpha), log2_count)
    totals = np.array([row.sum() for row in ir_rows])
    best = int(np.argmax(totals)) if keep is None else int(keep)

    def field(f):
        return np.ascontiguousarray(rec[:, best, f])

    b_sfx, b_lrs = field(_F_SFX), field(_F_LRS)
    code, compror = _encode(b_lrs, b_sfx, n)
    cw0, cw1, bl = np.zeros(n), np.zeros(n), np.zeros(n)
    _codewords(b_lrs, b_sfx, n, cw0, cw1, bl)
    ir, h0, h1 = _ir_arrays(cw0, cw1, bl, alpha)
    trn_indptr, trn_indices = _trn_csr(field(_F_CNT),
                                       np.ascontiguousarray(rec[:, best, _F_SLOT:]),
                                       np.ascontiguousarray(trn_head[:, best]), e_next, e_to)
    max_lrs, avg_lrs = _lrs_summaries(b_lrs)
    rs_next = field(_F_RS_NEXT)
    rs_indptr, rs_indices = _csr(field(_F_RS_HEAD), rs_next, rs_next, False)
    oracle = Oracle(
        threshold=float(thr[best]), distance=distance, sfx=b_sfx.astype(np.int64),
        lrs=b_lrs.astype(np.int64), symbols=field(_F_SYM).astype(np.int64),
        trn_indptr=trn_indptr, trn_indices=trn_indices, rsfx_indptr=rs_indptr,
        rsfx_indices=rs_indices, max_lrs=max_lrs, avg_lrs=avg_lrs, code=code,
        compror=compror, ir=ir, h0=h0, h1=h1)
    return Sweep(thresholds=thr, ir_totals=totals, distance=distance, oracle=oracle,
                 n_symbols=n_sym.astype(np.int64))


def build_oracle(frames, threshold: float, distance: str = "cosine",
                 alpha: float = 1.0) -> Oracle:
    """The oracle of ``frames`` at one threshold (``vmo.build_oracle`` + ``IR()``).

    Example: ``build_oracle(chroma, 0.2, "tonnetz").symbols`` labels each beat with its
    cluster; beats with the same label are "the same harmony" at this threshold.
    """
    return ir_sweep(frames, [threshold], distance=distance, alpha=alpha).oracle
