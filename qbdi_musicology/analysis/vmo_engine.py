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
  per step. Scipy metrics (``'cosine'``, ``'euclidean'``...) are computed by scipy's own
  ``cdist``, whose value for a pair of frames does not depend on the other rows it is
  called with, so every number is the one ``vmo`` sees. The Tonnetz distance is projected
  per frame with the same numpy calls as ``vmo``, and the pairwise norm reproduces numpy's
  BLAS dot product (the summation order and fused multiply-adds are checked against numpy
  on this machine at first use; see :func:`tonnetz_kernel`);
* all thresholds are built side by side in one compiled (numba) pass over the frames;
* the IR arrays are computed with the same numpy calls as ``vmo`` on the same arrays, so
  the IR totals are identical, not just close.

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

#: Distances the engine knows. Scipy metric names go through ``scipy.spatial.distance.cdist``.
TONNETZ = "tonnetz"
SCIPY_METRICS = ("cosine", "euclidean", "sqeuclidean", "cityblock", "chebyshev",
                 "correlation", "braycurtis", "canberra")
DISTANCES = (TONNETZ,) + SCIPY_METRICS

#: Distances are computed in blocks of at most this many rows (new frames) against all
#: earlier frames: small blocks skip most of the unused upper triangle, and memory stays
#: bounded (256 x N values).
_BLOCK_ROWS = 256


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


def _distance_block(x: np.ndarray, aux: np.ndarray | None, distance: str, first: int,
                    last: int) -> np.ndarray:
    """Distances from frames first..last-1 (rows) to frames 0..last-1 (columns).

    Row r, column j is the distance ``vmo`` computes between the new frame first + r and
    the earlier frame j (only j < first + r is used).
    """
    if distance == TONNETZ:
        kernel = tonnetz_kernel()
        out = np.zeros((last - first, last))
        if kernel == "numpy":
            for r in range(last - first):
                a = first + r
                for j in range(a):
                    out[r, j] = np.linalg.norm(aux[j] - aux[a])
        else:
            _tonnetz_block(aux, first, last, kernel == "fma", out)
        return out
    from scipy.spatial.distance import cdist
    with np.errstate(invalid="ignore", divide="ignore"):
        return cdist(x[first:last], x[:last], metric=distance)


# ----------------------------------------------------------------------------------------
# the compiled oracle


@njit(cache=True)
def _grow(arr, new_cols):
    out = np.full((arr.shape[0], new_cols), -1, dtype=arr.dtype)
    out[:, :arr.shape[1]] = arr
    return out


#: How many nearest earlier frames are kept per frame to shortcut the scans of trn[0].
_NEAREST = 16
#: Transitions of a state kept inline (the rest in a linked list).
_SLOTS = 4


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
        c = 0
        for j in range(first + r):
            d = dblock[r, j]
            if not (d == d):
                continue
            if c == k_max and not (d < nd[r, c - 1]):
                continue
            q = c if c < k_max else k_max - 1
            while q > 0 and nd[r, q - 1] > d:
                if q < k_max:
                    nd[r, q] = nd[r, q - 1]
                    nj[r, q] = nj[r, q - 1]
                q -= 1
            nd[r, q] = d
            nj[r, q] = j
            if c < k_max:
                c += 1
        count[r] = c
    return nd, nj, count


@njit(cache=True)
def _add_transition(t, src, dst, trn_cnt, trn_slot, trn_head, trn_tail, e_to, e_next, e_count):
    """Append the transition ``src -> dst`` to threshold ``t``'s oracle (after the others).

    Returns the edge arrays, which are reallocated when they are full.
    """
    c = trn_cnt[t, src]
    if c < _SLOTS:
        trn_slot[t, src, c] = dst
    else:
        if e_count[t] >= e_to.shape[1]:
            e_to = _grow(e_to, 2 * e_to.shape[1])
            e_next = _grow(e_next, 2 * e_next.shape[1])
        e = e_count[t]
        e_count[t] += 1
        e_to[t, e] = dst
        e_next[t, e] = -1
        if trn_head[t, src] == -1:
            trn_head[t, src] = e
        else:
            e_next[t, trn_tail[t, src]] = e
        trn_tail[t, src] = e
    trn_cnt[t, src] = c + 1
    return e_to, e_next


@njit(cache=True)
def _advance(thresholds, dblock, near_d, near_j, near_n, first, sfx, lrs, sym, n_sym, first_states, is_first,
             trn_cnt, trn_slot, trn_head, trn_tail, e_to, e_next, e_count, rs_head, rs_tail, rs_next, max_lrs,
             avg_lrs):
    """Add frames first..first+len(dblock)-1 to every threshold's oracle (vmo's add_state).

    The first ``_SLOTS`` transitions of each state sit inline (``trn_slot``, one cache
    line), later ones in a per-threshold linked list (``trn_head``/``trn_tail`` per state,
    ``e_to``/``e_next`` per edge), so appending keeps vmo's insertion order; reverse suffix
    links are linked lists too (each state is in exactly one, hence ``rs_next`` per state).
    ``near_*`` (each new frame's nearest earlier frames, see :func:`_nearest`) shortcut the
    scans: a frame whose nearest earlier frame is not below the threshold is new, so vmo's
    scans would all come back empty and only their side effects (the new transitions along
    the suffix chain) are made; and the scan of trn[0] - the states that started a symbol -
    usually ends within the nearest frames. Both give exactly what the full scans give.
    """
    n_thr = thresholds.shape[0]
    for t in range(n_thr):
        thr = thresholds[t]
        for r in range(dblock.shape[0]):
            i = first + r + 1  # the new state
            row = dblock[r]
            novel = near_n[r] == 0 or not (near_d[r, 0] < thr)
            # transition i-1 -> i
            e_to, e_next = _add_transition(t, i - 1, i, trn_cnt, trn_slot, trn_head, trn_tail,
                                           e_to, e_next, e_count)

            k = sfx[t, i - 1]
            pi_1 = i - 1
            cand = 0
            while k != -1:
                best = -1
                best_d = 0.0
                if novel:
                    pass
                elif k == 0:
                    # trn[0] holds exactly the states that started a new symbol, in
                    # ascending order. The nearest earlier frames, in (distance, frame)
                    # order, usually decide: the first of them that started a symbol is
                    # the answer, and one at or above the threshold means none is below.
                    decided = False
                    for q in range(near_n[r]):
                        d = near_d[r, q]
                        if not (d < thr):
                            decided = True
                            break
                        s = near_j[r, q] + 1
                        if is_first[t, s]:
                            best = s
                            best_d = d
                            decided = True
                            break
                    # otherwise scan their contiguous copy (the longest list)
                    for m in range(0 if decided else n_sym[t]):
                        s = first_states[t, m]
                        d = row[s - 1]
                        if d < thr:
                            if best == -1 or d < best_d:
                                best = s
                                best_d = d
                else:
                    c = trn_cnt[t, k]
                    for q in range(min(c, _SLOTS)):
                        s = trn_slot[t, k, q]
                        d = row[s - 1]
                        if d < thr:
                            if best == -1 or d < best_d:
                                best = s
                                best_d = d
                    e = trn_head[t, k] if c > _SLOTS else -1
                    while e != -1:
                        s = e_to[t, e]
                        d = row[s - 1]
                        if d < thr:
                            if best == -1 or d < best_d:
                                best = s
                                best_d = d
                        e = e_next[t, e]
                if best == -1:
                    e_to, e_next = _add_transition(t, k, i, trn_cnt, trn_slot, trn_head,
                                                   trn_tail, e_to, e_next, e_count)
                    pi_1 = k
                    k = sfx[t, k]
                else:
                    cand = best
                    break

            if k == -1:
                sfx[t, i] = 0
                lrs[t, i] = 0
                sym[t, i] = n_sym[t]
                first_states[t, n_sym[t]] = i
                is_first[t, i] = True
                n_sym[t] += 1
            else:
                sfx[t, i] = cand
                # length of the common suffix of pi_1 and cand - 1 (vmo's _len_common_suffix)
                p1 = pi_1
                p2 = cand - 1
                if p2 == sfx[t, p1]:
                    common = lrs[t, p1]
                else:
                    while sfx[t, p2] != sfx[t, p1] and p2 != 0:
                        p2 = sfx[t, p2]
                    common = min(lrs[t, p1], lrs[t, p2])
                lrs[t, i] = common + 1
                sym[t, i] = sym[t, cand]

            # vmo's _find_better: a sibling with the same LRS preceded by the same symbol.
            # A brand-new symbol has no sibling with its symbol, so its (long) scan of
            # rsfx[0] is skipped.
            li = lrs[t, i]
            idx = i - li
            if idx < 0:  # Python's negative indexing into the symbol list (length i + 1)
                idx += i + 1
            symbol = sym[t, idx]
            j = -1 if k == -1 else rs_head[t, sfx[t, i]]
            while j != -1:
                if lrs[t, j] == li:
                    jdx = j - li
                    if jdx < 0:
                        jdx += i + 1
                    if sym[t, jdx] == symbol:
                        lrs[t, i] = li + 1
                        sfx[t, i] = j
                        break
                j = rs_next[t, j]

            s = sfx[t, i]
            rs_next[t, i] = -1
            if rs_head[t, s] == -1:
                rs_head[t, s] = i
            else:
                rs_next[t, rs_tail[t, s]] = i
            rs_tail[t, s] = i

            if lrs[t, i] > max_lrs[t, i - 1]:
                max_lrs[t, i] = lrs[t, i]
            else:
                max_lrs[t, i] = max_lrs[t, i - 1]
            avg_lrs[t, i] = (avg_lrs[t, i - 1] * ((i - 1.0) / float(i))
                             + lrs[t, i] * (1.0 / float(i)))
    return e_to, e_next


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
def _all_codewords(lrs, sfx, n):
    """Code-word arrays of every threshold's oracle: (T, n) each."""
    n_thr = lrs.shape[0]
    cw0 = np.zeros((n_thr, n))
    cw1 = np.zeros((n_thr, n))
    bl = np.zeros((n_thr, n))
    for t in range(n_thr):
        _codewords(lrs[t], sfx[t], n, cw0[t], cw1[t], bl[t])
    return cw0, cw1, bl


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
             keep: int | None = None) -> Sweep:
    """Build the oracle at every threshold and return the total IR curve and the best oracle.

    Equivalent to ``vmo.find_threshold(frames, r=..., dfunc=distance, dim=frames.shape[1])``
    with ``ir_type='cum'`` (vmo's default), but the thresholds are given as an array (e.g.
    ``np.arange(0, 1, 0.01)``) and the oracle at the best threshold comes back too. ``keep``
    returns the oracle of another threshold index instead of the best one.

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
    aux = tonnetz_points(x) if distance == TONNETZ else None

    # int32 state arrays (half the memory traffic of int64); only what vmo reads before
    # writing is initialised.
    idx = np.int32
    sfx = np.empty((n_thr, n + 1), dtype=idx)
    sfx[:, 0] = -1
    lrs = np.empty((n_thr, n + 1), dtype=idx)
    lrs[:, 0] = 0
    sym = np.empty((n_thr, n + 1), dtype=idx)
    sym[:, 0] = -1
    n_sym = np.zeros(n_thr, dtype=idx)
    first_states = np.empty((n_thr, n + 1), dtype=idx)
    is_first = np.zeros((n_thr, n + 1), dtype=np.bool_)
    trn_cnt = np.zeros((n_thr, n + 1), dtype=idx)
    trn_slot = np.empty((n_thr, n + 1, _SLOTS), dtype=idx)
    trn_head = np.full((n_thr, n + 1), -1, dtype=idx)
    trn_tail = np.empty((n_thr, n + 1), dtype=idx)
    cap = n + 16  # overflow transitions (beyond the slots); grown if ever needed
    e_to = np.empty((n_thr, cap), dtype=idx)
    e_next = np.empty((n_thr, cap), dtype=idx)
    e_count = np.zeros(n_thr, dtype=idx)
    rs_head = np.full((n_thr, n + 1), -1, dtype=idx)
    rs_tail = np.empty((n_thr, n + 1), dtype=idx)
    rs_next = np.empty((n_thr, n + 1), dtype=idx)
    max_lrs = np.empty((n_thr, n + 1), dtype=idx)
    max_lrs[:, 0] = 0
    avg_lrs = np.empty((n_thr, n + 1), dtype=np.float64)
    avg_lrs[:, 0] = 0.0

    rows = _BLOCK_ROWS
    for first in range(0, n, rows):
        last = min(n, first + rows)
        block = np.ascontiguousarray(_distance_block(x, aux, distance, first, last))
        near_d, near_j, near_n = _nearest(block, first, _NEAREST)
        e_to, e_next = _advance(thr, block, near_d, near_j, near_n, first, sfx, lrs, sym,
                                n_sym, first_states, is_first, trn_cnt, trn_slot,
                                trn_head, trn_tail,
                                e_to, e_next, e_count, rs_head, rs_tail, rs_next, max_lrs,
                                avg_lrs)

    # the IR itself with vmo's numpy calls on 1-d rows, so the totals are bit-identical
    totals = np.zeros(n_thr)
    all_cw0, all_cw1, all_bl = _all_codewords(lrs, sfx, n)
    for t in range(n_thr):
        ir, _, _ = _ir_arrays(all_cw0[t], all_cw1[t], all_bl[t], alpha)
        totals[t] = ir.sum()
    best = int(np.argmax(totals)) if keep is None else int(keep)

    code, compror = _encode(lrs[best], sfx[best], n)
    cw0, cw1, bl = np.zeros(n), np.zeros(n), np.zeros(n)
    _codewords(lrs[best], sfx[best], n, cw0, cw1, bl)
    ir, h0, h1 = _ir_arrays(cw0, cw1, bl, alpha)
    trn_indptr, trn_indices = _trn_csr(trn_cnt[best], trn_slot[best], trn_head[best],
                                       e_next[best], e_to[best])
    rs_indptr, rs_indices = _csr(rs_head[best], rs_next[best], rs_next[best], False)
    oracle = Oracle(
        threshold=float(thr[best]), distance=distance, sfx=sfx[best].astype(np.int64),
        lrs=lrs[best].astype(np.int64), symbols=sym[best].astype(np.int64), trn_indptr=trn_indptr,
        trn_indices=trn_indices, rsfx_indptr=rs_indptr, rsfx_indices=rs_indices,
        max_lrs=max_lrs[best].astype(np.int64), avg_lrs=avg_lrs[best].copy(), code=code,
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
