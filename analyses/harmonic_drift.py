#!/usr/bin/env python3
"""Harmonic drift over many pieces: a model x queries x rates -> scores, tables, a report.

For every query piece and every rate, the query is improvised through the model with the
channel limited to that many bits per bar; each result is written as annotated MusicXML,
and one report folder collects the drift table, the figures, an HTML page and a Markdown
summary with a verdict per piece: does the harmony drift toward the tonic as the rate falls?

Example (the first five Bach chorales at four rates, on every core of this computer)::

    python analyses/harmonic_drift.py --queries corpus:bach-chorales --limit 5 \\
        --rates 0,32,256,inf --out reports/demo

Interrupt it at any time (Ctrl-C) and run the same command again: finished pieces are kept
and skipped. All the work is done by :mod:`qbdi_musicology.batch`; this script only reads
the command line.
"""

from __future__ import annotations

import argparse
import sys

EXAMPLE = ("python analyses/harmonic_drift.py --queries corpus:bach-chorales --limit 5 "
           "--rates 0,32,256,inf --out reports/demo")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harmonic_drift.py",
        description="Sweep query pieces over channel rates and report the harmonic drift.",
        epilog=f"example:\n  {EXAMPLE}",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", nargs="+", required=True, metavar="QUERY",
                        help="score files, folders of scores, corpus:NAME (every piece) or "
                             "corpus:NAME/piece, e.g. corpus:bach-chorales/bwv66.6")
    parser.add_argument("--limit", type=int, default=None,
                        help="use only the first N pieces of the query list")
    parser.add_argument("--rates", default="0,8,32,64,128,256,512,inf",
                        help="channel rates in bits per bar, 'inf' = full rate "
                             "(default: %(default)s)")
    parser.add_argument("--out", required=True, help="output folder (created if needed)")
    parser.add_argument("--model", default=None,
                        help="model file or shipped model name (default: the shipped model)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="worker processes on this computer (default: one per core; "
                             "1 runs everything in this process)")
    parser.add_argument("--dask", default=None, metavar="ADDRESS",
                        help="run the pieces on a Dask cluster, e.g. tcp://10.0.0.5:8786 "
                             "(the workers need qbdi-musicology and the query files; see "
                             "docs/cluster.md)")
    parser.add_argument("--overviews", choices=("all", "first", "none"), default="all",
                        help="write the drift overview score for all pieces (default), "
                             "only the first, or none; it is the slowest file to write")
    parser.add_argument("--no-overview-image", dest="render", action="store_false",
                        help="do not ask MuseScore for a picture of the drift overview")
    parser.add_argument("--retry-failed", action="store_true",
                        help="try again the pieces that failed in an earlier run")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--task", default=None, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from qbdi_musicology import batch
    from qbdi_musicology.cli.common import parse_rates
    from qbdi_musicology.errors import QbdiError

    try:
        summary = batch.run_batch(
            args.queries, args.out, rates=parse_rates(args.rates), limit=args.limit,
            model=args.model, seed=args.seed, jobs=args.jobs, dask=args.dask,
            task_fn=args.task or batch.DEFAULT_TASK, progress=not args.quiet,
            render=args.render, retry_failed=args.retry_failed, overviews=args.overviews)
    except QbdiError as exc:
        print(f"harmonic_drift: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("harmonic_drift: interrupted; finished pieces are kept, run the same command "
              "again to resume", file=sys.stderr)
        return 130
    done = len(summary.records) - len(summary.failed)
    print(f"{done} of {len(summary.records)} pieces analysed "
          f"({summary.ran} run now, {summary.skipped} kept from an earlier run)")
    print(f"throughput: {summary.throughput_text()}")
    for record in summary.failed:
        print(f"  failed: {record.spec}: {record.error}")
    report = summary.report_files
    if report:
        print(f"report: {report['html']}")
        print(f"summary: {report['markdown']}")
        print(f"table: {report['csv']} (and .parquet)")
    print(f"  {'time per stage':<44} {'wall s':>8} {'CPU s':>8}")
    cpu = summary.stage_split(cpu=True)
    for stage, seconds in summary.stage_split().items():
        print(f"  {stage:<44} {seconds:8.2f} {cpu.get(stage, float('nan')):8.2f}")
    return 0 if done else 1


if __name__ == "__main__":
    from qbdi_musicology.cli.common import configure_script_logging

    configure_script_logging()
    sys.exit(main())
