"""``qbdi evaluate``: how much harmony a model keeps at each channel rate (CSV + Markdown)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import add_command, parse_rates

DEFAULT_RATES = "inf,256,128,64,32,16,8,4,0"


def register(subparsers) -> None:
    parser = add_command(
        subparsers, "evaluate",
        help="measure triad agreement, texture difference and tonic drift per channel rate",
        example="qbdi evaluate --rates inf,64,32,8,0 --out eval/")
    parser.add_argument("--model", default=None,
                        help="model file or shipped model name (default: the shipped model)")
    parser.add_argument("--queries", nargs="*", default=None,
                        help="query specs (files or corpus:NAME/PIECE); default: Visions "
                             "fugitives 1-8, ten 4/4 chorales and five held-out pop clips")
    parser.add_argument("--rates", default=DEFAULT_RATES,
                        help=f"bits per bar, comma-separated (default {DEFAULT_RATES})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the channel noise")
    parser.add_argument("--threshold", type=float, default=0.5,
                        help="decoding threshold in (0, 1) (default 0.5)")
    parser.add_argument("--mean", choices=("query", "tonic"), default=None,
                        help="what the channel falls back to for detail it does not send: "
                             "the query's average bar or its tonic chord (the key is then "
                             "given to the receiver as side information); default: the "
                             "model's own choice (tonic for the shipped model)")
    parser.add_argument("--out", required=True, help="output folder for the CSV and Markdown")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from .. import evaluate
    from ..checkpoint import load_model
    from ..generate import default_channel
    from ..fileio import write_text_atomic

    rates = parse_rates(args.rates)
    loaded = load_model(args.model)
    queries = evaluate.load_query_set(args.queries, grid=loaded.grid)
    channel = default_channel(loaded, mean=args.mean)
    rows = evaluate.evaluate_model(loaded, queries, rates, seed=args.seed,
                                   threshold=args.threshold, channel=channel)
    summary = evaluate.summarise(rows)
    by_group = evaluate.summarise(rows, by=("group", "rate"))
    out = Path(args.out)
    write_text_atomic(out / "per_query.csv", pd.DataFrame(rows).to_csv(index=False))
    write_text_atomic(out / "summary.csv", summary.to_csv(index=False))
    write_text_atomic(out / "summary_by_group.csv", by_group.to_csv(index=False))
    table = evaluate.markdown_table(summary)
    text = (f"# Evaluation of {loaded.model_id}\n\n{len(queries)} queries, seed {args.seed}, "
            f"threshold {args.threshold}, channel mean {channel.mean}; mean ± sd over queries.\n\n{table}")
    write_text_atomic(out / "summary.md", text)
    print(text)
    return 0
