#!/usr/bin/env python3
"""How much of music21's own corpus the safe reader takes: a seeded random sample.

Each sampled piece goes through ``scoreio.load_score`` and then
``pianoroll.convert_score(score, meter="rebar")``; the table counts, per format, the pieces
that load, those that also convert, and the reasons of the rest (numbers in a reason are
replaced by ``N``, so that the same reason groups). The sample is drawn from
``music21.corpus.getPaths()`` (music21's own list of its pieces, an ABC file of many tunes
read as its first tune), so the same command measures any version of the package.
``--tunes`` draws instead from the pieces of the ``music21`` corpus, where every tune of
an ABC collection is a piece (needs this version of the package).

    python bench/bench_formats.py --n 300 --seed 20 [--tunes] [--csv per_piece.csv]

The table printed is the one in ``docs/corpora.md``.
"""

from __future__ import annotations

import argparse
import csv
import logging
import random
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path


def _reason(message: str, path: Path) -> str:
    text = message
    for prefix in (str(path) + ": ", str(path) + " ", path.name + ": "):
        if text.startswith(prefix):
            text = text[len(prefix):]
    text = text.replace(str(path), "FILE")
    text = re.sub(r"\(line \d+\)", "", text)
    text = re.sub(r"(?<![\w.-])\d+(\.\d+)?\b", "N", text)
    return " ".join(text.split())[:150]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=300, help="pieces in the sample")
    parser.add_argument("--seed", type=int, default=20, help="seed of the sample")
    parser.add_argument("--csv", default=None, help="write one row per piece here")
    parser.add_argument("--tunes", action="store_true",
                        help="sample the pieces of the 'music21' corpus (every ABC tune)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)

    from music21 import corpus

    from qbdi_musicology.errors import QbdiError
    from qbdi_musicology.pianoroll import convert_score
    from qbdi_musicology.scoreio import load_score

    base = Path(corpus.__file__).resolve().parent
    if args.tunes:
        from qbdi_musicology.corpus import _tune_numbers
        from qbdi_musicology.pieces import get_spec

        paths = [(p, t) for p in get_spec("music21").files() for t in _tune_numbers(p)]
    else:
        paths = [(p, None) for p in sorted(Path(p) for p in corpus.getPaths())]
    sample = random.Random(args.seed).sample(paths, min(args.n, len(paths)))
    rows = []
    started = time.perf_counter()
    for i, (path, tune) in enumerate(sample, 1):
        fmt = path.suffix.lower()
        label = str(path.relative_to(base)) + (f"#{tune}" if tune is not None else "")
        options = {"tune": tune} if tune is not None else {}
        t0 = time.perf_counter()
        stage, reason = "converted", ""
        try:
            score = load_score(path, **options)
        except QbdiError as exc:
            stage, reason = "refused", _reason(str(exc), path)
        except Exception as exc:  # noqa: BLE001 - a crash is a finding, counted as such
            stage, reason = "crashed", f"{type(exc).__name__}: {_reason(str(exc), path)}"
        else:
            try:
                convert_score(score, meter="rebar", source=path.name)
            except QbdiError as exc:
                stage, reason = "loaded", _reason(str(exc), path)
            except Exception as exc:  # noqa: BLE001
                stage, reason = "loaded", f"{type(exc).__name__}: {_reason(str(exc), path)}"
        seconds = time.perf_counter() - t0
        rows.append({"piece": label, "format": fmt, "stage": stage,
                     "reason": reason, "seconds": round(seconds, 3)})
        print(f"[{i}/{len(sample)}] {label}: {stage} {seconds:.1f}s "
              f"{reason}", file=sys.stderr, flush=True)
    total = time.perf_counter() - started
    if args.csv:
        with open(args.csv, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)

    by_fmt: dict[str, Counter] = defaultdict(Counter)
    for row in rows:
        by_fmt[row["format"]][row["stage"]] += 1
    unit = "pieces (every ABC tune a piece)" if args.tunes else "files"
    print(f"sample: {len(rows)} of {len(paths)} {unit} of music21's corpus (seed {args.seed}), "
          f"{total:.0f} s\n")
    print("| format | pieces | load | load and convert (meter=\"rebar\") | refused | crashed |")
    print("|---|---:|---:|---:|---:|---:|")
    order = sorted(by_fmt, key=lambda f: -sum(by_fmt[f].values()))
    totals = Counter()
    for fmt in order:
        c = by_fmt[fmt]
        n = sum(c.values())
        loaded = c["loaded"] + c["converted"]
        totals.update({"n": n, "loaded": loaded, "converted": c["converted"],
                       "refused": c["refused"], "crashed": c["crashed"]})
        print(f"| `{fmt}` | {n} | {loaded} | {c['converted']} | {c['refused']} | "
              f"{c['crashed']} |")
    print(f"| all | {totals['n']} | {totals['loaded']} | {totals['converted']} | "
          f"{totals['refused']} | {totals['crashed']} |")
    reasons = Counter((row["stage"], row["format"], row["reason"]) for row in rows
                      if row["stage"] != "converted")
    if reasons:
        print("\n| pieces | format | stage | reason |")
        print("|---:|---|---|---|")
        for (stage, fmt, reason), count in reasons.most_common():
            shown = reason.replace("|", "\\|")
            print(f"| {count} | `{fmt}` | {'not loaded' if stage != 'loaded' else 'loaded, not converted'}"
                  f" | {shown} |")
    slow = sorted(rows, key=lambda r: -r["seconds"])[:5]
    print("\nslowest: " + ", ".join(f"{r['piece']} {r['seconds']:.1f} s" for r in slow))
    return 0


if __name__ == "__main__":
    sys.exit(main())
