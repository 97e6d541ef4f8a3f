"""Chord labelling of every Bach chorale in music21: crashes, unlabeled segments, speed.

Prints, for bar and beat level: chorales labelled, crashes, unlabeled segments (no label or
"Cannot Be Identified"), share of fallback labels, agreement of the root with music21's own
``Chord.root()`` (on the notes as spelled in the score) where the segment is exactly a
non-symmetric triad or seventh chord, and the time per chorale (parsing excluded)
against the goal of 0.2 s at beat level; also music21's ``chordify`` time for scale.

    python bench/bench_chords.py            # all chorales (~1-2 min, parsing dominates)
    python bench/bench_chords.py --limit 40
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import traceback

from music21 import chord, corpus
from music21.corpus.chorales import Iterator

from qbdi_musicology.analysis.chords import NO_CHORD, label_chords, score_segments


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="only the first N chorales")
    args = parser.parse_args(argv)
    names = list(Iterator(returnType="filename"))
    if args.limit:
        names = names[: args.limit]
    stats = {per: {"times": [], "segments": 0, "unlabeled": 0, "fallback": 0, "crashes": 0,
                   "exact": 0, "root_agree": 0} for per in ("bar", "beat")}
    chordify_times = []
    parsed = 0
    for i, name in enumerate(names):
        try:
            score = corpus.parse(name)
        except Exception as exc:  # a corpus file music21 itself cannot read is not ours
            print(f"  skip {name}: music21 cannot parse it ({exc})", file=sys.stderr)
            continue
        parsed += 1
        if i < 20:
            t0 = time.perf_counter()
            score.chordify()
            chordify_times.append(time.perf_counter() - t0)
        for per, st in stats.items():
            t0 = time.perf_counter()
            try:
                table = label_chords(score, per=per)
            except Exception:
                st["crashes"] += 1
                traceback.print_exc()
                continue
            st["times"].append(time.perf_counter() - t0)
            st["segments"] += len(table)
            bad = table["chord_symbol"].isna() | (table["chord_symbol"] == "") | \
                table["chord_symbol"].str.contains("Cannot", regex=False)
            st["unlabeled"] += int(bad.sum())
            st["fallback"] += int(table["is_fallback"].sum())
            exact = table[(~table["is_fallback"]) & (table["chord_symbol"] != NO_CHORD)
                          & ~table["quality"].isin(["diminished-seventh", "augmented"])]
            exact = exact.reset_index()
            st["exact"] += len(exact)
            # the oracle gets the notes as spelled in the score (E-flat is not D-sharp)
            spellings = score_segments(score, per).spellings
            for j, root_pc in zip(exact["index"], exact["root_pc"]):
                spelled = [n.replace("b", "-") if len(n) > 1 else n
                         for n in spellings[j].values()]
                st["root_agree"] += int(chord.Chord(spelled).root().pitchClass == root_pc)
    print(f"Bach chorales in music21: {len(names)} listed, {parsed} parsed")
    for per, st in stats.items():
        times = st["times"]
        if not times:
            continue
        mean = statistics.mean(times)
        print(f"per {per}: {len(times)} chorales, {st['crashes']} crashes, "
              f"{st['segments']} segments, {st['unlabeled']} unlabeled, "
              f"fallback share {st['fallback'] / max(st['segments'], 1):.3f}")
        print(f"  root = music21 Chord.root() on {st['exact']} exact segments: "
              f"{st['root_agree'] / max(st['exact'], 1):.4f}")
        print(f"  time per chorale: mean {mean * 1000:.1f} ms, median "
              f"{statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms "
              f"(goal 200 ms: ratio {mean / 0.2:.3f})")
    if chordify_times:
        print(f"music21 chordify alone (first {len(chordify_times)}): mean "
              f"{statistics.mean(chordify_times) * 1000:.1f} ms per chorale; beat labelling is "
              f"{statistics.mean(chordify_times) / statistics.mean(stats['beat']['times']):.1f}x "
              "faster")
    failed = sum(st["crashes"] + st["unlabeled"] for st in stats.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
