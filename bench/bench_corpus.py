"""Benchmark: the corpus parse cache and the score <-> bars bridge.

Prints
* the first (parse) and second (cache) load times of the Bach chorales and their ratio
  (the target is >= 100x);
* bars per second of ``score_to_bars`` and ``bars_to_score`` on chorales already parsed
  by music21 (so only the conversion is timed).

Usage: ``python bench/bench_corpus.py [--limit N] [--jobs J]`` (default: every chorale, 1 job).
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np


def bench_cache(limit: int | None, jobs: int) -> None:
    from qbdi_musicology.corpus import load_corpus

    with tempfile.TemporaryDirectory(prefix="qbdi-bench-cache-") as cache:
        t0 = time.perf_counter()
        first = load_corpus("bach-chorales", limit=limit, cache_dir=cache, progress=False,
                            workers=jobs)
        t1 = time.perf_counter()
        second = load_corpus("bach-chorales", limit=limit, cache_dir=cache, progress=False)
        t2 = time.perf_counter()
    assert np.array_equal(first.bars, second.bars) and first.fingerprint == second.fingerprint
    parse, cached = t1 - t0, t2 - t1
    print(f"corpus bach-chorales: {first.n_pieces} pieces (4/4), {first.n_bars} bars, "
          f"{len(first.skipped)} files skipped (other meters)")
    print(f"  first load (parse, {jobs} job(s)): {parse:8.2f} s")
    print(f"  second load (cache):       {cached:8.3f} s  ({second.cache_hits} cache hits)")
    print(f"  cache speed-up:            {parse / cached:8.0f} x   (target >= 100 x)")


def bench_bridge(n_pieces: int) -> None:
    from music21 import corpus

    from qbdi_musicology.corpus import get_spec
    from qbdi_musicology.pianoroll import bars_to_score, score_to_bars

    scores = []
    for path in get_spec("bach-chorales").files():
        score = corpus.parse(path)
        sigs = {t.ratioString for t in score.recurse().getElementsByClass("TimeSignature")}
        if sigs == {"4/4"}:
            scores.append(score)
        if len(scores) >= n_pieces:
            break
    for s in scores[:3]:  # warm-up (music21 caches flattened streams)
        score_to_bars(s)
    t0 = time.perf_counter()
    all_bars = [score_to_bars(s) for s in scores]
    t1 = time.perf_counter()
    n_bars = sum(len(b) for b in all_bars)
    written = [bars_to_score(b) for b in all_bars]
    t2 = time.perf_counter()
    back = [score_to_bars(s) for s in written]
    exact = sum(np.array_equal(a, b) for a, b in zip(all_bars, back))
    print(f"bridge on {len(scores)} chorales, {n_bars} bars:")
    print(f"  score_to_bars: {n_bars / (t1 - t0):8.0f} bars/s")
    print(f"  bars_to_score: {n_bars / (t2 - t1):8.0f} bars/s")
    print(f"  exact round trips: {exact}/{len(scores)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="pieces for the cache bench")
    parser.add_argument("--jobs", type=int, default=1, help="processes for the first parse")
    parser.add_argument("--bridge-pieces", type=int, default=60)
    args = parser.parse_args()
    bench_cache(args.limit, args.jobs)
    bench_bridge(args.bridge_pieces)


if __name__ == "__main__":
    main()
