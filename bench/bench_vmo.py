"""Benchmark: the fast VMO engine against the original ``vmo`` package, side by side.

Both run the same 100-threshold information-rate sweep (thresholds 0, 0.01, ... 0.99) on
the same frames, in the same process; the script checks that the IR curves are identical
and prints the times and the speed-up ratio.

    python bench/bench_vmo.py            # N = 3000 frames, cosine and Tonnetz (~6 min:
                                         # vmo's Tonnetz sweep alone takes ~5 min)
    python bench/bench_vmo.py --quick    # N = 300 frames, for routine use (~15 s)
    python bench/bench_vmo.py --distances cosine   # N = 3000, the cosine sweep only (~10 s)

Frames (``--data chorale``, the default): beat chroma of a few Bach chorales from the
music21 corpus, in all 12 transpositions, concatenated until there are N frames - music-like
material with real (but not wholesale) repetition. ``--data random`` uses uniform random
12-d frames instead (seeded).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CHORALES = ("bach/bwv66.6", "bach/bwv269", "bach/bwv347", "bach/bwv153.1", "bach/bwv86.6",
            "bach/bwv267", "bach/bwv281", "bach/bwv17.7")


def chorale_frames(n: int) -> np.ndarray:
    """N beat-chroma frames: the chorales above in 12 transpositions, then cycled."""
    from music21 import corpus

    from qbdi_musicology.analysis.dynamics import chroma_frames
    pieces = [chroma_frames(corpus.parse(name), unit="beat").values for name in CHORALES]
    blocks = [np.roll(p, k, axis=1) for k in range(12) for p in pieces]
    x = np.concatenate(blocks)
    while x.shape[0] < n:
        x = np.concatenate([x, x])
    return np.ascontiguousarray(x[:n])


def random_frames(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 12))


def time_fast(x: np.ndarray, thresholds: np.ndarray, distance: str, repeat: int):
    from qbdi_musicology.analysis.vmo_engine import ir_sweep
    ir_sweep(x[:64], thresholds, distance)  # compile / load the numba cache once
    best, best_cpu, sweep = np.inf, np.inf, None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        sweep = ir_sweep(x, thresholds, distance)
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return best, best_cpu, sweep


def time_vmo(x: np.ndarray, step: float, distance: str):
    import vmo
    kwargs = {"dfunc": distance, "dfunc_handle": None}
    if distance == "tonnetz":
        from vmo.VMO.utility.distances.tonnetz import distance as tonnetz
        kwargs = {"dfunc": "other", "dfunc_handle": tonnetz}
    t0, c0 = time.perf_counter(), time.process_time()
    best, pairs = vmo.find_threshold(x, r=(0.0, 1.0, step), dim=x.shape[1], **kwargs)
    return time.perf_counter() - t0, time.process_time() - c0, best, pairs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 300 frames")
    parser.add_argument("--n", type=int, default=None, help="frames (default 3000)")
    parser.add_argument("--distances", default="cosine,tonnetz")
    parser.add_argument("--data", choices=("chorale", "random"), default="chorale")
    parser.add_argument("--repeat", type=int, default=3, help="fast-engine repeats (min)")
    args = parser.parse_args(argv)
    n = args.n or (300 if args.quick else 3000)
    step = 0.01
    thresholds = np.arange(0.0, 1.0, step)
    x = chorale_frames(n) if args.data == "chorale" else random_frames(n)
    print(f"VMO information-rate sweep: {len(thresholds)} thresholds, N = {n} frames "
          f"({args.data} data)")
    print("times in seconds: wall clock, and CPU time of this process (steadier when other")
    print("programs share the machine); fast = best of --repeat runs")
    print(f"{'distance':<9} {'vmo wall':>9} {'fast wall':>9} {'ratio':>7} {'vmo cpu':>9} "
          f"{'fast cpu':>9} {'ratio':>7}  identical  best")
    ok = True
    for distance in [d.strip() for d in args.distances.split(",") if d.strip()]:
        fast_s, fast_cpu, sweep = time_fast(x, thresholds, distance, args.repeat)
        vmo_s, vmo_cpu, (best_ir, best_t), pairs = time_vmo(x, step, distance)
        same = np.array_equal(sweep.ir_totals, [p[0] for p in pairs])
        same = same and sweep.best_threshold == best_t and sweep.max_ir == best_ir
        ok = ok and same
        print(f"{distance:<9} {vmo_s:9.3f} {fast_s:9.4f} {vmo_s / fast_s:6.1f}x "
              f"{vmo_cpu:9.3f} {fast_cpu:9.4f} {vmo_cpu / fast_cpu:6.1f}x  {str(same):>9}"
              f"  t={best_t:.2f} IR={best_ir:.2f}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
