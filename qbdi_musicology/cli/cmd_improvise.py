"""``qbdi improvise``: a new piece from the model alone (a random latent code per bar)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ParameterError
from .common import add_command


def register(subparsers) -> None:
    parser = add_command(
        subparsers, "improvise",
        help="improvise a new piece from a trained model, without a query",
        example="qbdi improvise --bars 8 --out improv.musicxml --seed 3 --midi")
    parser.add_argument("--bars", type=int, default=8, help="number of 4/4 bars (default 8)")
    parser.add_argument("--out", required=True, help="output MusicXML file (.musicxml or .mxl)")
    parser.add_argument("--model", default=None,
                        help="model file or shipped model name (default: the shipped model)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--threshold", type=float, default=0.5,
                        help="decoding threshold in (0, 1) (default 0.5)")
    parser.add_argument("--tempo", type=float, default=120.0, help="quarter notes per minute")
    parser.add_argument("--midi", action="store_true", help="also write a .mid beside it")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .. import checkpoint, generate
    from ..musicxml import write_midi, write_musicxml

    out = Path(args.out)
    if out.suffix.lower() not in (".musicxml", ".xml", ".mxl"):
        raise ParameterError(f"--out {out}: give a .musicxml or .mxl file name")
    if args.tempo <= 0:
        raise ParameterError(f"--tempo {args.tempo}: must be > 0")
    loaded = checkpoint.load_model(args.model)
    score = generate.improvise(loaded, args.bars, seed=args.seed, threshold=args.threshold,
                               tempo=args.tempo)
    written = [write_musicxml(score, out)]
    if args.midi:
        written.append(write_midi(score, out.with_suffix(".mid")))
    print(f"wrote {', '.join(str(p) for p in written)} (model {loaded.model_id}, seed {args.seed})")
    return 0
