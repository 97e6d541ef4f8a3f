#!/usr/bin/env python3
"""Benchmark of the harmonic-drift batch: 20 queries x 8 rates on every core, end to end.

Runs ``qbdi_musicology.batch.run_batch`` (MusicXML per query and rate, tables, figures,
HTML) into a fresh temporary folder and prints the wall time, the throughput, the
per-stage split, the ratio to the 3-minute budget and the peak memory (resident set) of
this process and of the largest worker; then reruns it to show what resuming a finished
batch costs.

    python bench/bench_batch.py [--queries N] [--jobs J] [--rates 0,8,...,inf]
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import tempfile
import time

BUDGET_SECONDS = 180.0


class PeakMemory:
    """Peak resident memory of this process and of its child processes, sampled.

    With psutil, every child is sampled five times a second (worker processes apart from
    programs such as MuseScore); without it, only what ``getrusage`` knows: this
    process's peak, and the largest child that has ended.
    """

    def __init__(self) -> None:
        import threading

        self.peaks: dict[str, int] = {}
        self._stop = threading.Event()
        try:
            import psutil
        except ImportError:
            self._thread = None
            return
        self._me = psutil.Process()
        self._psutil = psutil
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            processes = [("this process", self._me)]
            try:
                processes += [(("worker" if "python" in c.name().lower() else c.name()), c)
                              for c in self._me.children(recursive=True)]
            except self._psutil.Error:
                pass
            for kind, process in processes:
                try:
                    rss = process.memory_info().rss
                except self._psutil.Error:
                    continue
                self.peaks[kind] = max(self.peaks.get(kind, 0), rss)
            self._stop.wait(0.2)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def text(self) -> str:
        import resource

        if self._thread is None:
            own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
            return (f"this process {own / 2**20:.0f} MiB, largest ended child "
                    f"{child / 2**20:.0f} MiB (install psutil to see the workers)")
        return ", ".join(f"{kind} {rss / 2**20:.0f} MiB"
                         for kind, rss in sorted(self.peaks.items()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=None,
                        help="worker processes (default: one per core)")
    parser.add_argument("--rates", default="0,8,32,64,128,256,512,inf")
    parser.add_argument("--corpus", default="corpus:bach-chorales")
    parser.add_argument("--model", default=None, help="model file (default: the shipped one)")
    parser.add_argument("--overviews", default="all", choices=("all", "first", "none"))
    parser.add_argument("--task", default=None, help="task function (module:function)")
    parser.add_argument("--keep", default=None, help="write into this folder and keep it")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("qbdi_musicology.analysis").setLevel(logging.ERROR)

    from qbdi_musicology import batch
    from qbdi_musicology.cli.common import parse_rates

    args.jobs = batch.resolve_jobs(args.jobs)
    rates = parse_rates(args.rates)
    memory = PeakMemory()
    task = args.task or batch.DEFAULT_TASK
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        out = args.keep or tmp
        start = time.perf_counter()
        summary = batch.run_batch([args.corpus], out, rates=rates, limit=args.queries,
                                  model=args.model, jobs=args.jobs, task_fn=task,
                                  progress=False, overviews=args.overviews)
        wall = time.perf_counter() - start
        memory.stop()
        start = time.perf_counter()
        again = batch.run_batch([args.corpus], out, rates=rates, limit=args.queries,
                                model=args.model, jobs=args.jobs, task_fn=task,
                                progress=False, overviews=args.overviews)
        resume = time.perf_counter() - start
    done = len(summary.records) - len(summary.failed)
    print(f"batch: {done}/{len(summary.records)} queries x {len(rates)} rates "
          f"({', '.join('inf' if math.isinf(r) else f'{r:g}' for r in rates)}), "
          f"--jobs {args.jobs}, overviews {args.overviews}, task {task}")
    for record in summary.failed:
        print(f"  failed: {record.spec}: {record.error}")
    print(f"end-to-end wall time: {wall:7.1f} s   budget {BUDGET_SECONDS:.0f} s   "
          f"ratio {wall / BUDGET_SECONDS:.2f} of budget")
    print(f"per query (wall / queries): {wall / max(1, len(summary.records)):.2f} s")
    print(f"throughput: {summary.throughput_text()}")
    print(f"peak resident memory: {memory.text()}")
    print(f"rerun of the finished batch (all skipped, report rebuilt): {resume:.1f} s "
          f"({again.skipped} skipped, {again.ran} run)")
    wall_split = summary.stage_split()
    cpu_split = summary.stage_split(cpu=True)
    print("stage split (batch stages run in this process; task stages are summed over the "
          "queries and run spread over the jobs):")
    print(f"  {'stage':<44} {'wall s':>8} {'CPU s':>8}")
    for stage, seconds in wall_split.items():
        print(f"  {stage:<44} {seconds:8.2f} {cpu_split.get(stage, float('nan')):8.2f}")
    # On a shared machine the wall time says more about the neighbours than about the
    # batch. The CPU seconds give what the batch costs on idle cores: the task work spread
    # over the jobs, plus the batch stages (MuseScore runs as a child process: its wall
    # time is counted as it is).
    task_cpu = cpu_split.get("task total (sum over queries)", 0.0)
    own_cpu = sum(v for k, v in cpu_split.items() if k.startswith("batch ")
                  and k != "batch run queries" and k != "batch render overview")
    render = wall_split.get("batch render overview", 0.0)
    idle = task_cpu / max(1, args.jobs) + own_cpu + render
    print(f"CPU of the tasks: {task_cpu:.1f} s ({task_cpu / max(1, done):.1f} s per query); "
          f"estimated wall time on {args.jobs} idle cores: {idle:.0f} s "
          f"(ratio {idle / BUDGET_SECONDS:.2f} of budget)")
    try:
        load = os.getloadavg()[0]
        print(f"machine load average during the run: {load:.1f} on {os.cpu_count()} cores")
    except OSError:
        pass
    # A measurement, not a test: it fails only when no query could be analysed.
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main())
