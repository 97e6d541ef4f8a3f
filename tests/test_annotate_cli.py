"""``qbdi analyse``: files written, rates found, bad input refused cleanly."""

from __future__ import annotations

import pandas as pd
import pytest

from qbdi_musicology.cli import main
from qbdi_musicology.musicxml import read_musicxml_fields, set_score_fields, write_musicxml
from chord_scores import bars_score



C, G, D, F = ["C4", "E4", "G4"], ["G3", "B3", "D4"], ["D4", "F#4", "A4"], ["F3", "A3", "C4"]


@pytest.fixture()
def sweep_files(tmp_path):
    folder = tmp_path / "sweep"
    query = write_musicxml(bars_score([C, G, C, F, G, C]), folder / "cadence.musicxml")
    full = write_musicxml(bars_score([C, G, C, F, G, C]), folder / "cadence_Rinf.musicxml")
    eight = write_musicxml(bars_score([C, D, C, F, G, C]), folder / "cadence_R8.mxl")
    zero = bars_score([C] * 6)
    set_score_fields(zero, {"rate": 0.0, "seed": 0})
    zero_path = write_musicxml(zero, folder / "lowest.musicxml")  # rate only in the fields
    return query, [zero_path, full, eight]


def test_analyse_writes_scores_and_tables(tmp_path, sweep_files, assert_valid_musicxml, capsys):
    query, improvs = sweep_files
    out = tmp_path / "analysis"
    status = main(["analyse", str(query), *map(str, improvs), "--out", str(out), "--key", "C"])
    assert status == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([
        "annotated_R0.musicxml", "annotated_R0.mxl", "annotated_R8.musicxml",
        "annotated_R8.mxl", "annotated_Rinf.musicxml", "annotated_Rinf.mxl",
        "drift_overview.musicxml", "drift_overview.mxl", "drift.csv", "drift_segments.csv",
        "query_chords.csv"])
    for path in out.glob("*.m*"):
        assert_valid_musicxml(path)
    assert read_musicxml_fields(out / "annotated_R8.mxl")["rate"] == "8"
    drift = pd.read_csv(out / "drift.csv")
    assert list(drift["rate"]) == [float("inf"), 8.0, 0.0]
    assert list(drift["tonic_share"]) == [0.5, 0.5, 1.0]  # the query: C in 3 of 6 bars
    assert list(drift["collisions"]) == [0, 1, 3]
    segments = pd.read_csv(out / "drift_segments.csv")
    assert len(segments) == 18
    assert segments.loc[segments.collision, "collision_text"].tolist() == \
        ["G vs D", "G vs C", "F vs C", "G vs C"]
    chords = pd.read_csv(out / "query_chords.csv")
    assert chords["roman"].tolist() == ["I", "V", "I", "IV", "V", "I"]
    assert "wrote 11 files" in capsys.readouterr().out


def test_improvisations_without_rates_are_numbered(tmp_path):
    folder = tmp_path / "in"
    query = write_musicxml(bars_score([C, G]), folder / "q.musicxml")
    a = write_musicxml(bars_score([C, G]), folder / "a.musicxml")
    b = write_musicxml(bars_score([C, C]), folder / "b.musicxml")
    out = tmp_path / "out"
    assert main(["analyse", str(query), str(a), str(b), "--out", str(out),
                 "--format", "musicxml", "--no-overview", "--per", "beat"]) == 0
    assert sorted(p.name for p in out.glob("*.musicxml")) == \
        ["annotated_take1.musicxml", "annotated_take2.musicxml"]
    drift = pd.read_csv(out / "drift.csv")
    assert drift["rate"].tolist() == ["take1", "take2"] and set(drift["per"]) == {"beat"}


def test_bad_inputs_fail_cleanly(tmp_path, capsys):
    folder = tmp_path / "in"
    query = write_musicxml(bars_score([C, G]), folder / "q.musicxml")
    junk = folder / "junk.musicxml"
    junk.write_text("not a score")
    out = tmp_path / "out"
    assert main(["analyse", str(query), str(junk), "--out", str(out)]) == 2
    assert "junk.musicxml" in capsys.readouterr().err
    assert not out.exists()
    # an input inside --out with the name of an output is never overwritten
    clash = write_musicxml(bars_score([C, D]), folder / "annotated_R8.musicxml")
    before = clash.read_bytes()
    assert main(["analyse", str(query), str(clash), "--out", str(folder),
                 "--format", "musicxml"]) == 2
    assert "inputs" in capsys.readouterr().err
    assert clash.read_bytes() == before
    # two improvisations claiming the same rate
    other = write_musicxml(bars_score([C, C]), folder / "x_R8.musicxml")
    assert main(["analyse", str(query), str(clash), str(other), "--out", str(out)]) == 2
    assert "rate 8" in capsys.readouterr().err


def test_analyse_labels_each_score_once(tmp_path, sweep_files, analysis_calls):
    """The query and each improvisation are analysed once; the annotated scores and the
    overview reuse those analyses."""
    query, improvs = sweep_files
    assert main(["analyse", str(query), *map(str, improvs), "--out", str(tmp_path / "a"),
                 "--key", "C", "--format", "musicxml"]) == 0
    assert len(analysis_calls) == 1 + len(improvs) and analysis_calls[0] == "query"
