"""The batch with the real task: model sweep, drift table, annotated MusicXML, report.

A tiny model is trained for a few hundred steps on six chorales (a real, if unskilled,
model); the shipped default model is used where it exists. These tests check the product
path end to end: every file validates, the table has the analysis columns, and a run
killed midway and resumed gives the same bytes as an uninterrupted one.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from processes import kill_once_written
from qbdi_musicology.batch import RESULT_NAME, query_dir, rate_file_name, run_batch

REPO = Path(__file__).resolve().parents[1]
QUERIES = ["corpus:bach-chorales/bwv66.6", "corpus:bach-chorales/bwv1.6",
           "corpus:bach-chorales/bwv2.6"]
RATES = (0.0, 32.0, math.inf)
DETERMINISTIC = ("drift_table.csv", "drift_table.parquet", "verdicts.csv", "summary.md")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> str:
    import torch

    from qbdi_musicology.checkpoint import save_model
    from qbdi_musicology.corpus import load_corpus
    from qbdi_musicology.model import ModelConfig
    from qbdi_musicology.train import fit

    torch.set_num_threads(1)
    corpus = load_corpus("bach-chorales", limit=6, progress=False)
    result = fit(corpus, ModelConfig(hidden=64, latent=8), seed=0, steps=200,
                 eval_every=100, progress=False)
    path = tmp_path_factory.mktemp("model") / "tiny.qbdi"
    save_model(path, result.model)
    return str(path)


def _run(out, model, **kw):
    return run_batch(QUERIES, out, rates=RATES, model=model, seed=5, progress=False,
                     render=False, **kw)


@pytest.mark.slow
def test_real_batch_writes_valid_annotated_scores(tiny_model, tmp_path, assert_valid_musicxml):
    summary = _run(tmp_path, tiny_model)
    assert not summary.failed, [r.error for r in summary.failed]
    table = pd.read_csv(tmp_path / "report" / "drift_table.csv")
    assert len(table) == len(QUERIES) * len(RATES)
    for column in ("chord_agreement", "tonic_share", "query_tonic_share", "key",
                   "active_dimensions"):
        assert column in table.columns
    # Rate 0 sends only the channel mean: every bar decodes from the same code, so the
    # latent variation is entirely lost and no dimension gets a bit.
    zero = table[table["rate"] == 0]
    assert (zero["relative_distortion"] == 1.0).all() and (zero["active_dimensions"] == 0).all()
    # bwv66.6 is in F-sharp minor (music21 agrees).
    assert table.loc[table["query_id"] == "bach-chorales_bwv66.6", "key"].str.lower() \
        .str.startswith("f#").all()
    for record in summary.records:
        for rate in RATES:
            assert_valid_musicxml(query_dir(tmp_path, record.query_id) / rate_file_name(rate))
        assert_valid_musicxml(query_dir(tmp_path, record.query_id) / "overview.musicxml")


@pytest.mark.slow
def test_real_batch_killed_and_resumed_equals_uninterrupted(tiny_model, tmp_path):
    whole = tmp_path / "whole"
    _run(whole, tiny_model)
    killed = tmp_path / "killed"
    code = ("import math\nfrom qbdi_musicology.batch import run_batch\n"
            f"run_batch({QUERIES!r}, {str(killed)!r}, rates=[0.0, 32.0, math.inf], "
            f"model={tiny_model!r}, seed=5, progress=False, render=False)\n")
    first = query_dir(killed, "bach-chorales_bwv66.6") / RESULT_NAME
    stderr = kill_once_written(code, first, timeout=300, cwd=REPO)
    assert first.exists(), stderr[-2000:]
    summary = _run(killed, tiny_model)
    assert summary.skipped >= 1
    for name in DETERMINISTIC:
        assert (killed / "report" / name).read_bytes() == (whole / "report" / name).read_bytes()
    for path in sorted((whole / "queries").rglob("*.musicxml")):
        assert (killed / path.relative_to(whole)).read_bytes() == path.read_bytes(), path


@pytest.mark.slow
def test_real_batch_two_jobs_equal_one(tiny_model, tmp_path):
    _run(tmp_path / "one", tiny_model, jobs=1)
    _run(tmp_path / "two", tiny_model, jobs=2)
    for name in DETERMINISTIC:
        assert (tmp_path / "one" / "report" / name).read_bytes() == \
            (tmp_path / "two" / "report" / name).read_bytes()
    one = sorted((tmp_path / "one" / "queries").rglob("*.musicxml"))
    assert one
    for path in one:
        twin = tmp_path / "two" / path.relative_to(tmp_path / "one")
        assert twin.read_bytes() == path.read_bytes(), path


def test_shipped_model_batch_on_one_chorale(tmp_path, assert_valid_musicxml):
    summary = run_batch(["corpus:bach-chorales/bwv66.6", "corpus:bach-chorales/bwv3.6"],
                        tmp_path, rates=(0.0, math.inf), progress=False, render=False,
                        overviews="first")
    assert not summary.failed, [r.error for r in summary.failed]
    # Only the first piece gets the (costly) drift overview score.
    assert not (query_dir(tmp_path, "bach-chorales_bwv3.6") / "overview.musicxml").exists()
    table = summary.table[summary.table["query_id"] == "bach-chorales_bwv66.6"].set_index("rate")
    # At rate 0 only the channel mean gets through: one chord for the whole piece.
    assert table.loc[0.0, "distinct_chords"] == 1
    assert table.loc[0.0, "active_dimensions"] == 0
    assert table.loc[math.inf, "relative_distortion"] == 0
    folder = query_dir(tmp_path, "bach-chorales_bwv66.6")
    for name in ("rate-000.musicxml", "rate-inf.musicxml", "overview.musicxml"):
        assert_valid_musicxml(folder / name)
    page = (tmp_path / "report" / "report.html").read_text()
    assert "rate-inf.musicxml" in page and "data:image/png;base64," in page
