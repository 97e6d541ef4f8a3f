"""Benchmark of a rate sweep: a 64-bar query at 8 rates, end to end.

Stages timed: encode (once), channel (all rates), decode (all rates) and MusicXML writing
(one file per rate), through ``generate.sweep`` and ``musicxml.write_musicxml``; then the
per-rate channel statistics. Target: under 2 s on 2 cores. The same files are written a
second time with music21's exporter (``writer="music21"``, the writer before the direct
builder) and the ratio of the two is printed (target: at least 4x). Also times the bit allocation
alone at the sizes the channel must handle (d = 1000 dimensions, up to 4096 bits) against
the bit-by-bit loop of the paper's description.

Run: ``.venv/bin/python bench/bench_sweep.py [--model M] [--threads 2]``
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

class Clock:
    """Context manager adding (wall, CPU) seconds of its block to ``table[name]``."""

    def __init__(self, table: dict, name: str) -> None:
        self.table, self.name = table, name

    def __enter__(self) -> "Clock":
        self.start = (time.perf_counter(), time.process_time())
        return self

    def __exit__(self, *exc) -> None:
        self.table[self.name] = (time.perf_counter() - self.start[0],
                                 time.process_time() - self.start[1])


RATES = [0.0, 8.0, 32.0, 64.0, 128.0, 256.0, 512.0, math.inf]
TARGET_SECONDS = 2.0
#: The direct MusicXML builder against music21's exporter, writing the same files.
WRITER_RATIO_TARGET = 4.0


def query_of_64_bars():
    """A 64-bar 4/4 query: consecutive Bach chorales (music21 corpus), cut at 64 bars."""
    from music21 import corpus

    from qbdi_musicology.grid import DEFAULT_GRID
    from qbdi_musicology.pianoroll import bars_to_score, score_to_bars

    bars = []
    for name in ["bwv66.6", "bwv269", "bwv347", "bwv153.1", "bwv86.6", "bwv267", "bwv281",
                 "bwv17.7", "bwv40.2", "bwv255", "bwv350", "bwv436"]:
        try:
            bars.append(score_to_bars(corpus.parse(name), DEFAULT_GRID))
        except Exception as exc:  # a chorale not in 4/4 is simply skipped
            print(f"  (skipped {name}: {type(exc).__name__})")
        if sum(len(b) for b in bars) >= 64:
            break
    stacked = np.concatenate(bars)[:64]
    if len(stacked) < 64:
        sys.exit(f"only {len(stacked)} bars of 4/4 chorales found")
    return bars_to_score(stacked, DEFAULT_GRID, title="Bach chorales, 64 bars")


def greedy_loop(variances, n_bits):
    """The allocation rule written as a loop over bits (the reference)."""
    current = np.array(variances, dtype=float)
    bits = np.zeros(current.size)
    for _ in range(n_bits):
        i = int(np.argmax(current))
        bits[i] += 1
        current[i] /= 4
    return bits


def bench_allocation() -> None:
    from qbdi_musicology.channel import allocate_bits

    rng = np.random.default_rng(0)
    var = rng.lognormal(-3.0, 2.0, size=1000)
    print("bit allocation, d = 1000 (mean of repeated calls):")
    print(f"  {'bits':>6}  {'vectorised':>12}  {'bit loop':>12}  {'ratio':>7}")
    for rate in [8, 256, 1024, 4096]:
        reps = 50
        start = time.perf_counter()
        for _ in range(reps):
            fast = allocate_bits(var, rate)
        t_fast = (time.perf_counter() - start) / reps
        start = time.perf_counter()
        slow = greedy_loop(var, rate)
        t_slow = time.perf_counter() - start
        assert np.array_equal(fast, slow)
        print(f"  {rate:>6}  {t_fast * 1e3:>10.3f}ms  {t_slow * 1e3:>10.1f}ms  "
              f"{t_slow / t_fast:>6.0f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model file or shipped name")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    args = parser.parse_args()

    import torch

    from qbdi_musicology import checkpoint, generate
    from qbdi_musicology.channel import transmit_many
    from qbdi_musicology.musicxml import write_musicxml

    torch.set_num_threads(args.threads)
    bench_allocation()

    score = query_of_64_bars()
    loaded = checkpoint.load_model(args.model)
    print(f"\nmodel {loaded.model_id}: latent {loaded.config.latent}; "
          f"query 64 bars; {len(RATES)} rates; torch threads {args.threads}")

    generate.sweep(score, loaded, [0.0], seed=0)  # warm-up (imports, first torch call)

    # The parts of the sweep, timed on their own (wall seconds, CPU seconds of this process).
    parts = {}
    with Clock(parts, "encode (64 bars)"):
        enc = generate.encode(score, loaded)
    with Clock(parts, f"channel ({len(RATES)} rates)"):
        channels = transmit_many(enc.mu, enc.logvar, RATES, seed=0)
    with Clock(parts, f"decode ({len(RATES)} x 64 bars)"):
        for channel in channels:
            generate.decode_bars(loaded.model, channel.z_hat)

    stages = {}
    writers = {}
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        with Clock(stages, "sweep: encode + channel + decode + scores"):
            results = generate.sweep(score, loaded, RATES, seed=0)
        # the direct writer first: music21's exporter notates the score it writes
        for writer in ("direct", "music21"):
            with Clock(writers, writer):
                for rate, improvisation, _ in results:
                    tag = "inf" if math.isinf(rate) else f"{rate:g}"
                    write_musicxml(improvisation, Path(tmp) / f"{writer}_R{tag}.musicxml",
                                   copy_score=False, writer=writer)
    stages[f"MusicXML write ({len(RATES)} files)"] = writers["direct"]
    total = tuple(sum(v[i] for v in stages.values()) for i in (0, 1))
    stages["total"] = total

    print(f"\n{'stage':<44} {'wall s':>7} {'CPU s':>7}")
    for name, (wall, cpu) in {**parts, **stages}.items():
        print(f"{name:<44} {wall:>7.2f} {cpu:>7.2f}")
    print(f"target {TARGET_SECONDS:.0f} s: total wall is {total[0] / TARGET_SECONDS:.2f} of it "
          f"({'OK' if total[0] < TARGET_SECONDS else 'TOO SLOW'}); load average now "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    direct, music21 = writers["direct"], writers["music21"]
    print(f"\nMusicXML writing, {len(RATES)} files of 64 bars, same run (wall / CPU s):")
    print(f"  direct builder (default) {direct[0]:7.2f} {direct[1]:7.2f}")
    print(f"  music21's exporter       {music21[0]:7.2f} {music21[1]:7.2f}")
    print(f"  ratio {music21[1] / direct[1]:.1f}x in CPU time, {music21[0] / direct[0]:.1f}x in "
          f"wall time (target >= {WRITER_RATIO_TARGET:.0f}x)")

    print("\nper-rate channel statistics:")
    print(f"  {'rate':>6}  {'dims with bits':>14}  {'mean D':>10}  {'relative D':>10}  "
          f"{'empirical':>10}  {'notes':>6}")
    for rate, improvisation, channel in results:
        rec = channel.to_record()
        notes = len(improvisation.flatten().notes)
        print(f"  {rate:>6g}  {rec['dims_with_bits']:>14}  {rec['mean_distortion']:>10.4g}  "
              f"{rec['relative_distortion']:>10.3f}  {rec['empirical_distortion']:>10.4g}  "
              f"{notes:>6}")


if __name__ == "__main__":
    main()
