"""A tiny bar model of block chords, trained in seconds, shared by the model tests.

Three "songs" of C, F, G and A minor triads (a verse of quarter-note pulses and a chorus of
whole notes each) are enough for a model with a 3-dimension harmony part to tell the four
chords apart, so the tests can ask musical questions of it (does rate 0 forget which bar had
which chord? is the tonic chosen?).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from qbdi_musicology.checkpoint import load_model, save_model
from qbdi_musicology.grid import DEFAULT_GRID
from qbdi_musicology.model import ModelConfig
from qbdi_musicology.train import TrainingData, fit

G = DEFAULT_GRID
TRIADS = {"C": (48, 64, 67, 72), "F": (53, 65, 69, 72), "G": (43, 62, 67, 71),
          "Am": (45, 64, 69, 72)}


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """Tiny models train fastest on one thread (and do not fight other tests for cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def block(pitches, pulses=True):
    """A bar of ``pitches`` struck on every beat (``pulses``) or held as one whole chord."""
    bar = np.zeros((G.steps, G.pitches, 2), dtype=bool)
    rows = [p - G.low_pitch for p in pitches]
    for start in range(0, G.steps, 4 if pulses else G.steps):
        bar[start:start + (3 if pulses else G.steps), rows, 0] = True
        bar[start, rows, 1] = True
    return bar


def tiny_chord_model(folder: Path, **recipe):
    """Train the block-chord model (seed 2, 600 steps), save it in ``folder``, load it back.

    ``recipe``: more ``ModelConfig`` fields (e.g. the shipped recipe's harmony-swap loss).
    """
    bars, pieces, names = [], [], []
    for s, order in enumerate((["C", "Am", "F", "G"], ["C", "F", "G", "C"], ["Am", "F", "C", "G"])):
        for part in ("Verse", "Chorus"):
            piece = [block(TRIADS[order[b % 4]], pulses=part == "Verse") for b in range(8)]
            pieces.append(np.full(8, len(names)))
            names.append(f"Song {s} - {part}")
            bars.extend(piece)
    data = TrainingData(np.stack(bars), np.concatenate(pieces), names, "synthetic")
    config = ModelConfig(hidden=48, latent=6, harmony_dims=3, harmony_weight=5.0, **recipe)
    result = fit(data, config, seed=2, steps=600, batch=24, eval_every=200, progress=False)
    path = save_model(Path(folder) / "tiny.qbdi", result.model, info=result.info)
    return load_model(path)
