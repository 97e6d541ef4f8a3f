"""``qbdi train``: train a bar model on a corpus and write one ``.qbdi`` model file."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ParameterError
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
    import torch

    from ..checkpoint import save_model
    from ..corpus import load_corpus
    from ..train import PRESETS, config_from_preset, fit, training_data_for

    out = Path(args.out)
    if out.suffix != ".qbdi":
        raise ParameterError(f"--out {out}: model files end in .qbdi")
    if args.threads < 1:
        raise ParameterError(f"--threads {args.threads} must be >= 1")
    preset = PRESETS[args.preset]
    overrides = {k: v for k, v in {"latent": args.latent, "harmony_dims": args.harmony_dims,
                                   "beta": args.beta}.items() if v is not None}
    config = config_from_preset(args.preset, **overrides)
    steps = args.steps or preset["steps"]
    seed = preset["seed"] if args.seed is None else args.seed
    hold_out = preset.get("hold_out", ()) if args.hold_out is None else [
        s for s in args.hold_out.split(",") if s.strip()]
    torch.set_num_threads(args.threads)
    corpus = load_corpus(args.corpus, config.grid)
    data = training_data_for(corpus, hold_out)
    state = out.with_name(out.name + ".training")
    average_from = args.average_from
    if average_from is None and preset.get("average_last"):
        average_from = max(0, steps - preset["average_last"])
    if args.keep_best:
        average_from = None
    if average_from is not None and not (0 <= average_from <= steps):
        raise ParameterError(f"--average-from {average_from} must lie between 0 and the "
                             f"{steps} training steps")
    result = fit(data, config, seed=seed, steps=steps, batch=args.batch, lr=args.lr,
                 checkpoint=state, checkpoint_every=args.checkpoint_every, resume=args.resume,
                 average_from=average_from)
    info = dict(result.info)
    info["preset"] = args.preset
    info["hold_out"] = list(hold_out)
    info["description"] = preset.get("description", "")
    save_model(out, result.model, info=info)
    if state.exists():
        state.unlink()
    losses = info["final_losses"]
    print(f"wrote {out}: {info['steps']} steps in {info['train_seconds']} s "
          f"({info['steps_per_second']} steps/s), validation note F1 "
          f"{losses.get('val_note_f1') or float('nan'):.3f}, {info['active_dims']} active "
          f"latent dimensions")
    return 0
