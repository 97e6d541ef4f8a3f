"""The channel on a real query through a model, and the ``qbdi sweep`` command."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from qbdi_musicology.channel import ChannelOptions
from qbdi_musicology.cli import main

RATES = [0.0, 8.0, 32.0, 128.0, 256.0, 512.0, math.inf]
QUERY = "corpus:bach-chorales/bwv66.6"
TRAINING_CHORALES = ["bwv347", "bwv153.1", "bwv86.6", "bwv267", "bwv281", "bwv66.6"]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    """The shipped default model; where none is shipped yet, a small one trained here."""
    from qbdi_musicology import checkpoint

    try:
        return checkpoint.resolve_model_path(None)
    except Exception:
        pass
    import torch
    from music21 import corpus

    from qbdi_musicology.model import ModelConfig
    from qbdi_musicology.pianoroll import score_to_bars
    from qbdi_musicology.train import fit

    torch.set_num_threads(1)
    bars = np.concatenate([score_to_bars(corpus.parse(n)) for n in TRAINING_CHORALES])
    result = fit(bars, ModelConfig(hidden=64, latent=8), seed=0, steps=300, batch=32,
                 progress=False, eval_every=100)
    path = tmp_path_factory.mktemp("model") / "chorales-tiny.qbdi"
    return checkpoint.save_model(path, result.model, info=result.info)


@pytest.fixture(scope="module")
def swept(model_path):
    from qbdi_musicology import checkpoint, generate

    loaded = checkpoint.load_model(model_path)
    score = generate.load_query(QUERY)
    return loaded, score, generate.sweep(score, loaded, RATES, seed=4)


def test_latent_distortion_falls_as_the_rate_rises(swept):
    _, _, results = swept
    channels = [channel for _, _, channel in results]
    distortion = [c.mean_distortion for c in channels]
    assert all(a >= b for a, b in zip(distortion, distortion[1:])), distortion
    assert distortion[0] > 0 and distortion[-1] == 0
    assert channels[0].relative_distortion == pytest.approx(1.0)
    # the chorale's latents vary in at least one dimension, and 8 bits reach some of them
    assert channels[1].active_dimensions >= 1
    dims = [c.active_dimensions for c in channels]
    assert dims == sorted(dims)


def test_rate_zero_every_bar_decodes_from_the_same_latent(swept):
    from qbdi_musicology.generate import decode_bars

    loaded, _, results = swept
    rate, score, channel = results[0]
    assert rate == 0
    assert np.all(channel.z_hat == channel.z_hat[0])
    bars = decode_bars(loaded.model, channel.z_hat)
    assert all(np.array_equal(bar, bars[0]) for bar in bars)
    # in the written score, every full bar holds the same notes at the same beats; the
    # query's upbeat and short last bar are the end and the start of that bar
    part = score.parts[0]
    measures = list(part.getElementsByClass("Measure"))
    assert len(measures) == channel.n_bars
    full = [m for m in measures if m.duration.quarterLength == m.barDuration.quarterLength]
    contents = [sorted((float(n.offset), p.midi, float(n.quarterLength))
                       for n in m.notes for p in n.pitches) for m in full]
    assert len(full) >= channel.n_bars - 2 and all(c == contents[0] for c in contents)
    first = measures[0]
    if first.paddingLeft:  # a pickup: the last beats of the same bar
        shift = float(first.paddingLeft)
        tail = sorted((float(n.offset) + shift, p.midi) for n in first.notes
                      for p in n.pitches)
        assert tail == sorted((o, m) for o, m, d in contents[0] if o >= shift) or tail == []


def test_full_rate_hears_the_encoder_exactly(swept):
    loaded, score, results = swept
    rate, _, channel = results[-1]
    assert math.isinf(rate)
    from qbdi_musicology.generate import encode

    np.testing.assert_array_equal(channel.z_hat, encode(score, loaded).mu)


def test_rate_is_in_title_and_metadata(swept):
    from qbdi_musicology.musicxml import score_fields

    for rate, score, _ in swept[2]:
        label = "inf" if math.isinf(rate) else f"{rate:g} bits/bar"
        assert f"R = {label}" in score.metadata.title
        assert float(score_fields(score)["rate"]) == rate


def _run_sweep(tmp_path, model_path, *extra):
    out = tmp_path / "sweep"
    code = main(["sweep", QUERY, "--rates", "0,8,32,128,256,512,inf", "--out", str(out),
                 "--model", str(model_path), "--seed", "2", *extra])
    return code, out


def test_cli_sweep_writes_one_valid_score_per_rate_and_the_csv(tmp_path, model_path,
                                                                assert_valid_musicxml):
    from music21 import converter

    from qbdi_musicology.musicxml import read_musicxml_fields

    code, out = _run_sweep(tmp_path, model_path)
    assert code == 0
    tags = ["R0", "R8", "R32", "R128", "R256", "R512", "Rinf"]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"bwv66.6_{t}.musicxml" for t in tags] + [f"bwv66.6_{t}.mid" for t in tags]
        + ["bwv66.6_channel.csv"])
    for tag, rate in zip(tags, RATES):
        path = out / f"bwv66.6_{tag}.musicxml"
        assert_valid_musicxml(path)
        fields = read_musicxml_fields(path)
        assert float(fields["rate"]) == rate and fields["seed"] == "2"
        # the shipped recipe falls back to the tonic unless --mean says otherwise
        assert "variance=query, mean=tonic" in fields["channel"]
        midi = converter.parse(out / f"bwv66.6_{tag}.mid")
        assert len(midi.flatten().notes) > 0
    with open(out / "bwv66.6_channel.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [float(r["rate_bits"]) for r in rows] == RATES
    assert [r["musicxml"] for r in rows] == [f"bwv66.6_{t}.musicxml" for t in tags]
    distortion = [float(r["mean_distortion"]) for r in rows]
    assert distortion == sorted(distortion, reverse=True) and distortion[-1] == 0
    assert int(rows[0]["dims_with_bits"]) == 0


def test_cli_sweep_is_reproducible_and_takes_the_channel_options(tmp_path, model_path):
    code, out = _run_sweep(tmp_path / "a", model_path, "--variance", "posterior",
                           "--mean", "prior", "--sample", "--no-midi")
    assert code == 0
    code, again = _run_sweep(tmp_path / "b", model_path, "--variance", "posterior",
                             "--mean", "prior", "--sample", "--no-midi")
    for path in sorted(out.iterdir()):
        assert path.read_bytes() == (again / path.name).read_bytes(), path.name
    rows = list(csv.DictReader(open(out / "bwv66.6_channel.csv", newline="")))
    assert {r["variance_option"] for r in rows} == {"posterior"}
    assert {r["mean_option"] for r in rows} == {"prior"}
    assert {r["sample"] for r in rows} == {"True"}
    assert not list(out.glob("*.mid"))


@pytest.mark.parametrize("args, words", [
    (["--rates", "0,-8"], ">= 0"),
    (["--rates", ","], "no rates"),
    (["--rates", "8,8"], "twice"),
    (["--rates", "eight"], "not a number"),
    (["--seed", "-1"], "seed"),
])
def test_cli_sweep_bad_input_is_one_line_and_writes_nothing(tmp_path, model_path, capsys,
                                                            args, words):
    out = tmp_path / "sweep"
    code = main(["sweep", QUERY, "--out", str(out), "--model", str(model_path), *args])
    err = capsys.readouterr().err
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1
    assert not out.exists() or not any(out.iterdir())


def test_cli_sweep_unknown_option_value_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["sweep", QUERY, "--out", str(tmp_path), "--variance", "notebook"])
    assert exc.value.code == 2
    assert "query" in capsys.readouterr().err


@pytest.mark.musescore
def test_cli_sweep_files_open_in_musescore(tmp_path, model_path, musescore):
    code, out = _run_sweep(tmp_path, model_path, "--rates", "0,32,inf", "--no-midi")
    assert code == 0
    for path in sorted(out.glob("*.musicxml")):
        result = musescore(path, tmp_path / f"{path.stem}.png")
        assert result.ok and not result.warnings, f"{path.name}: {result}"
        assert result.pages >= 1


def test_the_shipped_model_drifts_to_the_tonic_by_default():
    """bwv66.6 (F# minor) through the shipped model with its own channel options: at 0
    bits/bar every bar is an F# minor triad; at full rate the harmony is the chorale's own,
    with several chords and not mostly the tonic."""
    from music21 import corpus

    from qbdi_musicology.analysis.chroma import bars_chroma, best_triad, triad_name
    from qbdi_musicology.checkpoint import load_model
    from qbdi_musicology.generate import default_channel, sweep
    from qbdi_musicology.pianoroll import score_to_bars

    model = load_model()
    assert default_channel(model).mean == "tonic"
    results = sweep(corpus.parse("bach/bwv66.6"), model, [math.inf, 0], seed=0)
    chords = {rate: [triad_name(i) for i in best_triad(bars_chroma(
        score_to_bars(score, model.grid), model.grid))] for rate, score, _ in results}
    assert chords[0.0] == ["F#m"] * 10
    assert len(set(chords[math.inf])) >= 4 and chords[math.inf].count("F#m") <= 3


def test_cli_query_takes_the_channel_mean(tmp_path):
    """`qbdi query --rate 0`: the shipped model's own fallback is the tonic (F# minor for
    bwv66.6) in every bar; `--mean query` writes the option into the score instead."""
    from music21 import converter

    from qbdi_musicology.analysis.chroma import bars_chroma, best_triad, triad_name
    from qbdi_musicology.grid import DEFAULT_GRID
    from qbdi_musicology.musicxml import read_musicxml_fields
    from qbdi_musicology.pianoroll import score_to_bars

    tonic, average = tmp_path / "tonic.musicxml", tmp_path / "average.musicxml"
    assert main(["query", QUERY, "--rate", "0", "--out", str(tonic)]) == 0
    assert main(["query", QUERY, "--rate", "0", "--mean", "query", "--out", str(average)]) == 0
    bars = score_to_bars(converter.parse(tonic), DEFAULT_GRID)
    assert {triad_name(i) for i in best_triad(bars_chroma(bars, DEFAULT_GRID))} == {"F#m"}
    assert "mean=tonic" in read_musicxml_fields(tonic)["channel"]
    assert "mean=query" in read_musicxml_fields(average)["channel"]
