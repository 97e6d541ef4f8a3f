"""Training a :class:`~qbdi_musicology.model.BarVAE` on the bars of a corpus.

``fit`` runs Adam on mini-batches of bars, holds out whole pieces (not bars) for
validation, shows a progress bar with the loss terms, stops early when the validation loss
stops improving, writes a resumable training state every ``checkpoint_every`` steps and
returns the best model. With the same seed, data and thread count it gives the same weights,
byte for byte (all randomness comes from one ``torch.Generator``).

Example (the shipped default, about 10 minutes on 2 CPU cores)::

    from qbdi_musicology.corpus import load_corpus
    corpus = load_corpus("pop-music-midi", DEFAULT_GRID)
    result = fit(corpus, ModelConfig(latent=32, harmony_dims=12, harmony_weight=20.0,
                                     key_normalise=True, transpose="normalise"),
                 seed=1, steps=20000)
    save_model("pop.qbdi", result.model, info=result.info)
"""

from __future__ import annotations

import copy
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .errors import InputError, ParameterError
from .grid import Grid

log = logging.getLogger(__name__)


@dataclass
class TrainingData:
    """Bars plus which piece each bar comes from (``pieces[i]`` indexes ``names``)."""

    bars: np.ndarray
    pieces: np.ndarray
    names: list[str]
    corpus_name: str = "bars"
    fingerprint: str = ""


@dataclass
class FitResult:
    """What :func:`fit` returns: the best model, its losses and the training record."""

    model: Any
    history: list[dict]
    info: dict
    steps_done: int
    seconds: float
    stopped_early: bool = False
    val_pieces: list[str] = field(default_factory=list)


def as_training_data(data, names: Sequence[str] | None = None,
                     pieces: Sequence[int] | None = None) -> TrainingData:
    """Accept a bar array, a :class:`TrainingData` or a corpus object with ``bars``.

    A corpus object (``corpus.load_corpus``'s result) gives its per-bar piece index and piece
    names; a bare array counts as one piece per bar unless ``pieces`` is given.
    """
    if isinstance(data, TrainingData):
        return data
    if hasattr(data, "bars"):
        # corpus.CorpusBars: ``piece`` is the per-bar index, ``pieces`` the piece names
        bars = np.asarray(data.bars)
        piece_index = None
        for attr in ("piece", "piece_index", "pieces"):
            value = getattr(data, attr, None)
            if value is not None and np.ndim(value) == 1 and len(value) == len(bars) \
                    and np.issubdtype(np.asarray(value).dtype, np.integer):
                piece_index = np.asarray(value)
                break
        piece_names = None
        for attr in ("pieces", "names"):
            value = getattr(data, attr, None)
            if isinstance(value, (list, tuple)) and value and isinstance(value[0], str):
                piece_names = list(value)
                break
        if piece_index is None:
            piece_index = np.arange(len(bars))
        if not piece_names:
            piece_names = [f"piece {i}" for i in range(int(piece_index.max()) + 1)]
        return TrainingData(bars=bars, pieces=piece_index, names=piece_names,
                            corpus_name=str(getattr(data, "name", "corpus")),
                            fingerprint=str(getattr(data, "fingerprint", "")))
    bars = np.asarray(data)
    piece_index = np.asarray(pieces) if pieces is not None else np.arange(len(bars))
    piece_names = list(names) if names else [f"piece {i}" for i in range(int(piece_index.max(initial=-1)) + 1)]
    return TrainingData(bars=bars, pieces=piece_index, names=piece_names)


def song_of(name: str) -> str:
    """The song a piece belongs to: its name before ``' - '`` (``'X - Chorus' -> 'X'``).

    A song's verse and chorus share chords and riffs; keeping them on the same side of the
    train/validation split keeps the validation loss honest.
    """
    base = os.path.basename(str(name))
    return base.split(" - ")[0].strip().lower()


def split_by_piece(data: TrainingData, val_fraction: float,
                   generator: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Boolean masks (train, validation) over bars, holding out whole songs."""
    songs = sorted({song_of(data.names[int(p)]) for p in np.unique(data.pieces)})
    n_val = int(round(len(songs) * val_fraction)) if val_fraction > 0 else 0
    if val_fraction > 0 and len(songs) >= 2:
        n_val = min(max(n_val, 1), len(songs) - 1)
    else:
        n_val = 0
    order = generator.permutation(len(songs))
    val_songs = {songs[i] for i in order[:n_val]}
    bar_song = np.array([song_of(data.names[int(p)]) for p in data.pieces])
    val = np.isin(bar_song, list(val_songs)) if val_songs else np.zeros(len(bar_song), bool)
    val_names = sorted({data.names[int(p)] for p, v in zip(data.pieces, val) if v})
    return ~val, val, val_names


def prepare_bars(data: TrainingData, config, mask: np.ndarray, *, augment: bool) -> np.ndarray:
    """The bars the model sees, after the config's transposition rule.

    ``"normalise"`` moves each piece to C major / A minor (its key estimated like music21's
    ``analyze('key')``); ``"all12"`` adds the 11 other transpositions of every bar (when
    ``augment``); ``"none"`` leaves the bars as they are.
    """
    from .analysis.chroma import bars_chroma
    from .model import key_of_chroma, normalising_shift
    from .pianoroll import transpose_bars

    grid = config.grid
    bars = data.bars[mask]
    pieces = data.pieces[mask]
    if config.transpose == "normalise" or config.key_normalise:
        out = np.empty_like(bars)
        for p in np.unique(pieces):
            sel = pieces == p
            key = key_of_chroma(bars_chroma(bars[sel], grid).sum(axis=0))
            out[sel] = transpose_bars(bars[sel], normalising_shift(*key), grid)
        bars = out
    if config.transpose == "all12" and augment:
        bars = np.concatenate([transpose_bars(bars, s, grid) if s else bars
                               for s in range(-5, 7)])
    return bars


def _init_weights(model, generator) -> None:
    """PyTorch's default Linear initialisation, drawn from ``generator`` (not the global RNG)."""
    import torch

    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Linear):
                bound = 1.0 / math.sqrt(module.in_features)
                module.weight.uniform_(-bound, bound, generator=generator)
                module.bias.uniform_(-bound, bound, generator=generator)


def active_dims(mu: np.ndarray, threshold: float = 0.05) -> int:
    """Latent dimensions whose posterior mean varies across bars (variance > ``threshold``)."""
    if len(mu) < 2:
        return 0
    return int((np.var(mu, axis=0) > threshold).sum())


def evaluate_bars(model, bars: np.ndarray, batch: int = 500) -> dict:
    """Mean loss terms per bar, cell accuracy and note-onset F1 on ``bars`` (no sampling).

    ``cell_accuracy`` is the share of the 2496 cells decoded right at threshold 0.5;
    ``note_f1`` the F1 of the sounding cells (``PLAY`` plane), the measure that is not
    flattered by the mostly-empty roll.
    """
    import torch
    from torch.nn import functional as F

    if len(bars) == 0:
        return {}
    x_all = torch.from_numpy(bars.reshape(len(bars), -1).astype(np.float32))
    sums = {"recon": 0.0, "kl": 0.0, "harmony": 0.0, "correct": 0.0, "tp": 0.0, "fp": 0.0,
            "fn": 0.0}
    mus = []
    grid = model.config.grid
    with torch.no_grad():
        for start in range(0, len(x_all), batch):
            x = x_all[start:start + batch]
            mu, logvar = model.encode(x)
            logits = model.decode_logits(mu)
            sums["recon"] += float(F.binary_cross_entropy_with_logits(logits, x, reduction="sum"))
            sums["kl"] += float((0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)).sum())
            if model.harmony_head is not None:
                from .model import bar_chroma_targets
                target = bar_chroma_targets(x, grid)
                pred = F.log_softmax(model.harmony_logits(mu), dim=1)
                sums["harmony"] += float(-(target * pred).sum())
            guess = logits > 0
            truth = x > 0.5
            sums["correct"] += float((guess == truth).float().sum())
            play_g = guess.view(-1, grid.steps, grid.pitches, 2)[..., 0]
            play_t = truth.view(-1, grid.steps, grid.pitches, 2)[..., 0]
            sums["tp"] += float((play_g & play_t).sum())
            sums["fp"] += float((play_g & ~play_t).sum())
            sums["fn"] += float((~play_g & play_t).sum())
            mus.append(mu.numpy())
    n = len(bars)
    beta = model.config.beta
    f1 = 2 * sums["tp"] / max(1.0, 2 * sums["tp"] + sums["fp"] + sums["fn"])
    out = {"recon": sums["recon"] / n, "kl": sums["kl"] / n, "harmony": sums["harmony"] / n,
           "cell_accuracy": sums["correct"] / (n * x_all.shape[1]), "note_f1": f1,
           "active_dims": active_dims(np.concatenate(mus))}
    out["loss"] = out["recon"] + beta * out["kl"]
    return out


def _optimizer_tensors(optimizer) -> tuple[dict, dict]:
    """Adam's state as named tensors plus a JSON-ready description (for resume files)."""
    state = optimizer.state_dict()
    tensors, meta = {}, {"param_groups": state["param_groups"], "state": {}}
    for idx, entry in state["state"].items():
        keys = []
        for key, value in entry.items():
            tensors[f"opt/{idx}/{key}"] = value
            keys.append(key)
        meta["state"][str(idx)] = keys
    return tensors, meta


def _restore_optimizer(optimizer, tensors: dict, meta: dict) -> None:
    state = {"param_groups": meta["param_groups"], "state": {}}
    for idx, keys in meta["state"].items():
        state["state"][int(idx)] = {k: tensors[f"opt/{idx}/{k}"] for k in keys}
    optimizer.load_state_dict(state)


class _WeightAverage:
    """Running sum of a model's weights (float64), for stochastic weight averaging."""

    def __init__(self) -> None:
        self.sums: dict = {}
        self.count = 0

    def add(self, model) -> None:
        for name, tensor in model.state_dict().items():
            value = tensor.detach().double()
            self.sums[name] = self.sums[name] + value if name in self.sums else value.clone()
        self.count += 1

    def state(self) -> dict:
        return {name: (total / self.count).float() for name, total in self.sums.items()}

    def tensors(self) -> dict:
        return {f"avg/{name}": total for name, total in self.sums.items()}

    def restore(self, extra: dict, count: int) -> None:
        self.sums = {k[len("avg/"):]: v.double() for k, v in extra.items() if k.startswith("avg/")}
        self.count = count if self.sums else 0


def _save_resume(path: Path, model, optimizer, generator, step: int, best: dict,
                 history: list[dict], best_state: dict | None, run: dict,
                 averaged: _WeightAverage) -> None:
    from .checkpoint import save_model

    opt_tensors, opt_meta = _optimizer_tensors(optimizer)
    extra = dict(opt_tensors)
    extra["generator_state"] = generator.get_state()
    for name, tensor in (best_state or {}).items():
        extra[f"best/{name}"] = tensor
    extra.update(averaged.tensors())
    info = {"resume": {"step": step, "best": best, "optimizer": opt_meta, "run": run,
                       "averaged": averaged.count},
            "history": history}
    save_model(path, model, info=info, kind="training-state", extra_tensors=extra)


def fit(data, config, *, seed: int = 0, steps: int = 20000, batch: int = 100,
        lr: float = 1e-3, val_fraction: float = 0.1, eval_every: int = 500,
        patience: int = 8, checkpoint: str | os.PathLike | None = None,
        checkpoint_every: int = 2000, resume: bool = False, progress: bool = True,
        average_from: int | None = None) -> FitResult:
    """Train a :class:`~qbdi_musicology.model.BarVAE` and return the best one.

    ``data``: a bar array ``(n, steps, pitches, 2)``, a :class:`TrainingData` or a corpus
    from :func:`qbdi_musicology.corpus.load_corpus`. ``steps`` mini-batches of ``batch`` bars
    with Adam (``lr``). Every ``eval_every`` steps the validation loss (whole held-out
    songs, ``val_fraction`` of them) is measured; after ``patience`` evaluations without
    improvement (and after the KL warm-up) training stops and the best weights are kept.
    ``checkpoint``: a path for the resumable training state, written every
    ``checkpoint_every`` steps; ``resume=True`` continues from it (same data and seed).

    ``average_from``: instead of keeping the weights of the best validation loss, average
    the weights seen at every evaluation from this step to the end (*stochastic weight
    averaging*); training then runs all ``steps``. The validation loss of a bar VAE is
    lowest early (the decoder then starts to memorise pop textures) while the chord pathway
    is still settling, and any single step's weights differ from their neighbours' by seed
    noise; the average keeps the shared part.

    Example: ``fit(bars, ModelConfig(latent=16), seed=3, steps=200).model``.
    """
    import torch

    from .model import BarVAE

    if steps < 1 or batch < 1 or lr <= 0:
        raise ParameterError(f"steps={steps}, batch={batch}, lr={lr}: all must be positive")
    if average_from is not None and not (0 <= average_from <= steps):
        raise ParameterError(f"average_from={average_from} must lie between 0 and steps={steps}")
    data = as_training_data(data)
    grid: Grid = config.grid
    expected = (grid.steps, grid.pitches, 2)
    if data.bars.ndim != 4 or tuple(data.bars.shape[1:]) != expected:
        raise InputError(f"training bars of shape {tuple(data.bars.shape)} do not fit the "
                         f"model grid {expected}; load the corpus with the model's grid")
    if len(data.bars) < 2:
        raise InputError(f"corpus {data.corpus_name!r} has {len(data.bars)} bar(s); "
                         f"training needs at least 2")
    split_rng = np.random.default_rng(seed)
    train_mask, val_mask, val_names = split_by_piece(data, val_fraction, split_rng)
    train_bars = prepare_bars(data, config, train_mask, augment=True)
    val_bars = prepare_bars(data, config, val_mask, augment=False)
    x_train = torch.from_numpy(train_bars.reshape(len(train_bars), -1).astype(np.uint8))
    log.info("training on %d bars (%d after transposition), validating on %d bars of %d pieces",
             int(train_mask.sum()), len(train_bars), len(val_bars), len(val_names))

    # The CPU kernels used here (dense matmul, ReLU, Adam) are deterministic for a fixed
    # thread count; torch.use_deterministic_algorithms is not needed (and costs seconds of
    # imports).
    generator = torch.Generator().manual_seed(int(seed))
    model = BarVAE(config)
    _init_weights(model, generator)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history: list[dict] = []
    best = {"val_loss": math.inf, "step": 0}
    best_state: dict | None = None
    start_step = 0
    run = {"seed": int(seed), "steps": int(steps), "batch": int(batch), "lr": float(lr),
           "val_fraction": float(val_fraction), "n_train_bars": int(len(train_bars)),
           "corpus": data.corpus_name, "fingerprint": data.fingerprint,
           "average_from": average_from}
    ckpt_path = Path(checkpoint) if checkpoint else None
    averaged = _WeightAverage()
    if resume and ckpt_path is not None and ckpt_path.exists():
        start_step, best, history, best_state = _load_resume(ckpt_path, model, optimizer,
                                                             generator, run, averaged)
        log.info("resumed from %s at step %d", ckpt_path, start_step)

    bad_evals = 0
    stopped_early = False
    t0 = time.perf_counter()
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=steps, initial=start_step, unit="step", desc="training",
                   dynamic_ncols=True)
    step = start_step
    try:
        model.train()
        while step < steps:
            idx = torch.randint(len(x_train), (batch,), generator=generator)
            x = x_train[idx].float()
            terms = model.loss(x, step=step, generator=generator, noisy=True)
            optimizer.zero_grad(set_to_none=True)
            terms.total.backward()
            optimizer.step()
            step += 1
            if bar is not None:
                bar.update(1)
                if step % 50 == 0:
                    bar.set_postfix(loss=f"{terms.total.item():.1f}",
                                    recon=f"{terms.recon.item():.1f}",
                                    kl=f"{terms.kl.item():.1f}")
            if step % eval_every == 0 or step == steps:
                model.eval()
                record = {"step": step, "train_loss": terms.total.item(),
                          "train_recon": terms.recon.item(), "train_kl": terms.kl.item()}
                if len(val_bars):
                    v = evaluate_bars(model, val_bars)
                    record.update({f"val_{k}": val for k, val in v.items()})
                    score = v["loss"]
                else:
                    score = terms.total.item()
                history.append(record)
                if average_from is not None and step >= average_from:
                    averaged.add(model)
                warmed = step >= config.kl_anneal_steps
                if score < best["val_loss"] - 1e-4 or not warmed:
                    best = {"val_loss": score, "step": step}
                    if average_from is None:  # averaged runs keep the average instead
                        best_state = {k: v.detach().clone()
                                      for k, v in model.state_dict().items()}
                    bad_evals = 0
                else:
                    bad_evals += 1
                model.train()
                if warmed and bad_evals >= patience and average_from is None:
                    stopped_early = True
                    log.info("early stop at step %d (best %d)", step, best["step"])
                    break
            if ckpt_path is not None and step % checkpoint_every == 0 and step < steps:
                _save_resume(ckpt_path, model, optimizer, generator, step, best, history,
                             best_state, run, averaged)
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - t0
    if averaged.count:
        model.load_state_dict(averaged.state())
    elif best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    final_val = evaluate_bars(model, val_bars) if len(val_bars) else {}
    final_train = evaluate_bars(model, prepare_bars(data, config, train_mask, augment=False))
    info = {
        "corpus": {"name": data.corpus_name, "fingerprint": data.fingerprint,
                   "pieces": len(data.names), "bars": int(len(data.bars)),
                   "validation_pieces": val_names},
        "seed": int(seed), "steps": int(step), "best_step": int(best["step"]),
        "averaged_from": average_from, "averaged_weights": int(averaged.count),
        "batch": int(batch), "lr": float(lr), "train_seconds": round(seconds, 1),
        "steps_per_second": round((step - start_step) / max(seconds, 1e-9), 1),
        "final_losses": {"val_loss": final_val.get("loss"), "val_recon": final_val.get("recon"),
                         "val_kl": final_val.get("kl"), "val_note_f1": final_val.get("note_f1"),
                         "val_cell_accuracy": final_val.get("cell_accuracy"),
                         "train_loss": final_train.get("loss"),
                         "train_note_f1": final_train.get("note_f1")},
        "active_dims": final_train.get("active_dims"),
    }
    return FitResult(model=model, history=history, info=info, steps_done=step, seconds=seconds,
                     stopped_early=stopped_early, val_pieces=val_names)


def _load_resume(path: Path, model, optimizer, generator, run: dict,
                 averaged: "_WeightAverage"):
    from .checkpoint import load_model
    from .errors import ModelError

    loaded = load_model(path)
    if loaded.header.get("kind") != "training-state":
        raise ModelError(f"{path} is a finished model, not a training state; "
                         f"give another --out or drop --resume")
    if loaded.config != model.config:
        raise ModelError(f"{path} was written for another model configuration; "
                         f"delete it or train without --resume")
    saved_run = loaded.info["resume"]["run"]
    for key in ("seed", "batch", "corpus", "fingerprint", "n_train_bars", "average_from"):
        if saved_run.get(key) != run.get(key):
            raise ModelError(f"{path}: training state has {key}={saved_run.get(key)!r} but "
                             f"this run has {run.get(key)!r}; resume with the same settings")
    model.load_state_dict(loaded.model.state_dict())
    extra = loaded.extra_tensors
    _restore_optimizer(optimizer, extra, loaded.info["resume"]["optimizer"])
    generator.set_state(extra["generator_state"])
    best_state = {k[len("best/"):]: v for k, v in extra.items() if k.startswith("best/")} or None
    resume = loaded.info["resume"]
    averaged.restore(extra, int(resume.get("averaged", 0)))
    return int(resume["step"]), resume["best"], loaded.info.get("history", []), best_state


def without_songs(data: TrainingData, songs: Sequence[str]) -> TrainingData:
    """``data`` minus every piece of the named songs (e.g. the evaluation's held-out pop)."""
    drop = {s.strip().lower() for s in songs if s.strip()}
    if not drop:
        return data
    keep_piece = np.array([song_of(n) not in drop for n in data.names])
    keep_bar = keep_piece[data.pieces]
    old_to_new = np.cumsum(keep_piece) - 1
    names = [n for n, k in zip(data.names, keep_piece) if k]
    return TrainingData(bars=data.bars[keep_bar], pieces=old_to_new[data.pieces[keep_bar]],
                        names=names, corpus_name=data.corpus_name,
                        fingerprint=data.fingerprint)


#: Named recipes. ``pop-harmony`` is the shipped default (see docs/model.md for why);
#: ``paper`` is Dubnov's 2019 model (500-dimensional latent, no harmony part).
PRESETS: dict[str, dict] = {
    "pop-harmony": {
        "config": {"latent": 32, "harmony_dims": 12, "harmony_weight": 20.0,
                   "transpose": "all12", "encoder_chroma": True,
                   "harmony_swap_weight": 20.0, "channel_mean": "tonic"},
        "steps": 8000, "average_last": 5000, "seed": 1, "corpus": "pop-music-midi",
        "hold_out": ("Clocks", "Dancing Queen", "Rolling In The Deep", "Viva La Vida",
                     "Someone Like You"),
        "description": "pop bars in all 12 keys; 12 of 32 latent dimensions carry the "
                       "bar's chord through the channel, and fall back to the query's "
                       "tonic chord at low rates",
    },
    "pop-harmony-mix": {
        "config": {"latent": 32, "harmony_dims": 12, "harmony_weight": 20.0,
                   "transpose": "all12", "encoder_chroma": True,
                   "harmony_swap_weight": 20.0, "harmony_mix": True},
        "steps": 8000, "seed": 1, "corpus": "pop-music-midi",
        "hold_out": ("Clocks", "Dancing Queen", "Rolling In The Deep", "Viva La Vida",
                     "Someone Like You"),
        "description": "as pop-harmony, and blends of harmony codes decode to blended chords",
    },
    "paper": {
        "config": {"latent": 500, "transpose": "none"},
        "steps": 20000, "seed": 1, "corpus": "pop-music-midi", "hold_out": (),
        "description": "Dubnov 2019: 2496-500-500 VAE, BCE + KL, no transposition",
    },
}


def _variant(base: str, description: str, **config) -> dict:
    """A recipe that changes only some of another's model options."""
    recipe = copy.deepcopy(PRESETS[base])
    recipe["config"].update(config)
    recipe["description"] = description
    return recipe


PRESETS["pop-harmony-robust"] = _variant(
    "pop-harmony",
    "as pop-harmony, and the decoder must play the harmony part's triad over any texture "
    "code (half of the swapped textures drawn from the prior; the swap target sharpened "
    "toward the bar's triad)",
    swap_prior_texture=0.5, swap_target="triad")
PRESETS["pop-harmony-chroma"] = _variant(
    "pop-harmony",
    "as pop-harmony, with the harmony part computed from the bar's chroma alone (same "
    "pitch-class profile, same harmony code, however voiced)",
    harmony_encoder="chroma")
PRESETS["pop-harmony-chroma-kl2"] = _variant(
    "pop-harmony-chroma",
    "as pop-harmony-chroma, with the harmony part's KL weighted twice: at low rates the "
    "channel sends the texture first and the harmony falls back to the tonic",
    harmony_beta=2.0)
PRESETS["pop-harmony-chroma-kl4"] = _variant(
    "pop-harmony-chroma",
    "as pop-harmony-chroma-kl2, with the harmony part's KL weighted four times",
    harmony_beta=4.0)


def config_from_preset(name: str, **overrides):
    """The :class:`~qbdi_musicology.model.ModelConfig` of a preset, with overrides."""
    from .model import ModelConfig

    if name not in PRESETS:
        raise ParameterError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return ModelConfig(**{**PRESETS[name]["config"], **overrides})


def training_data_for(corpus, hold_out: Sequence[str] = ()) -> TrainingData:
    """A corpus as :class:`TrainingData`, minus the held-out songs."""
    return without_songs(as_training_data(corpus), hold_out)


def preset_fingerprint(name: str) -> str:
    """sha256 (12 hex digits) of a preset's recipe: model config, steps, averaging, corpus
    and held-out songs. Models of the same preset and seed made from the same recipe share
    it; edit the preset and the fingerprint changes."""
    import hashlib
    import json

    if name not in PRESETS:
        raise ParameterError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    recipe = {k: v for k, v in PRESETS[name].items() if k != "description"}
    text = json.dumps(recipe, sort_keys=True, default=list)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def train_preset(name: str, out: str | os.PathLike, *, seed: int | None = None,
                 corpus: str | None = None, steps: int | None = None, threads: int = 2,
                 overrides: dict | None = None, hold_out: Sequence[str] | None = None,
                 average_from: int | None = None, keep_best: bool = False,
                 batch: int = 100, lr: float = 1e-3, resume: bool = False,
                 checkpoint_every: int = 1000, progress: bool = True) -> dict:
    """Train a named recipe (:data:`PRESETS`) and write the model file ``out``.

    ``seed``, ``corpus``, ``steps`` and ``hold_out`` default to the preset's; ``overrides``
    change model config fields. The preset's weight averaging (``average_last``) applies
    unless ``average_from`` or ``keep_best`` says otherwise. The same arguments and thread
    count give the same file, byte for byte. Returns the model's ``info`` (seconds, losses).
    Example: ``train_preset("pop-harmony", "pop-s2.qbdi", seed=2, threads=1)``.
    """
    import torch

    from .checkpoint import save_model
    from .corpus import load_corpus

    out = Path(out)
    if out.suffix != ".qbdi":
        raise ParameterError(f"--out {out}: model files end in .qbdi")
    if threads < 1:
        raise ParameterError(f"--threads {threads} must be >= 1")
    if name not in PRESETS:
        raise ParameterError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    preset = PRESETS[name]
    config = config_from_preset(name, **(overrides or {}))
    steps = steps or preset["steps"]
    seed = preset["seed"] if seed is None else seed
    hold_out = preset.get("hold_out", ()) if hold_out is None else list(hold_out)
    torch.set_num_threads(threads)
    bars = load_corpus(corpus or preset["corpus"], config.grid)
    data = training_data_for(bars, hold_out)
    state = out.with_name(out.name + ".training")
    if average_from is None and preset.get("average_last"):
        average_from = max(0, steps - preset["average_last"])
    if keep_best:
        average_from = None
    if average_from is not None and not (0 <= average_from <= steps):
        raise ParameterError(f"--average-from {average_from} must lie between 0 and the "
                             f"{steps} training steps")
    result = fit(data, config, seed=seed, steps=steps, batch=batch, lr=lr,
                 checkpoint=state, checkpoint_every=checkpoint_every, resume=resume,
                 average_from=average_from, progress=progress)
    info = dict(result.info)
    info["preset"] = name
    info["preset_fingerprint"] = preset_fingerprint(name) if not overrides else ""
    info["hold_out"] = list(hold_out)
    info["description"] = preset.get("description", "")
    save_model(out, result.model, info=info)
    if state.exists():
        state.unlink()
    return info
