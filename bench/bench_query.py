"""Query speed of the shipped model: bars per second, with and without score conversion.

``model only``: encode + channel + decode of bar arrays; ``score to score``: the whole
``generate.query`` (music21 reading of the query and writing of the improvisation).
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from qbdi_musicology.channel import transmit
from qbdi_musicology.checkpoint import load_model
from qbdi_musicology.generate import decode_bars, encode_bars, query


def main():
    torch.set_num_threads(1)
    from music21 import corpus

    loaded = load_model()
    net = loaded.model
    score = corpus.parse("bach/bwv66.6")
    from qbdi_musicology.pianoroll import score_to_bars
    bars = score_to_bars(score, loaded.grid)
    many = np.concatenate([bars] * 50)  # 500 bars
    t0 = time.perf_counter()
    for rate in (math.inf, 32.0, 0.0):
        mu, logvar = encode_bars(net, many)
        decode_bars(net, transmit(mu, logvar, rate, seed=0).z_hat)
    model_bps = 3 * len(many) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    repeats = 3
    for seed in range(repeats):
        query(score, loaded, seed=seed, rate=32)
    score_bps = repeats * len(bars) / (time.perf_counter() - t0)
    print(f"model {loaded.model_id}")
    print(f"  model only (encode + channel + decode): {model_bps:8.0f} bars/s")
    print(f"  score to score (generate.query):         {score_bps:8.1f} bars/s")
    print(f"  ratio model-only / score-to-score:       {model_bps / score_bps:8.0f}x")


if __name__ == "__main__":
    main()
