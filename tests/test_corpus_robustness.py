"""A fixed sample of music21's corpus, every format, through read -> improvise -> annotate."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "analyses" / "corpus_robustness.py"


def _script():
    if "corpus_robustness" in sys.modules:
        return sys.modules["corpus_robustness"]
    spec = importlib.util.spec_from_file_location("corpus_robustness", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    # registered by name: its worker processes find the functions they are sent
    sys.modules["corpus_robustness"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_a_sample_of_300_corpus_scores_never_crashes(tmp_path, capsys):
    script = _script()
    status = script.main(["--sample", "300", "--seed", "1", "--jobs", "2",
                          "--out", str(tmp_path)])
    rows = [json.loads(p.read_text()) for p in (tmp_path / "pieces").glob("*.json")]
    assert len(rows) == 300
    formats = {row["format"] for row in rows}
    assert {"abc", "krn", "mxl"} <= formats
    bad = [row for row in rows if row["outcome"] in ("crashed", "invalid")]
    assert status == 0 and not bad, bad[:5]
    annotated = sum(row["outcome"] == "annotated" for row in rows)
    assert annotated >= 0.95 * len(rows), capsys.readouterr().out[-2000:]
    # every refusal is one line a user can read
    assert all(row["reason"] and "\n" not in row["reason"]
               for row in rows if row["outcome"] == "refused")


def test_the_table_counts_formats_and_outcomes():
    script = _script()
    rows = [{"format": "krn", "outcome": "annotated", "reason": ""},
            {"format": "krn", "outcome": "refused", "reason": "no pitched note"},
            {"format": "abc", "outcome": "annotated", "reason": ""}]
    table = script.summarise(rows)
    assert "| krn | 2 | 1 | 1 | 0 | 0 |" in table and "| abc | 1 | 1 | 0 | 0 | 0 |" in table
    assert "annotated: 66.7% of 3 scores" in table and "1 x refused: no pitched note" in table
