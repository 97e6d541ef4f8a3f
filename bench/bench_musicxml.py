#!/usr/bin/env python3
"""Benchmark of MusicXML writing: one 64-bar improvisation, its annotated score, an overview.

The material is real: the shipped model improvises on a 64-bar query (the bars of several
Bach chorales played one after the other, as the model's piano roll reads them) and on
bwv66.6 at 8 rates. Timed, each as the best of ``--repeat`` runs:

* ``write improvisation``: :func:`musicxml_bytes` of the 64-bar improvisation as the
  caller owns it (``copy_score=False``) and with the defensive copy (``copy_score=True``);
* ``annotated pair``: :func:`annotate_pair` + :func:`musicxml_bytes` of query and improvisation;
* ``overview``: :func:`drift_overview` + :func:`musicxml_bytes` of bwv66.6 at 8 rates;
* ``batch files``: what the batch writes for one query: the annotated score of each of the
  8 rates of bwv66.6 and the overview (as ``batch._score_files`` does).

Analyses remembered from an earlier run are forgotten before each run, so every run pays
for its own analysis; chord symbols made once per process stay made (as in a batch worker).

Times are process CPU seconds (one thread), so other work on the machine disturbs them less.

The times are written as JSON with ``--save FILE``; ``--against FILE`` prints the ratio of
those earlier times to these (``2.0x`` = twice as fast now). The SHA-256 of each document is
printed too: equal digests before and after a change mean byte-identical files.

    git archive OLD qbdi_musicology | tar -x -C /tmp/old
    PYTHONPATH=/tmp/old python bench/bench_musicxml.py --save /tmp/before.json  # old code
    python bench/bench_musicxml.py --against /tmp/before.json  # on the new code
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import time

RATES = (0.0, 8.0, 32.0, 64.0, 128.0, 256.0, 512.0, math.inf)
CHORALES = ("bwv66.6", "bwv1.6", "bwv2.6", "bwv3.6", "bwv4.8", "bwv5.7", "bwv6.6",
            "bwv7.7", "bwv8.6", "bwv9.7", "bwv10.7")


def long_query(model, n_bars: int = 64):
    """A 64-bar piano score: the chorales' bars on the model's grid, one after the other."""
    import numpy as np
    from music21 import corpus

    from qbdi_musicology import generate
    grid = model.config.grid if hasattr(model, "config") else generate._model_parts(model)[0].config.grid
    bars = []
    for name in CHORALES:
        bars.append(generate.score_bars(corpus.parse(f"bach/{name}"), grid))
        if sum(len(b) for b in bars) >= n_bars:
            break
    bars = np.concatenate(bars)[:n_bars]
    return generate._improvisation_score(bars, grid, title="Chorales (64 bars)", tempo=80.0,
                                         fields={})


def best_of(repeat: int, fn):
    """Least CPU time of ``repeat`` runs (CPU, not wall: the machine is shared)."""
    times, out = [], None
    for _ in range(repeat):
        start = time.process_time()
        out = fn()
        times.append(time.process_time() - start)
    return min(times), out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--save", default=None, help="write the times and digests as JSON")
    parser.add_argument("--against", default=None, help="earlier JSON to compare with")
    parser.add_argument("--profile", default=None, choices=("write", "pair", "overview", "batch"),
                        help="print a cProfile of one stage instead")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("qbdi_musicology").setLevel(logging.ERROR)
    import torch
    torch.set_num_threads(1)
    from music21 import corpus

    from qbdi_musicology import checkpoint, generate
    from qbdi_musicology.annotate import harmony
    from qbdi_musicology.musicxml import musicxml_bytes

    model = checkpoint.load_model()
    query = long_query(model)
    improv = generate.query(query, model, seed=0, rate=64.0)
    n_bars = len(improv.parts[0].getElementsByClass("Measure"))
    chorale = corpus.parse("bach/bwv66.6")
    sweep = {rate: s for rate, s, _ in generate.sweep(chorale, model, list(RATES), seed=0)}

    def fresh(fn):
        def run():
            remembered = getattr(harmony, "_ANALYSES", None)
            if remembered is not None:
                remembered.clear()
            return fn()
        return run

    def batch_files():
        files = [musicxml_bytes(harmony.annotate_pair(chorale, s, rate=r))
                 for r, s in sweep.items()]
        files.append(musicxml_bytes(harmony.drift_overview(chorale, sweep)))
        return b"".join(files)

    stages = {
        "write improvisation (owned)": lambda: musicxml_bytes(
            generate.query(query, model, seed=0, rate=64.0), copy_score=False),
        "write improvisation (copy)": lambda: musicxml_bytes(improv),
        "annotated pair": lambda: musicxml_bytes(
            harmony.annotate_pair(query, improv, rate=64.0)),
        "overview bwv66.6 x 8 rates": lambda: musicxml_bytes(
            harmony.drift_overview(chorale, sweep)),
        "batch files bwv66.6 x 8 rates": batch_files,
    }
    stages = {name: fresh(fn) for name, fn in stages.items()}
    if args.profile:
        import cProfile
        import pstats
        key = {"write": "write improvisation (copy)", "pair": "annotated pair",
               "overview": "overview bwv66.6 x 8 rates",
               "batch": "batch files bwv66.6 x 8 rates"}[args.profile]
        prof = cProfile.Profile()
        prof.runcall(stages[key])
        pstats.Stats(prof).sort_stats("cumulative").print_stats(35)
        return 0
    # the owned write includes making the score; time that alone to subtract it
    make, _ = best_of(args.repeat, lambda: generate.query(query, model, seed=0, rate=64.0))
    results = {}
    for name, fn in stages.items():
        seconds, data = best_of(args.repeat, fn)
        if name.endswith("(owned)"):
            seconds = max(seconds - make, 0.0)
        results[name] = {"seconds": seconds,
                         "sha256": hashlib.sha256(data).hexdigest()[:16]}
    earlier = json.load(open(args.against)) if args.against else {}
    print(f"improvisation: {n_bars} bars at 64 bits/bar; overview: bwv66.6 at {len(RATES)} rates")
    for name, r in results.items():
        line = f"  {name:30s} {r['seconds']:7.3f} s  sha256 {r['sha256']}"
        if name in earlier:
            before = earlier[name]
            same = "same bytes" if before["sha256"] == r["sha256"] else "BYTES DIFFER"
            line += f"  was {before['seconds']:7.3f} s  ratio {before['seconds'] / r['seconds']:.2f}x  {same}"
        print(line)
    if args.save:
        with open(args.save, "w") as fh:
            json.dump(results, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
