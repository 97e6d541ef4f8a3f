"""Report writing with engraved scores and sound, side by side with the report without them.

Runs the demo's batch once (bwv66.6 at five rates), then writes its report twice from the
same results: ``render=False`` (tables, figures and HTML only: the report as it was before
scores and sound) and ``render=True`` (plus verovio's SVG pages, FluidSynth's MP3 files,
the classroom page and MuseScore's PNG where installed). Prints both wall and CPU times
and their ratio, best of ``--repeat``.

    python bench/bench_report.py
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path


def _timed(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def main(argv=None) -> int:
    from qbdi_musicology.batch import run_batch
    from qbdi_musicology.cli.cmd_demo import DEFAULT_QUERY, DEMO_RATES
    from qbdi_musicology.report.audio import audio_problem
    from qbdi_musicology.report.drift_report import write_report

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="qbdi-bench-report-") as tmp:
        out = Path(tmp) / "run"
        summary = run_batch([DEFAULT_QUERY], out, rates=DEMO_RATES, progress=False,
                            report=False)
        table, records = summary.table, summary.records
        times = {}
        for render in (False, True):
            best = (float("inf"), float("inf"))
            for _ in range(args.repeat):
                target = Path(tmp) / f"report-{render}"
                shutil.rmtree(target, ignore_errors=True)
                found = _timed(lambda: write_report(table, records, target,
                                                    queries_root=out / "queries",
                                                    rates=DEMO_RATES, render=render))
                best = min(best, found)
            times[render] = best
    plain, full = times[False], times[True]
    print(f"report without scores and sound: {plain[0]:.2f} s wall, {plain[1]:.2f} s CPU")
    print(f"report with scores and sound:    {full[0]:.2f} s wall, {full[1]:.2f} s CPU "
          f"({full[0] / plain[0]:.1f}x the wall time)")
    print(f"sound: {audio_problem() or 'FluidSynth and a soundfont found'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
