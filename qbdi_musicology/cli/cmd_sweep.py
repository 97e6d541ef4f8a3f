"""``qbdi sweep``: one improvisation per channel rate, plus the channel statistics.

For a query and a list of rates (bits per bar), the query is encoded once; its latents pass
the rate-limited channel at every rate and each result is decoded into a score. Written
into ``--out``: ``<query>_R<rate>.musicxml`` and ``<query>_R<rate>.mid`` per rate and
``<query>_channel.csv`` with one row of channel statistics per rate (see docs/channel.md).
Every file is written atomically; the CSV is written last.
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
import math
import re
from pathlib import Path

from ..channel import MEAN_CHOICES, VARIANCE_CHOICES
from ..errors import ParameterError
from ..rates import rate_tag
from .common import add_command, add_key, add_meter_map, parse_rates

log = logging.getLogger(__name__)

DEFAULT_RATES = "0,8,32,128,256,512,inf"


def register(subparsers) -> None:
    parser = add_command(
        subparsers, "sweep",
        help="improvise on a query at several channel rates (one score per rate + a CSV)",
        example="qbdi sweep corpus:bach-chorales/bwv66.6 --rates 0,8,32,128,256,512,inf "
                "--out sweep/")
    parser.add_argument("query", help="the query: a MusicXML/MIDI file or corpus:NAME/PIECE")
    parser.add_argument("--rates", default=DEFAULT_RATES,
                        help=f"bits per bar, comma-separated; 'inf' = lossless "
                             f"(default {DEFAULT_RATES})")
    parser.add_argument("--out", required=True, help="output folder (created if needed)")
    parser.add_argument("--model", default=None,
                        help="model file or shipped model name (default: the shipped model)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the channel noise; same seed, same scores (default 0)")
    parser.add_argument("--variance", choices=VARIANCE_CHOICES, default="query",
                        help="source variance that steers the bit allocation: the query's "
                             "bar-to-bar variation (default), the encoder's posterior "
                             "variance (as the reference notebook), or the prior (1)")
    parser.add_argument("--mean", choices=MEAN_CHOICES, default=None,
                        help="what a dimension without bits falls back to: the query's "
                             "average, each bar's own latent, the prior (0), or the code of "
                             "the query's tonic chord (the key as side information: low "
                             "rates drift to the tonic); default: the model's own choice "
                             "(tonic for the shipped model)")
    parser.add_argument("--sample", action="store_true",
                        help="draw each bar's latent from the encoder's posterior instead "
                             "of taking its mean")
    parser.add_argument("--threshold", type=float, default=0.5,
                        help="decoding threshold in (0, 1): a cell sounds when its probability "
                             "is above it (default 0.5; the paper uses 0.5-0.7)")
    add_meter_map(parser)
    add_key(parser)
    parser.add_argument("--with-query", action="store_true",
                        help="add the query as extra staves below each improvisation")
    parser.add_argument("--no-midi", action="store_true", help="write MusicXML only")
    parser.set_defaults(func=run)


def query_name(spec: str) -> str:
    """A file-safe name for a query: ``corpus:bach-chorales/bwv66.6 -> bwv66.6``."""
    text = spec[len("corpus:"):] if spec.startswith("corpus:") else Path(spec).stem
    text = text.rstrip("/").rsplit("/", 1)[-1]
    text = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._-")
    return text[:80] or "query"


def channel_csv(rows: list[dict]) -> str:
    """The per-rate statistics as CSV text (rates as ``inf`` for the lossless channel)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) and k != "rate_bits"
                             else v) for k, v in row.items()})
    return buffer.getvalue()


def run(args: argparse.Namespace) -> int:
    from .. import checkpoint, generate
    from ..fileio import write_text_atomic
    from ..musicxml import write_midi, write_musicxml

    rates = parse_rates(args.rates)
    if len(set(rates)) != len(rates):
        raise ParameterError(f"--rates {args.rates!r} lists a rate twice; give each once")
    if args.seed < 0:
        raise ParameterError(f"--seed {args.seed} must be >= 0")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ParameterError(f"--out {out} is a file; give a folder")
    score = generate.load_query(args.query)
    loaded = checkpoint.load_model(args.model)
    options = generate.default_channel(loaded, mean=args.mean, variance=args.variance,
                                       sample=args.sample)
    results = generate.sweep(score, loaded, rates, seed=args.seed, threshold=args.threshold,
                             channel=options, include_query=args.with_query,
                             meter_map=args.meter_map, key=args.key)
    name = query_name(args.query)
    rows = []
    for rate, improvisation, channel in results:
        stem = f"{name}_{rate_tag(rate)}"
        midi_name = None
        if not args.no_midi:
            midi_name = write_midi(improvisation, out / f"{stem}.mid").name
        # The improvisation was made here only to be written: the writer may notate it in
        # place instead of copying it (MIDI is written first, from the untouched score).
        xml_path = write_musicxml(improvisation, out / f"{stem}.musicxml", copy_score=False)
        row = {**channel.to_record(), "musicxml": xml_path.name}
        if midi_name is not None:
            row["midi"] = midi_name
        rows.append(row)
        log.info("rate %s: %d dimensions with bits, mean distortion %.4g", rate,
                 channel.active_dimensions, channel.mean_distortion)
    csv_path = write_text_atomic(out / f"{name}_channel.csv", channel_csv(rows))
    print(f"wrote {len(rows)} improvisations and {csv_path}")
    return 0
