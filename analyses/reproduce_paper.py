#!/usr/bin/env python3
"""Reproduce Dubnov's *Query-based Deep Improvisation* (2019) and compare with its claims.

Three steps, all done by the package (this script only wires them together):

1. train the paper's recipe (``--preset paper``: 2496 -> 500 ReLU -> latent 500, BCE + KL,
   Adam 1e-3, batches of 100, no transposition) on Pop_Music_Midi, or reuse the model file
   already in the output folder;
2. query it, and the shipped model ``pop-harmony`` for comparison, with *Visions fugitives*
   1-8 and four 4/4 Bach chorales, at the paper's rates (512, 256, 32 bits/bar) and more;
3. measure, per model and rate, what the paper claims: harmony kept at full rate (triad
   agreement, :mod:`qbdi_musicology.evaluate`), collisions near 256 bits/bar
   (:mod:`qbdi_musicology.analysis.collisions` through the drift batch), drift toward the
   tonic at low rates (tonic share), and the information rate of query and improvisations
   (:mod:`qbdi_musicology.analysis.dynamics`).

Example (about 25 minutes on 2 busy cores: 8-15 training, the rest querying)::

    python analyses/reproduce_paper.py --out reports/paper

The output folder holds ``paper-model.qbdi``, ``per_query.csv`` (one row per model, query
and rate), ``summary.csv`` and ``summary.md`` (means over queries per model and rate, next
to the paper's claims), and one drift batch per model under ``batch-<model>/`` (annotated
MusicXML per query and rate, the drift report). Running it again reuses the trained model
and the finished batch work.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import time
from pathlib import Path

EXAMPLE = "python analyses/reproduce_paper.py --out reports/paper"

#: The paper's rates (512, 256, 32 bits/bar) and the sweep around them.
DEFAULT_RATES = "inf,512,256,128,64,32,8,0"
#: The four 4/4 chorales used next to Visions fugitives (the first four of the evaluation's).
DEFAULT_CHORALES = "bwv10.7,bwv101.7,bwv102.7,bwv103.6"
SHIPPED = "pop-harmony"
PAPER = "paper"

#: The columns of the summary, in the order the paper's claims come.
SUMMARY_MEASURES = (
    ("triad_agreement", "triad agreement"),
    ("texture_difference", "texture difference"),
    ("tonic_share", "tonic share"),
    ("query_tonic_share", "query's tonic share"),
    ("collisions_per_bar", "collisions per bar"),
    ("ir_max", "IR (improvisation)"),
    ("query_ir_max", "IR (query)"),
    ("dims_with_bits", "latent dims sent"),
)

CLAIMS = (
    ("Harmony is kept at full rate (the improvisation follows the query's chords).",
     "triad agreement at rate inf"),
    ("Collisions with the query's harmony appear near 256 bits/bar (fine at 512).",
     "collisions per bar at 512, 256 and 32"),
    ("At low rates the harmony drifts toward the tonic.",
     "tonic share at 32, 8 and 0 against the query's own"),
    ("The improvisations keep an information dynamics comparable to the query's (IR curves).",
     "IR at the best threshold, improvisation vs query"),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reproduce_paper.py",
        description="Train the 2019 paper's bar VAE and measure its claims next to the "
                    "shipped model.",
        epilog=f"example:\n  {EXAMPLE}",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="reports/paper", help="output folder")
    parser.add_argument("--steps", type=int, default=8000,
                        help="training steps of the paper's model (default 8000, about 8 "
                             "minutes on a shared 2-core machine; the paper's preset has "
                             "20000; training stops early when the validation loss stops "
                             "improving)")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads for training and analysis (default 1: on busy "
                             "shared cores one thread trains faster than two)")
    parser.add_argument("--rates", default=DEFAULT_RATES,
                        help=f"bits per bar, comma-separated (default {DEFAULT_RATES})")
    parser.add_argument("--visions", default="1-8",
                        help="Visions fugitives numbers, e.g. 1-8 or 1,3 (default 1-8; "
                             "'' for none)")
    parser.add_argument("--chorales", default=DEFAULT_CHORALES,
                        help="4/4 Bach chorales from music21's corpus, comma-separated")
    parser.add_argument("--models", default=f"{PAPER},{SHIPPED}",
                        help="which models to measure: paper, pop-harmony or both (default)")
    parser.add_argument("--seed", type=int, default=0, help="channel noise seed")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def parse_rates(text: str) -> list[float]:
    from qbdi_musicology.errors import ParameterError

    rates = []
    for item in text.split(","):
        item = item.strip().lower()
        if not item:
            continue
        try:
            rate = math.inf if item == "inf" else float(item)
        except ValueError:
            raise ParameterError(f"--rates: {item!r} is not a number or 'inf'") from None
        if rate < 0:
            raise ParameterError(f"--rates: {item} is negative; rates are bits per bar >= 0")
        rates.append(rate)
    if not rates:
        raise ParameterError("--rates: give at least one rate, e.g. 0,32,256,inf")
    return sorted(set(rates), reverse=True)


def parse_numbers(text: str) -> list[int]:
    """``"1-3,5"`` -> ``[1, 2, 3, 5]``."""
    numbers: list[int] = []
    for item in text.split(","):
        item = item.strip()
        if "-" in item:
            lo, hi = item.split("-", 1)
            numbers.extend(range(int(lo), int(hi) + 1))
        elif item:
            numbers.append(int(item))
    return numbers


def train_paper_model(out: Path, steps: int, threads: int) -> Path:
    """The paper's model in ``out``: reused when present, else trained with ``qbdi train``."""
    from qbdi_musicology.cli import main

    path = out / "paper-model.qbdi"
    if path.exists():
        logging.info("reusing %s", path)
        return path
    code = main(["train", "pop-music-midi", "--preset", "paper", "--steps", str(steps),
                 "--threads", str(threads), "--out", str(path)]
                + (["--resume"] if path.with_name(path.name + ".training").exists() else []))
    if code != 0:
        raise SystemExit(code)
    return path


def query_specs(out: Path, visions: list[int], chorales: list[str]) -> dict[str, str]:
    """Query label -> spec for both measurements.

    *Visions fugitives* no. 5 is in 2/4; the batch reads 4/4 only, so a 4/4-barred copy
    (:func:`qbdi_musicology.evaluate.as_common_time`, two written bars per grid bar) is
    written once into ``out/queries`` and queried instead, as the evaluation does.
    """
    from qbdi_musicology.evaluate import as_common_time
    from qbdi_musicology.musicxml import write_musicxml
    from qbdi_musicology.pieces import resolve_query

    specs: dict[str, str] = {}
    for number in visions:
        label = f"vf_no{number}"
        spec = f"corpus:visions-fugitives/{label}"
        score = resolve_query(spec)
        rebarred = as_common_time(score)
        if rebarred is not score:
            path = out / "queries" / f"{label}.musicxml"
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                write_musicxml(rebarred, path)
            spec = str(path)
        specs[label] = spec
    for name in chorales:
        specs[name] = f"corpus:bach-chorales/{name}"
    return specs


def group_of(label: str) -> str:
    return "visions-fugitives" if label.startswith("vf_") else "bach-chorales"


def measure_model(name: str, model_spec: str | None, specs: dict[str, str], rates: list[float],
                  out: Path, *, seed: int, progress: bool):
    """One model's rows: evaluation measures merged with the drift batch's, per query x rate."""
    import pandas as pd

    from qbdi_musicology.batch import run_batch
    from qbdi_musicology.checkpoint import load_model
    from qbdi_musicology.evaluate import evaluate_model, load_query_set
    from qbdi_musicology.report.drift_report import overall_verdict, verdicts

    started = time.perf_counter()
    model = load_model(model_spec)
    queries = load_query_set(list(specs.values()))
    labels = dict(zip(specs.values(), specs))
    # the evaluation names a query by the last part of its spec (a file keeps its suffix)
    by_tail = {spec.rsplit("/", 1)[-1]: label for spec, label in labels.items()}
    for q in queries:
        q.name = by_tail[q.name]
    evaluated = pd.DataFrame(evaluate_model(model, queries, rates, seed=seed))
    evaluated = evaluated[["query", "rate", "bars", "triad_agreement", "root_agreement",
                           "texture_difference", "tonic_share", "query_tonic_share",
                           "distinct_chords", "main_chord", "tonic", "active_dims",
                           "dims_with_bits"]]
    batch = run_batch(list(specs.values()), out / f"batch-{name}", rates=rates,
                      model=model_spec, seed=seed, overviews="first", render=False,
                      progress=progress)
    drift = batch.table.copy()
    drift["query"] = drift["query"].map(labels)
    drift["collisions_per_bar"] = drift["collisions"] / drift["segments"]
    drift = drift[["query", "rate", "key", "chord_agreement", "collisions",
                   "collisions_per_bar", "mean_tonnetz_to_tonic", "ir_max", "query_ir_max"]]
    drift = drift.rename(columns={"chord_agreement": "chord_symbol_agreement"})
    rows = evaluated.merge(drift, on=["query", "rate"], how="left")
    rows.insert(0, "model", name)
    rows.insert(2, "group", rows["query"].map(group_of))
    failed = [f"{r.spec}: {r.error}" for r in batch.failed]
    # The drift batch's own verdicts (Spearman's rho of tonic share against rate).
    per_query = verdicts(batch.table)["drifts"].value_counts()
    verdict = {"overall": overall_verdict(batch.table).text,
               "per query": ", ".join(f"{per_query.get(k, 0)} {k}"
                                      for k in ("yes", "weak", "no", "flat"))}
    logging.info("%s measured in %.0f s", name, time.perf_counter() - started)
    return rows, failed, verdict


def summarise(rows):
    """Mean over queries per model and rate (rates from high to low)."""
    cols = [c for c, _ in SUMMARY_MEASURES]
    summary = rows.groupby(["model", "rate"], sort=False)[cols].mean().reset_index()
    summary.insert(2, "queries", rows.groupby(["model", "rate"], sort=False).size().values)
    return summary.sort_values(["model", "rate"], ascending=[True, False]).reset_index(drop=True)


def _cell(value) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else f"{value:.2f}"


def summary_markdown(summary, *, info: dict, failed: list[str],
                     drift_verdicts: dict[str, dict] | None = None) -> str:
    """The summary as Markdown: one table per model, then the paper's claims."""
    lines = ["# Paper reproduction: measured", ""]
    for key, value in info.items():
        lines.append(f"- {key}: {value}")
    lines.append("")
    for model, frame in summary.groupby("model", sort=False):
        lines += [f"## Model `{model}`", ""]
        header = ["rate (bits/bar)", "queries"] + [label for _, label in SUMMARY_MEASURES]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        for _, row in frame.iterrows():
            rate = "inf" if math.isinf(row["rate"]) else f"{row['rate']:g}"
            cells = [rate, str(int(row["queries"]))] + [
                f"{row[c]:.1f}" if c == "dims_with_bits" else _cell(row[c])
                for c, _ in SUMMARY_MEASURES]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        verdict = (drift_verdicts or {}).get(model)
        if verdict:
            lines += [f"Drift toward the tonic (mean tonic share over queries): "
                      f"{verdict['overall']} Per query: {verdict['per query']}.", ""]
    lines += ["Measures (means over queries): *triad agreement*, *texture difference*, "
              "*tonic share* and *query's tonic share* from `qbdi_musicology.evaluate` "
              "(best major/minor triad per bar); *collisions per bar* (share of bars whose "
              "chord clashes with the query's), *IR* (information rate in bits at the best "
              "threshold, Tonnetz distance on beat chroma) and the drift verdict from the "
              "drift batch (`qbdi_musicology.batch`, chord labels per bar); *latent dims "
              "sent*: dimensions the channel gave at least one bit.", ""]
    lines += ["## The paper's claims and what to read", "",
              "| claim | measured by |", "|---|---|"]
    lines += [f"| {claim} | {measure} |" for claim, measure in CLAIMS]
    lines.append("")
    if failed:
        lines += ["## Queries that could not be analysed", ""] + [f"- {f}" for f in failed] + [""]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import pandas as pd
    import torch

    from qbdi_musicology.fileio import write_text_atomic

    started = time.perf_counter()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rates = parse_rates(args.rates)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = set(models) - {PAPER, SHIPPED}
    if unknown:
        raise SystemExit(f"--models: unknown {sorted(unknown)}; choose {PAPER}, {SHIPPED}")
    specs = query_specs(out, parse_numbers(args.visions),
                        [c.strip() for c in args.chorales.split(",") if c.strip()])
    timings: dict[str, float] = {}
    model_specs: dict[str, str | None] = {}
    if PAPER in models:
        t0 = time.perf_counter()
        model_specs[PAPER] = str(train_paper_model(out, args.steps, args.threads))
        timings["train (or reuse) paper model"] = time.perf_counter() - t0
    if SHIPPED in models:
        model_specs[SHIPPED] = None  # the shipped default
    frames, failed, drift_verdicts = [], [], {}
    for name, spec in model_specs.items():
        t0 = time.perf_counter()
        rows, bad, drift_verdicts[name] = measure_model(name, spec, specs, rates, out, seed=args.seed,
                                  progress=not args.quiet)
        frames.append(rows)
        failed += [f"{name}: {b}" for b in bad]
        timings[f"measure {name}"] = time.perf_counter() - t0
    rows = pd.concat(frames, ignore_index=True)
    summary = summarise(rows)
    timings["total"] = time.perf_counter() - started
    from qbdi_musicology.checkpoint import read_header

    info = {"queries": ", ".join(specs), "rates": ", ".join(
        "inf" if math.isinf(r) else f"{r:g}" for r in rates), "channel seed": args.seed,
        "threads": args.threads}
    if PAPER in model_specs:
        header, _ = read_header(model_specs[PAPER])
        meta = header.get("info", {})
        info["paper model"] = (f"{meta.get('steps')} steps, {meta.get('active_dims')} active "
                               f"latent dimensions, validation note F1 "
                               f"{_cell((meta.get('final_losses') or {}).get('val_note_f1'))}")
    info["run time (s)"] = ", ".join(f"{k} {v:.0f}" for k, v in timings.items())
    write_text_atomic(out / "per_query.csv", rows.to_csv(index=False, float_format="%.6g"))
    write_text_atomic(out / "summary.csv", summary.to_csv(index=False, float_format="%.6g"))
    write_text_atomic(out / "summary.md", summary_markdown(summary, info=info, failed=failed,
                                                            drift_verdicts=drift_verdicts))
    print(f"wrote {out / 'summary.md'} ({timings['total']:.0f} s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    from qbdi_musicology.errors import QbdiError

    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(levelname)s %(message)s")
    try:
        return run(args)
    except QbdiError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
