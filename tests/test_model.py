"""The bar VAE: sizes, loss terms, chroma targets and key normalisation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from qbdi_musicology.errors import ParameterError
from qbdi_musicology.grid import DEFAULT_GRID
from qbdi_musicology.model import (BarVAE, ModelConfig, bar_chroma_targets, key_of_chroma,
                                   normalising_shift)


def chord_bar(pitches, grid=DEFAULT_GRID):
    bar = np.zeros((grid.steps, grid.pitches, 2), dtype=bool)
    for p in pitches:
        bar[:, p - grid.low_pitch, 0] = True
        bar[0, p - grid.low_pitch, 1] = True
    return bar


def test_paper_sizes():
    model = BarVAE(ModelConfig(latent=500))
    assert model.enc_hidden.in_features == 2496 and model.enc_hidden.out_features == 500
    assert model.dec_out.out_features == 2496 and model.enc_mu.out_features == 500


def test_config_round_trip_and_errors():
    config = ModelConfig(latent=16, harmony_dims=4, harmony_weight=2.0, transpose="all12")
    assert ModelConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ParameterError):
        ModelConfig(latent=4, harmony_dims=5)
    with pytest.raises(ParameterError):
        ModelConfig(transpose="sideways")
    with pytest.raises(ParameterError):
        ModelConfig.from_dict({**config.to_dict(), "from_the_future": 1})


def test_chroma_target_of_a_c_major_triad():
    x = torch.from_numpy(chord_bar([48, 64, 67]).reshape(1, -1).astype(np.float32))
    target = bar_chroma_targets(x, DEFAULT_GRID)[0].numpy()
    assert np.allclose(target[[0, 4, 7]], 1 / 3) and target.sum() == pytest.approx(1.0)


def test_loss_terms_are_finite_and_positive():
    model = BarVAE(ModelConfig(hidden=16, latent=4, harmony_dims=2, harmony_weight=1.0,
                               free_bits=0.1, kl_anneal_steps=10, harmony_swap_weight=2.0))
    x = torch.from_numpy(np.stack([chord_bar([60, 64, 67]), chord_bar([57, 60, 64])])
                         .reshape(2, -1).astype(np.float32))
    terms = model.loss(x, step=5, generator=torch.Generator().manual_seed(0))
    assert terms.recon > 0 and terms.kl >= 0 and terms.harmony > 0
    assert torch.isfinite(terms.total) and terms.swap > 0
    assert model.kl_weight(5) == pytest.approx(0.5) and model.kl_weight(20) == 1.0


def test_key_of_chroma_follows_music21():
    c_major = np.zeros(12)
    c_major[[0, 4, 7]] = [4, 2, 3]
    assert key_of_chroma(c_major) == (0, "major")
    a_minor = np.zeros(12)
    a_minor[[9, 0, 4, 8]] = [4, 3, 3, 1]  # A, C, E and the leading note G#
    assert key_of_chroma(a_minor) == (9, "minor")


@pytest.mark.parametrize("key, shift", [((0, "major"), 0), ((7, "major"), 5), ((2, "major"), -2),
                                        ((6, "major"), 6), ((4, "minor"), 5),
                                        ((11, "minor"), -2), ((9, "minor"), 0)])
def test_normalising_shift_reaches_c_or_a(key, shift):
    assert normalising_shift(*key) == shift
    target = 0 if key[1] == "major" else 9
    assert (key[0] + shift) % 12 == target


def test_revoicing_moves_notes_by_octaves_only():
    model = BarVAE(ModelConfig(input_noise=0.6))
    bars = np.stack([chord_bar([48, 64, 67, 72]), chord_bar([45, 60, 64, 69])])
    x = torch.from_numpy(bars.reshape(2, -1).astype(np.float32))
    y = model.revoice(x, torch.Generator().manual_seed(3)).numpy().reshape(bars.shape)
    assert not np.array_equal(y, bars)  # something was re-voiced
    for before, after in zip(bars, y):
        pcs_before = {(r + DEFAULT_GRID.low_pitch) % 12 for r in np.flatnonzero(before[..., 0].any(0))}
        pcs_after = {(r + DEFAULT_GRID.low_pitch) % 12 for r in np.flatnonzero(after[..., 0].any(0))}
        assert pcs_after <= pcs_before  # octave moves and omissions, never a new pitch class


def test_decoder_reading_the_predicted_chroma_and_transposed_swap():
    """Two training options: the decoder reads the harmony head's chroma; transposed copies."""
    config = ModelConfig(hidden=16, latent=4, harmony_dims=2, harmony_weight=1.0,
                         decoder_chroma=True, transpose_swap_weight=1.0)
    model = BarVAE(config)
    assert model.dec_hidden.in_features == 4 + 12
    x = torch.from_numpy(np.stack([chord_bar([60, 64, 67]), chord_bar([57, 60, 64])])
                         .reshape(2, -1).astype(np.float32))
    terms = model.loss(x, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(terms.total) and terms.swap > 0
    for bad in ({"decoder_chroma": True}, {"transpose_swap_weight": 1.0}):
        with pytest.raises(ParameterError, match="needs harmony_dims"):
            ModelConfig(latent=4, **bad)


def test_shifted_pitches_keep_the_rhythm_and_move_the_chord():
    """Each bar moves by one interval in -5..+6: a C major triad becomes another triad."""
    from qbdi_musicology.analysis.chroma import bars_chroma, best_triad

    model = BarVAE(ModelConfig(hidden=8, latent=4, harmony_dims=2))
    bars = np.stack([chord_bar([60, 64, 67])] * 20)
    x = torch.from_numpy(bars.reshape(20, -1).astype(np.float32))
    moved = model.shift_pitches(x, torch.Generator().manual_seed(1)).numpy()
    moved = moved.reshape(bars.shape).astype(bool)
    roots = best_triad(bars_chroma(moved, DEFAULT_GRID))
    assert set(roots.tolist()) <= set(range(12)) and len(set(roots.tolist())) > 3
    assert np.array_equal(moved.sum(axis=(2, 3)), bars.sum(axis=(2, 3)))  # same notes per step


def test_the_channel_mean_a_model_asks_for():
    from qbdi_musicology.generate import default_channel

    assert ModelConfig().channel_mean == "query"
    model = BarVAE(ModelConfig(hidden=8, latent=4, harmony_dims=2, channel_mean="tonic"))
    assert default_channel(model).mean == "tonic"
    assert ModelConfig.from_dict(model.config.to_dict()).channel_mean == "tonic"
    with pytest.raises(ParameterError, match="channel_mean"):
        ModelConfig(channel_mean="dominant")
