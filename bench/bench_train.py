"""Training speed of the shipped recipe's model: steps per second at 1 and 2 CPU threads.

Runs ``fit`` for a few hundred steps of batch 100 on bars shaped like the pop corpus (random
sparse rolls with the corpus's density), so the number does not depend on the data folder.
Prints steps/s, the projected time of the shipped recipe, and the ratio to the paper-sized
model (latent 500).
"""

from __future__ import annotations

import sys

import numpy as np
import torch

from qbdi_musicology.grid import DEFAULT_GRID
from qbdi_musicology.train import PRESETS, TrainingData, config_from_preset, fit

STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 100
REPEATS = 3  # best of 3: the machine is shared, the fastest run is the least disturbed


def fake_corpus(n_bars=2000, density=0.012, seed=0):
    rng = np.random.default_rng(seed)
    bars = rng.random((n_bars, DEFAULT_GRID.steps, DEFAULT_GRID.pitches, 2)) < density
    bars[..., 0] |= bars[..., 1]
    pieces = np.repeat(np.arange(n_bars // 10), 10)
    return TrainingData(bars, pieces, [f"song {i}" for i in range(n_bars // 10)], "bench")


def steps_per_second(config, threads):
    torch.set_num_threads(threads)
    data = fake_corpus()
    best = 0.0
    for _ in range(REPEATS):
        result = fit(data, config, seed=0, steps=STEPS, eval_every=10**9, progress=False)
        best = max(best, result.info["steps_per_second"])
    return best


def main():
    preset = PRESETS["pop-harmony"]
    shipped = config_from_preset("pop-harmony", transpose="none", key_normalise=False)
    paper = config_from_preset("paper")
    print(f"training speed, best of {REPEATS} runs of {STEPS} steps of batch 100 "
          f"(2496 -> 500 -> latent)")
    rows = {}
    for name, config in (("shipped (latent %d)" % shipped.latent, shipped),
                         ("paper (latent 500)", paper)):
        for threads in (1, 2):
            sps = steps_per_second(config, threads)
            rows[(name, threads)] = sps
            print(f"  {name:22s} threads={threads}: {sps:7.1f} steps/s")
    best = max(v for (n, _), v in rows.items() if n.startswith("shipped"))
    minutes = preset["steps"] / best / 60
    print(f"shipped recipe: {preset['steps']} steps -> {minutes:.1f} min at {best:.1f} steps/s "
          f"(target < 15 min)")
    ratio = rows[(next(k for k, _ in rows if k.startswith("shipped")), 2)] / rows[("paper (latent 500)", 2)]
    print(f"ratio shipped / paper-size speed at 2 threads: {ratio:.2f}")


if __name__ == "__main__":
    main()
