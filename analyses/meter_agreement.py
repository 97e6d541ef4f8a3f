"""Harmony kept in every meter: the evaluation measures of the chorales, grouped by meter.

Every chorale of the music21 corpus (or the first ``--limit``) is encoded on its metric
bars (:mod:`qbdi_musicology.bars`) and improvised upon at a few rates; the measures of
``qbdi evaluate`` (bar triad agreement, tonic share, distinct chords...) are averaged per
meter group: the 4/4 chorales against those in 3/4, 3/2, 12/8 or changing meters.

Example::

    python analyses/meter_agreement.py --rates 0,8,inf --out reports/meters

writes ``rows.csv`` (one row per chorale and rate) and ``by_meter.md`` (the table), and
prints the table.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from pathlib import Path

import pandas as pd


def meter_group(meters: tuple[str, ...]) -> str:
    """``('4/4',) -> '4/4'``; several meters -> ``'mixed'``."""
    return meters[0] if len(meters) == 1 else "mixed"


def main(argv=None) -> int:
    from qbdi_musicology.bars import bar_structure
    from qbdi_musicology.checkpoint import load_model
    from qbdi_musicology.cli.common import configure_script_logging, parse_rates
    from qbdi_musicology.corpus import get_spec
    from qbdi_musicology.errors import QbdiError
    from qbdi_musicology.evaluate import evaluate_model, load_query_set
    from qbdi_musicology.fileio import write_text_atomic

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="0,8,inf", help="rates in bits per bar")
    parser.add_argument("--limit", type=int, default=None, help="the first N chorales only")
    parser.add_argument("--model", default=None, help="model (default: the shipped one)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--meter-map", choices=("scale", "pad"), default="scale",
                        help="how bars in other meters meet the model's 4/4 bar")
    parser.add_argument("--meters", default=None,
                        help="only chorales in these meter groups, e.g. '3/4,3/2,12/8,mixed'")
    parser.add_argument("--out", default=None, help="folder for rows.csv and by_meter.md")
    args = parser.parse_args(argv)
    configure_script_logging()
    logging.getLogger("qbdi_musicology").setLevel(logging.ERROR)
    rates = parse_rates(args.rates)
    model = load_model(args.model)
    files = get_spec("bach-chorales").files()[: args.limit]
    rows = []
    for path in files:
        spec = f"corpus:bach-chorales/{path.stem}"
        try:
            (query,) = load_query_set([spec], meter_map=args.meter_map)
            group = meter_group(bar_structure(query.score).meters)
            if args.meters and group not in args.meters.split(","):
                continue
            found = evaluate_model(model, [query], rates, seed=args.seed,
                                   meter_map=args.meter_map)
        except QbdiError as exc:
            print(f"skipped {spec}: {exc}", file=sys.stderr)
            continue
        for row in found:
            row["meter"] = group
        rows.extend(found)
    frame = pd.DataFrame(rows)
    print(f"meter map: {args.meter_map}")
    frame["is_44"] = frame["meter"].eq("4/4").map({True: "4/4", False: "other meters"})
    cols = ["triad_agreement", "tonic_share", "distinct_chords", "texture_difference"]
    table = (frame.groupby(["is_44", "rate"])[cols].mean().round(3)
             .join(frame.groupby(["is_44", "rate"]).size().rename("pieces")))
    by_meter = (frame[frame["rate"] == max(rates)].groupby("meter")[["triad_agreement"]]
                .agg(["mean", "size"]).round(3))
    lines = ["| meters | rate | pieces | " + " | ".join(c.replace("_", " ") for c in cols)
             + " |", "|---|---|---|" + "---|" * len(cols)]
    for (group, rate), row in table.sort_index(ascending=[True, False]).iterrows():
        rate_text = "inf" if math.isinf(rate) else f"{rate:g}"
        lines.append(f"| {group} | {rate_text} | {int(row['pieces'])} | "
                     + " | ".join(f"{row[c]:.3f}" for c in cols) + " |")
    text = "\n".join(lines) + "\n\nfull rate by meter:\n\n" + by_meter.to_string() + "\n"
    print(text)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out / "rows.csv", frame.to_csv(index=False))
        write_text_atomic(out / "by_meter.md", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
