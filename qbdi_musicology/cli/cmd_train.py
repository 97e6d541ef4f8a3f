"""``qbdi train``: train a bar model on a corpus and write one ``.qbdi`` model file."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import add_command


def register(subparsers) -> None:
    from ..train import PRESETS

    parser = add_command(
        subparsers, "train",
        help="train a bar VAE on a corpus (resumable; same seed -> same model)",
        example="qbdi train pop-music-midi --out pop.qbdi --preset pop-harmony")
    parser.add_argument("corpus", help="a named corpus (see 'qbdi corpus list') or a folder")
    parser.add_argument("--out", required=True, help="the model file to write (.qbdi)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="pop-harmony",
                        help="model + training recipe (default pop-harmony, the shipped model; "
                             "'paper' = Dubnov 2019's 500-dimensional latent)")
    parser.add_argument("--steps", type=int, default=None, help="training steps (preset's default)")
    parser.add_argument("--seed", type=int, default=None, help="seed (preset's default)")
    parser.add_argument("--latent", type=int, default=None, help="latent dimensions")
    parser.add_argument("--harmony-dims", type=int, default=None,
                        help="size of the harmony part of the latent (0 = none)")
    parser.add_argument("--beta", type=float, default=None, help="weight of the KL term")
    parser.add_argument("--batch", type=int, default=100, help="bars per step (default 100)")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    parser.add_argument("--hold-out", default=None,
                        help="comma-separated song names left out of training (default: the "
                             "preset's, i.e. the evaluation's held-out pop songs)")
    parser.add_argument("--average-from", type=int, default=None, metavar="STEP",
                        help="keep the average of the weights from this step to the end "
                             "(default for pop-harmony: the last 5000 steps, i.e. from 3000 of 8000)")
    parser.add_argument("--keep-best", action="store_true",
                        help="keep the weights of the best validation loss instead (early "
                             "stopping, no averaging)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run from OUT.training")
    parser.add_argument("--checkpoint-every", type=int, default=1000,
                        help="steps between resumable training states (default 1000)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..train import train_preset

    overrides = {k: v for k, v in {"latent": args.latent, "harmony_dims": args.harmony_dims,
                                   "beta": args.beta}.items() if v is not None}
    hold_out = None if args.hold_out is None else [
        s for s in args.hold_out.split(",") if s.strip()]
    out = Path(args.out)
    info = train_preset(args.preset, out, seed=args.seed, corpus=args.corpus,
                        steps=args.steps, threads=args.threads, overrides=overrides,
                        hold_out=hold_out, average_from=args.average_from,
                        keep_best=args.keep_best, batch=args.batch, lr=args.lr,
                        resume=args.resume, checkpoint_every=args.checkpoint_every)
    losses = info["final_losses"]
    print(f"wrote {out}: {info['steps']} steps in {info['train_seconds']} s "
          f"({info['steps_per_second']} steps/s), validation note F1 "
          f"{losses.get('val_note_f1') or float('nan'):.3f}, {info['active_dims']} active "
          f"latent dimensions")
    return 0
