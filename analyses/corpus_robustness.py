"""Every score of music21's corpus through the whole pipeline: read, improvise, annotate.

Each score (MusicXML, MXL, Humdrum, ABC, RomanText...: ``music21.corpus.getPaths()``, an
ABC collection read as its first tune) is read by the safe reader, improvised upon by the
model at one rate, annotated (query over improvisation, chord labels, collisions), written
as MusicXML and checked against the MusicXML 4.0 schema. Each score ends in one of:

* ``annotated``: a valid annotated file was made;
* ``refused``: a one-line reason from the package (no pitched notes, a file music21 cannot
  read...), as a user would see it;
* ``invalid``: a file was made but the schema rejects it (a bug);
* ``crashed``: any other exception (a bug).

The run is parallel (``--jobs``) and resumable: each score's outcome is stored in
``OUT/pieces/`` as it finishes, and a rerun skips the scores already done. The table
(format x outcome) and the most common reasons go to ``OUT/table.md`` and the screen.

    python analyses/corpus_robustness.py --out runs/robustness
    python analyses/corpus_robustness.py --sample 300 --seed 1 --out runs/sample
    python analyses/corpus_robustness.py --sample 150 --seed 2 --compare-writers --out runs/cmp

Exits 1 when a score crashed or gave an invalid file.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import math
import random
import re
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

_STATE: dict = {}


def corpus_scores() -> list[Path]:
    """Every score file of music21's corpus, sorted."""
    from music21 import corpus

    return sorted(Path(p) for p in corpus.getPaths())


def _label(path: Path) -> str:
    from music21 import corpus

    return str(path.relative_to(Path(corpus.__file__).resolve().parent))


def _reason(message: str) -> str:
    """A reason without the file's path and numbers, so that equal reasons group."""
    text = re.sub(r"/\S+", "FILE", message)
    text = re.sub(r"(?<![\w.-])\d+(\.\d+)?\b", "N", text)
    return " ".join(text.split())[:160]


def _init(model: str | None, rate: float, compare: bool = False) -> None:
    import torch

    from qbdi_musicology.checkpoint import load_model

    torch.set_num_threads(1)
    logging.disable(logging.WARNING)
    _STATE.update(model=load_model(model), rate=rate, compare=compare)


def check_score(path_text: str) -> dict:
    """The outcome of one score (see the module text); never raises."""
    import tempfile

    from qbdi_musicology.annotate.harmony import annotate_pair
    from qbdi_musicology.errors import QbdiError
    from qbdi_musicology.generate import query
    from qbdi_musicology.musicxml import musicxml_bytes
    from qbdi_musicology.errors import OutputError
    from qbdi_musicology.scoreio import load_score
    from qbdi_musicology.validate import musicxml_errors

    path = Path(path_text)
    row = {"score": _label(path), "format": path.suffix.lower().lstrip("."),
           "outcome": "annotated", "reason": ""}
    started = time.perf_counter()
    try:
        score = load_score(path)
        improvisation = query(score, _STATE["model"], rate=_STATE["rate"], seed=0)
        annotated = annotate_pair(score, improvisation, rate=_STATE["rate"])
        try:
            data = musicxml_bytes(annotated, writer="direct")
            row["writer"] = "direct"
        except OutputError as exc:  # what the direct builder does not write: music21's
            data = musicxml_bytes(annotated, writer="music21")
            row["writer"] = "music21: " + _reason(str(exc).split(": ", 1)[-1])
        if _STATE.get("compare") and row["writer"] == "direct":
            _compare_writers(row, data, annotate_pair(score, improvisation,
                                                      rate=_STATE["rate"]))
        with tempfile.TemporaryDirectory(prefix="qbdi-robust-") as tmp:
            written = Path(tmp) / "annotated.musicxml"
            written.write_bytes(data)
            errors = musicxml_errors(written)
        if errors:
            row.update(outcome="invalid", reason=_reason(str(errors[0])))
    except QbdiError as exc:
        row.update(outcome="refused", reason=_reason(str(exc)))
    except Exception as exc:  # noqa: BLE001 - a crash is what this run looks for
        row.update(outcome="crashed", reason=f"{type(exc).__name__}: {_reason(str(exc))}")
    row["seconds"] = round(time.perf_counter() - started, 3)
    return row


def _compare_writers(row: dict, direct: bytes, annotated) -> None:
    """Record whether music21's exporter writes the same music as the direct builder."""
    from music21 import converter

    from qbdi_musicology.musicxml import musicxml_bytes
    from qbdi_musicology.scorecontent import content_differences

    other = musicxml_bytes(annotated, writer="music21")
    differences = content_differences(converter.parseData(direct, format="musicxml"),
                                      converter.parseData(other, format="musicxml"))
    row["same_music"] = not differences
    if differences:
        row["difference"] = differences[0][:300]


def _store(folder: Path, row: dict) -> None:
    from qbdi_musicology.fileio import write_text_atomic

    name = hashlib.sha1(row["score"].encode()).hexdigest()[:16] + ".json"
    write_text_atomic(folder / name, json.dumps(row, sort_keys=True))


def summarise(rows: list[dict]) -> str:
    """The format x outcome table and the most common reasons, as Markdown."""
    outcomes = ("annotated", "refused", "invalid", "crashed")
    by_format: dict[str, Counter] = {}
    for row in rows:
        by_format.setdefault(row["format"], Counter())[row["outcome"]] += 1
    lines = ["| format | scores | " + " | ".join(outcomes) + " |",
             "|---|---|" + "---|" * len(outcomes)]
    total = Counter()
    for fmt in sorted(by_format):
        counts = by_format[fmt]
        total.update(counts)
        lines.append(f"| {fmt} | {sum(counts.values())} | "
                     + " | ".join(str(counts[o]) for o in outcomes) + " |")
    n = sum(total.values())
    lines.append(f"| **all** | **{n}** | "
                 + " | ".join(f"**{total[o]}**" for o in outcomes) + " |")
    share = total["annotated"] / n if n else math.nan
    lines += ["", f"annotated: {share:.1%} of {n} scores", ""]
    writers = Counter(r.get("writer", "not recorded") for r in rows
                      if r["outcome"] == "annotated")
    direct = writers.pop("direct", 0)
    lines += [f"written by the direct MusicXML builder: {direct} of "
              f"{total['annotated']} annotated; by music21's exporter: "
              f"{sum(writers.values())}", ""]
    lines += [f"- {count} x {writer}" for writer, count in writers.most_common(8)]
    if writers:
        lines.append("")
    compared = [r for r in rows if "same_music" in r]
    if compared:
        same = sum(1 for r in compared if r["same_music"])
        lines += [f"same music as music21's exporter writes: {same} of {len(compared)} "
                  "compared", ""]
        lines += [f"- {r['score']}: {r['difference']}" for r in compared
                  if not r["same_music"]][:10]
        lines.append("")
    lines += ["reasons:", ""]
    reasons = Counter((r["outcome"], r["reason"]) for r in rows if r["outcome"] != "annotated")
    lines += [f"- {count} x {outcome}: {reason}" for (outcome, reason), count
              in reasons.most_common(15)]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder for the outcomes and the table")
    parser.add_argument("--sample", type=int, default=None,
                        help="a seeded random sample of this many scores (default: all)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the sample")
    parser.add_argument("--jobs", type=int, default=None,
                        help="processes (default: one per core; 1 = in this process)")
    parser.add_argument("--rate", type=float, default=math.inf,
                        help="channel rate in bits per bar (default: full rate)")
    parser.add_argument("--model", default=None, help="model (default: the shipped one)")
    parser.add_argument("--shuffle", action="store_true",
                        help="take the scores in a seeded random order (see --seed)")
    parser.add_argument("--compare-writers", action="store_true",
                        help="also write each annotated score with music21's exporter and "
                             "check both files hold the same music (slower)")
    args = parser.parse_args(argv)
    from qbdi_musicology.fileio import write_text_atomic
    from qbdi_musicology.workers import resolve_jobs

    scores = corpus_scores()
    if args.sample is not None:
        scores = sorted(random.Random(args.seed).sample(scores, min(args.sample,
                                                                    len(scores))))
    out = Path(args.out)
    folder = out / "pieces"
    folder.mkdir(parents=True, exist_ok=True)
    done = {json.loads(p.read_text())["score"]: json.loads(p.read_text())
            for p in folder.glob("*.json")}
    todo = [str(p) for p in scores if _label(p) not in done]
    if args.shuffle:
        # a run stopped early then leaves a fair sample of the corpus, not its first folders
        random.Random(args.seed).shuffle(todo)
    print(f"{len(scores)} scores, {len(scores) - len(todo)} done in an earlier run",
          flush=True)
    started = time.perf_counter()
    jobs = resolve_jobs(args.jobs)
    settings = (args.model, args.rate, args.compare_writers)
    with contextlib.ExitStack() as stack:
        if jobs == 1:  # everything in this process, one score after the other
            _init(*settings)
            outcomes = map(check_score, todo)
        else:
            pool = stack.enter_context(ProcessPoolExecutor(
                jobs, initializer=_init, initargs=settings))
            outcomes = pool.map(check_score, todo, chunksize=2)
        for i, row in enumerate(outcomes, 1):
            _store(folder, row)
            done[row["score"]] = row
            if row["outcome"] in ("crashed", "invalid"):
                print(f"{row['outcome']}: {row['score']}: {row['reason']}", flush=True)
            if i % 50 == 0:
                print(f"{i} of {len(todo)} ({time.perf_counter() - started:.0f} s)",
                      flush=True)
    wanted = {_label(p) for p in scores}
    rows = [row for label, row in sorted(done.items()) if label in wanted]
    table = summarise(rows)
    write_text_atomic(out / "table.md", table)
    print(table)
    bad = sum(1 for r in rows if r["outcome"] in ("crashed", "invalid"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
