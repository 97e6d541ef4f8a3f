"""The paper-reproduction script end to end, with a tiny training run and one query."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pandas as pd
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "analyses" / "reproduce_paper.py"


def _script():
    spec = importlib.util.spec_from_file_location("reproduce_paper", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rate_and_number_parsing():
    script = _script()
    assert script.parse_rates("0,256,inf,32,256") == [math.inf, 256.0, 32.0, 0.0]
    assert script.parse_numbers("1-3,5") == [1, 2, 3, 5]
    from qbdi_musicology.errors import ParameterError
    with pytest.raises(ParameterError):
        script.parse_rates("-8")


@pytest.mark.slow  # about 45 s on 2 busy cores (a 20-step training and two sweeps, twice)
def test_tiny_reproduction(tmp_path, shared_data):
    """Visions fugitives no. 1 through a 20-step paper model and the shipped model at 0 and inf.

    Musical facts: at 0 bits/bar every bar receives the same code, so the improvisation has
    one chord throughout (or is silent); at full rate the channel sends every latent
    dimension (500 in the paper's model, 32 in the shipped one); the query's own tonic share
    does not depend on the model.
    """
    script = _script()
    out = tmp_path / "paper"
    argv = ["--out", str(out), "--steps", "20", "--visions", "1", "--chorales", "",
            "--rates", "0,inf", "--quiet"]
    assert script.main(argv) == 0
    model_file = out / "paper-model.qbdi"
    first_model = model_file.read_bytes()
    rows = pd.read_csv(out / "per_query.csv")
    assert sorted(rows["model"].unique()) == ["paper", "pop-harmony"]
    assert set(rows["query"]) == {"vf_no1"}
    assert len(rows) == 4
    at_zero = rows[rows["rate"] == 0]
    assert (at_zero["distinct_chords"] <= 1).all()
    full = rows[rows["rate"] == math.inf].set_index("model")
    assert full.loc["paper", "dims_with_bits"] == 500
    assert full.loc["pop-harmony", "dims_with_bits"] == 32
    assert rows["query_tonic_share"].nunique() == 1
    # The drift batch's measures are joined on every row.
    assert rows["collisions_per_bar"].between(0, 1).all()
    assert rows["query_ir_max"].notna().all()
    summary_md = (out / "summary.md").read_text()
    assert "## Model `paper`" in summary_md and "## Model `pop-harmony`" in summary_md
    assert "collisions per bar" in summary_md
    first_summary = (out / "summary.csv").read_text()

    # Run again: the model is reused (not retrained), the finished batch work is skipped,
    # and the measured table is the same.
    assert script.main(argv) == 0
    assert model_file.read_bytes() == first_model
    assert (out / "summary.csv").read_text() == first_summary
