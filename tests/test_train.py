"""Training: the loss falls, runs are reproducible and resumable, validation holds out songs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from qbdi_musicology.checkpoint import load_model, pack
from qbdi_musicology.grid import DEFAULT_GRID
from qbdi_musicology.model import ModelConfig
from qbdi_musicology.train import TrainingData, fit, song_of, split_by_piece, without_songs
from tiny_models import TRIADS

G = DEFAULT_GRID


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def textured_bar(pitches, texture):
    """A bar of ``pitches``: block whole notes (0), quarter-note pulses (1) or arpeggio (2)."""
    bar = np.zeros((G.steps, G.pitches, 2), dtype=bool)
    rows = [p - G.low_pitch for p in pitches]
    if texture == 0:
        bar[:, rows, 0] = True
        bar[0, rows, 1] = True
    elif texture == 1:
        for start in range(0, G.steps, 4):
            bar[start:start + 3, rows, 0] = True
            bar[start, rows, 1] = True
    else:
        for k, start in enumerate(range(0, G.steps, 2)):
            row = rows[k % len(rows)]
            bar[start:start + 2, row, 0] = True
            bar[start, row, 1] = True
    return bar


def synthetic_songs(n_songs=6):
    """Songs of 8 bars cycling I-vi-IV-V in C, with a verse and a chorus per song."""
    bars, pieces, names = [], [], []
    order = ["C", "Am", "F", "G"]
    for s in range(n_songs):
        for part in ("Verse", "Chorus"):
            texture = (s + (part == "Chorus")) % 3
            piece = [textured_bar(TRIADS[order[b % 4]], texture) for b in range(8)]
            pieces.append(np.full(len(piece), len(names)))
            names.append(f"Song {s} - {part}")
            bars.extend(piece)
    return TrainingData(np.stack(bars), np.concatenate(pieces), names, "synthetic", "abc")


TINY = ModelConfig(hidden=32, latent=6, harmony_dims=3, harmony_weight=5.0)


def test_training_lowers_the_loss():
    data = synthetic_songs()
    result = fit(data, TINY, seed=1, steps=300, batch=16, eval_every=100, progress=False)
    losses = [h["val_loss"] for h in result.history]
    assert losses[-1] < 0.7 * losses[0]
    assert result.info["final_losses"]["train_note_f1"] > 0.5


def test_same_seed_same_weights():
    data = synthetic_songs()
    a = fit(data, TINY, seed=3, steps=60, batch=16, eval_every=30, progress=False)
    b = fit(data, TINY, seed=3, steps=60, batch=16, eval_every=30, progress=False)
    c = fit(data, TINY, seed=4, steps=60, batch=16, eval_every=30, progress=False)
    pa = pack("bar-vae", TINY.to_dict(), dict(a.model.state_dict()))
    assert pa == pack("bar-vae", TINY.to_dict(), dict(b.model.state_dict()))
    assert pa != pack("bar-vae", TINY.to_dict(), dict(c.model.state_dict()))


def test_resume_continues_exactly(tmp_path):
    data = synthetic_songs()
    state = tmp_path / "m.qbdi.training"
    kw = dict(seed=5, steps=80, batch=16, eval_every=20, progress=False, patience=100,
              checkpoint=state, checkpoint_every=40)
    straight = fit(data, TINY, **kw)
    assert state.exists() and load_model(state).header["info"]["resume"]["step"] == 40
    resumed = fit(data, TINY, resume=True, **kw)
    for name, tensor in straight.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[name], tensor), name


def test_validation_holds_out_whole_songs():
    data = synthetic_songs()
    train, val, names = split_by_piece(data, 0.34, np.random.default_rng(0))
    songs_val = {song_of(n) for n in names}
    assert songs_val and all(song_of(data.names[p]) not in songs_val
                             for p in np.unique(data.pieces[train]))
    assert len(names) == 2 * len(songs_val)  # verse and chorus stay together


def test_without_songs_drops_both_parts():
    data = without_songs(synthetic_songs(), ["Song 1"])
    assert not any(n.startswith("Song 1 ") for n in data.names)
    assert len(data.bars) == 5 * 16 and data.pieces.max() == len(data.names) - 1


def test_all12_adds_every_key():
    from qbdi_musicology.train import prepare_bars

    data = synthetic_songs(1)
    config = ModelConfig(hidden=8, latent=2, transpose="all12")
    bars = prepare_bars(data, config, np.ones(len(data.bars), bool), augment=True)
    assert len(bars) == 12 * len(data.bars)


def test_bad_training_input():
    from qbdi_musicology.errors import InputError, ParameterError

    with pytest.raises(InputError):
        fit(np.zeros((5, 12, 78, 2), bool), TINY, steps=1, progress=False)
    with pytest.raises(ParameterError):
        fit(synthetic_songs(), TINY, steps=0, progress=False)



def test_weight_averaging_trains_every_step_and_resumes_exactly(tmp_path):
    """Averaging from step 40 of 100 (evaluations every 20): 4 weight sets, no early stop,
    and a run resumed from its state at step 60 ends with the same averaged weights."""
    from qbdi_musicology.errors import ParameterError

    data = synthetic_songs()
    state = tmp_path / "m.qbdi.training"
    kw = dict(seed=5, steps=100, batch=16, eval_every=20, progress=False, patience=1,
              average_from=40, checkpoint=state, checkpoint_every=60)
    straight = fit(data, TINY, **kw)
    assert straight.steps_done == 100 and not straight.stopped_early
    assert straight.info["averaged_weights"] == 4 and straight.info["averaged_from"] == 40
    assert load_model(state).header["info"]["resume"]["averaged"] == 2
    resumed = fit(data, TINY, resume=True, **kw)
    for name, tensor in straight.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[name], tensor), name
    last = fit(data, TINY, **{**kw, "average_from": None, "checkpoint": None})
    assert not all(torch.equal(last.model.state_dict()[n], t)
                   for n, t in straight.model.state_dict().items())
    with pytest.raises(ParameterError):
        fit(data, TINY, seed=5, steps=10, average_from=11, progress=False)
