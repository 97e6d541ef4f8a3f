"""``qbdi query``: improvise on a query score bar by bar, through the rate-limited channel."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from ..errors import ParameterError
from .common import add_command, add_key, add_meter_map, parse_rates


def register(subparsers) -> None:
    from ..channel import MEAN_CHOICES

    parser = add_command(
        subparsers, "query",
        help="improvise on a query (MIDI, MusicXML or corpus:NAME/PIECE) with a trained model",
        example="qbdi query corpus:bach-chorales/bwv66.6 --out improv.musicxml --rate 32 "
                "--with-query --midi")
    parser.add_argument("query", help="the query: a .mid/.musicxml/.mxl file or corpus:NAME/PIECE")
    parser.add_argument("--out", required=True, help="output MusicXML file (.musicxml or .mxl)")
    parser.add_argument("--rate", default="inf",
                        help="channel rate in bits per bar; 'inf' (default) = full rate, "
                             "0 = nothing bar by bar: the shipped model then plays the "
                             "query's tonic chord in the piece's average texture")
    parser.add_argument("--model", default=None,
                        help="model file or shipped model name (default: the shipped model)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the channel noise (default 0)")
    parser.add_argument("--threshold", type=float, default=0.5,
                        help="decoding threshold in (0, 1): a cell sounds when its probability "
                             "is above it (default 0.5; the paper uses 0.5-0.7)")
    parser.add_argument("--mean", choices=MEAN_CHOICES, default=None,
                        help="what the channel falls back to for what it does not send (see "
                             "'qbdi sweep --help'); default: the model's own choice (tonic "
                             "for the shipped model)")
    add_meter_map(parser)
    add_key(parser)
    parser.add_argument("--with-query", action="store_true",
                        help="add the query as extra staves below the improvisation")
    parser.add_argument("--midi", action="store_true",
                        help="also write a MIDI file beside the MusicXML (same name, .mid)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .. import checkpoint, generate
    from ..musicxml import write_midi, write_musicxml

    rates = parse_rates(args.rate)
    if len(rates) != 1:
        raise ParameterError(f"--rate {args.rate!r}: give one rate (use 'qbdi sweep' for several)")
    out = Path(args.out)
    if out.suffix.lower() not in (".musicxml", ".xml", ".mxl"):
        raise ParameterError(f"--out {out}: give a .musicxml or .mxl file name")
    loaded = checkpoint.load_model(args.model)
    score = generate.load_query(args.query)
    improv = generate.query(score, loaded, seed=args.seed, threshold=args.threshold,
                            rate=rates[0], channel=generate.default_channel(loaded, mean=args.mean),
                            include_query=args.with_query, meter_map=args.meter_map,
                            key=args.key)
    written = []
    if args.midi:
        written.append(write_midi(improv, out.with_suffix(".mid")))
    # Made only to be written: notated in place, after the MIDI was taken from it.
    written.insert(0, write_musicxml(improv, out, copy_score=False))
    rate = "inf" if math.isinf(rates[0]) else f"{rates[0]:g}"
    print(f"wrote {', '.join(str(p) for p in written)} (model {loaded.model_id}, "
          f"rate {rate} bits/bar, seed {args.seed})")
    return 0
