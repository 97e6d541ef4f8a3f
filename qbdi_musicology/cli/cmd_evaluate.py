"""``qbdi evaluate``: how much harmony a model keeps at each channel rate (CSV + Markdown)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from .common import add_command, parse_rates

DEFAULT_RATES = "inf,256,128,64,32,16,8,4,0"


def register(subparsers) -> None:
    from ..evalsets import set_names

    parser = add_command(
        subparsers, "evaluate",
        help="measure triad agreement, texture difference and tonic drift per channel rate",
        example="qbdi evaluate --set broad --seeds 1,2,3 --out eval-broad/")
    parser.add_argument("--model", default=None,
                        help="model file or shipped model name (default: the shipped model)")
    parser.add_argument("--set", default=None, choices=set_names(), dest="set_name",
                        help="a named evaluation set (qbdi_musicology/evalsets.py): 'standard' "
                             "(the default: Visions fugitives 1-8, ten 4/4 chorales and five "
                             "held-out pop clips) or 'broad' (55 pieces in 7 styles); results "
                             "per style and overall")
    parser.add_argument("--queries", nargs="*", default=None,
                        help="query specs (files or corpus:NAME/PIECE) instead of a set")
    parser.add_argument("--seeds", default=None,
                        help="training seeds, comma-separated (e.g. 1,2,3): evaluate one model "
                             "per seed of the recipe --preset; a seed's model is the shipped one "
                             "if it was made with that seed, else read from (or, the first "
                             "time, trained into) --models-dir")
    parser.add_argument("--preset", default=None,
                        help="the recipe for --seeds (default: the shipped model's, "
                             "pop-harmony); see 'qbdi train --help'")
    parser.add_argument("--models-dir", default=None,
                        help="folder of the per-seed models (default: models/ in the cache "
                             "folder, $QBDI_CACHE or ~/.cache/qbdi-musicology)")
    parser.add_argument("--threads", type=int, default=2,
                        help="CPU threads for training a missing seed's model (default 2)")
    parser.add_argument("--rates", default=DEFAULT_RATES,
                        help=f"bits per bar, comma-separated (default {DEFAULT_RATES})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the channel noise")
    parser.add_argument("--draws", type=int, default=1,
                        help="channel draws per query and rate (seeds --seed, --seed+1, ...); "
                             "each measure is averaged over them (default 1)")
    parser.add_argument("--threshold", type=float, default=0.5,
                        help="decoding threshold in (0, 1) (default 0.5)")
    parser.add_argument("--mean", choices=("query", "tonic"), default=None,
                        help="what the channel falls back to for detail it does not send: "
                             "the query's average bar or its tonic chord (the key is then "
                             "given to the receiver as side information); default: the "
                             "model's own choice (tonic for the shipped model)")
    parser.add_argument("--data-dir", default=None,
                        help="the shared data folder (default $QBDI_DATA or ../shared/data); "
                             "a set's pieces from it are skipped, with a message, if absent")
    parser.add_argument("--out", required=True, help="output folder for the CSV and Markdown")
    parser.set_defaults(func=run)


def _seeds(text: str) -> list[int]:
    from ..errors import ParameterError

    try:
        seeds = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ParameterError(f"--seeds {text!r}: give whole numbers, e.g. 1,2,3") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise ParameterError(f"--seeds {text!r}: give distinct seeds, e.g. 1,2,3")
    return seeds


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from .. import evaluate
    from ..checkpoint import DEFAULT_MODEL_NAME, load_model
    from ..errors import ParameterError
    from ..evalsets import DEFAULT_SET, load_evaluation_set, skipped_summary
    from ..fileio import write_text_atomic
    from ..generate import default_channel

    rates = parse_rates(args.rates)
    if args.queries is not None and args.set_name is not None:
        raise ParameterError("give either --set or --queries, not both")
    if args.seeds is not None and args.model is not None:
        raise ParameterError("--seeds evaluates one model per seed of a recipe (--preset); "
                             "leave out --model")
    if args.seeds is not None:
        models = evaluate.recipe_models(args.preset or DEFAULT_MODEL_NAME, _seeds(args.seeds),
                                        models_dir=args.models_dir, threads=args.threads)
    else:
        if args.preset is not None:
            raise ParameterError("--preset names the recipe for --seeds; give --seeds too")
        loaded = load_model(args.model)
        models = [(loaded.info.get("seed", 0), loaded)]
    grid = models[0][1].grid
    skipped: list[tuple[str, str]] = []
    if args.queries is not None:
        queries = evaluate.load_query_set(args.queries, grid=grid, data_dir=args.data_dir)
        set_label = f"{len(queries)} given queries"
    else:
        name = args.set_name or DEFAULT_SET
        queries, skipped = load_evaluation_set(name, grid=grid, data_dir=args.data_dir)
        set_label = f"set '{name}'"
    for line in skipped_summary(skipped):
        print(line)
    if not queries:
        raise ParameterError("no query could be read; see the messages above")
    rows = []
    for seed, loaded in models:
        channel = default_channel(loaded, mean=args.mean)
        for row in evaluate.evaluate_model(loaded, queries, rates, seed=args.seed,
                                           threshold=args.threshold, channel=channel,
                                           draws=args.draws):
            rows.append({"seed": seed, "model": loaded.model_id, **row})
    summary = evaluate.summarise(rows, by=("seed", "rate"))
    by_group = evaluate.summarise(rows, by=("seed", "group", "rate"))
    out = Path(args.out)
    write_text_atomic(out / "per_query.csv", pd.DataFrame(rows).to_csv(index=False))
    write_text_atomic(out / "summary.csv", summary.to_csv(index=False))
    write_text_atomic(out / "summary_by_group.csv", by_group.to_csv(index=False))
    ids = ", ".join(f"{loaded.model_id} (seed {seed})" for seed, loaded in models)
    text = (f"# Evaluation of {ids}\n\n{set_label}: {len(queries)} queries"
            + (f" ({len(skipped)} skipped)" if skipped else "")
            + f"; channel seed {args.seed}"
            + (f" (+{args.draws - 1} more draws, averaged)" if args.draws > 1 else "")
            + f", threshold {args.threshold}, channel mean "
              f"{default_channel(models[0][1], mean=args.mean).mean}.\n\n")
    for seed, _ in models:
        seed_rows = [r for r in rows if r["seed"] == seed]
        text += (f"## Training seed {seed}: mean ± sd over queries\n\n"
                 + evaluate.markdown_table(evaluate.summarise(seed_rows)) + "\n")
    if math.inf in rates:
        for measure in ("triad_agreement", "texture_difference"):
            text += (f"## {measure.replace('_', ' ').capitalize()} at full rate, per style "
                     f"(mean ± sd over pieces)\n\n" + evaluate.style_table(rows, measure=measure)
                     + "\n")
    if {math.inf, 8.0, 0.0} <= set(rates):
        text += "## Targets, per seed\n\n" + evaluate.targets_table(rows)
    write_text_atomic(out / "summary.md", text)
    print(text)
    return 0
