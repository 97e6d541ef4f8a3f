#!/usr/bin/env python3
"""Reading speed: the safe reader against music21's own parse, on the same files.

A seeded sample of music21's corpus, the same number of files of each format (MusicXML,
MXL, Humdrum, ABC, RomanText...), is read twice per file: by ``scoreio.load_score`` (the
package's safe reader: size limits, no network, no entity expansion, format checks) and by
``music21.converter.parse(path, forceSource=True)`` (music21 alone, its cache off; of an
ABC collection the same first tune, ``number=``). The
two readers alternate on each file, each timed as the best of ``--repeat`` runs in CPU
seconds of this process. Printed: per format and overall, the total time of each reader
and their ratio (target: the safe reader at most 1.20 x music21's time).

    python bench/bench_reading.py --per-format 12 --seed 3 --repeat 2

A file that either reader refuses is left out of the sums (and listed).
"""

from __future__ import annotations

import argparse
import logging
import random
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

TARGET_RATIO = 1.20


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def _same_tune(path: Path) -> dict:
    """music21's option to read the tune the safe reader reads of an ABC collection (the
    first); without it music21 would read every tune of the file."""
    if path.suffix.lower() != ".abc":
        return {}
    match = re.search(r"^X:\s*(\d+)", path.read_text(errors="replace"), re.MULTILINE)
    return {"number": int(match.group(1))} if match else {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-format", type=int, default=12, help="files per format")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=2, help="runs per file and reader")
    parser.add_argument("--max-kb", type=int, default=400,
                        help="leave out files larger than this (keeps the run short)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)

    from music21 import converter, corpus

    from qbdi_musicology.scoreio import load_score

    base = Path(corpus.__file__).resolve().parent
    by_format: dict[str, list[Path]] = defaultdict(list)
    for p in sorted(Path(p) for p in corpus.getPaths()):
        if p.stat().st_size <= args.max_kb * 1024:
            by_format[p.suffix.lower()].append(p)
    rng = random.Random(args.seed)
    sample = []
    for fmt in sorted(by_format):
        files = by_format[fmt]
        sample += rng.sample(files, min(args.per_format, len(files)))

    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    left_out = []
    for i, path in enumerate(sample, 1):
        label = str(path.relative_to(base))
        try:
            ours = _best(lambda: load_score(path), args.repeat)
            options = _same_tune(path)
            theirs = _best(lambda: converter.parse(path, forceSource=True, **options),
                           args.repeat)
        except Exception as exc:  # noqa: BLE001 - a file either reader refuses is listed
            left_out.append(f"{label}: {type(exc).__name__}: {str(exc)[:100]}")
            continue
        row = totals[path.suffix.lower()]
        row[0] += ours
        row[1] += theirs
        row[2] += 1
        print(f"[{i}/{len(sample)}] {label}: safe reader {ours:.3f} s, music21 {theirs:.3f} s",
              file=sys.stderr, flush=True)

    print(f"\n{'format':<8} {'files':>5} {'safe reader s':>14} {'music21 s':>10} {'ratio':>6}")
    all_ours = all_theirs = 0.0
    for fmt, (ours, theirs, n) in sorted(totals.items()):
        print(f"{fmt:<8} {n:>5} {ours:>14.3f} {theirs:>10.3f} {ours / theirs:>6.2f}")
        all_ours += ours
        all_theirs += theirs
    ratio = all_ours / all_theirs
    print(f"{'all':<8} {sum(r[2] for r in totals.values()):>5} {all_ours:>14.3f} "
          f"{all_theirs:>10.3f} {ratio:>6.2f}")
    print(f"target: at most {TARGET_RATIO:.2f} x music21's time: "
          f"{'OK' if ratio <= TARGET_RATIO else 'TOO SLOW'}")
    if left_out:
        print("\nleft out (refused by a reader):")
        for line in left_out:
            print("  " + line)
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())
