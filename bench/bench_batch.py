#!/usr/bin/env python3
"""Benchmark of the harmonic-drift batch: 20 queries x 8 rates on 2 cores, end to end.

Runs ``qbdi_musicology.batch.run_batch`` (MusicXML per query and rate, tables, figures,
HTML) into a fresh temporary folder and prints the wall time, the per-stage split and the
ratio to the 3-minute budget; then reruns it to show what resuming a finished batch costs.

    python bench/bench_batch.py [--queries N] [--jobs J] [--rates 0,8,...,inf]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time

BUDGET_SECONDS = 180.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rates", default="0,8,32,64,128,256,512,inf")
    parser.add_argument("--corpus", default="corpus:bach-chorales")
    parser.add_argument("--model", default=None, help="model file (default: the shipped one)")
    parser.add_argument("--task", default=None, help="task function (module:function)")
    parser.add_argument("--keep", default=None, help="write into this folder and keep it")
    args = parser.parse_args()

    from qbdi_musicology import batch
    from qbdi_musicology.cli.common import parse_rates

    rates = parse_rates(args.rates)
    task = args.task or batch.DEFAULT_TASK
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        out = args.keep or tmp
        start = time.perf_counter()
        summary = batch.run_batch([args.corpus], out, rates=rates, limit=args.queries,
                                  model=args.model, jobs=args.jobs, task_fn=task,
                                  progress=False)
        wall = time.perf_counter() - start
        start = time.perf_counter()
        again = batch.run_batch([args.corpus], out, rates=rates, limit=args.queries,
                                model=args.model, jobs=args.jobs, task_fn=task,
                                progress=False)
        resume = time.perf_counter() - start
    done = len(summary.records) - len(summary.failed)
    print(f"batch: {done}/{len(summary.records)} queries x {len(rates)} rates "
          f"({', '.join('inf' if math.isinf(r) else f'{r:g}' for r in rates)}), "
          f"--jobs {args.jobs}, task {task}")
    for record in summary.failed:
        print(f"  failed: {record.spec}: {record.error}")
    print(f"end-to-end wall time: {wall:7.1f} s   budget {BUDGET_SECONDS:.0f} s   "
          f"ratio {wall / BUDGET_SECONDS:.2f} of budget")
    print(f"per query (wall / queries): {wall / max(1, len(summary.records)):.2f} s")
    print(f"rerun of the finished batch (all skipped, report rebuilt): {resume:.1f} s "
          f"({again.skipped} skipped, {again.ran} run)")
    print("stage split (batch stages are wall time; task stages are summed over queries and "
          "run in parallel over the jobs):")
    for stage, seconds in summary.stage_split().items():
        print(f"  {stage:<44} {seconds:8.2f} s")
    return 0 if wall <= BUDGET_SECONDS and done == len(summary.records) else 1


if __name__ == "__main__":
    sys.exit(main())
