"""``qbdi corpus list|info`` and ``qbdi demo`` as a user runs them."""

from __future__ import annotations

from pathlib import Path

import pytest
from music21 import converter

from qbdi_musicology.cli import main
from qbdi_musicology.cli.cmd_demo import run_demo
from qbdi_musicology.grid import ARTICULATE
from qbdi_musicology.pianoroll import score_to_bars
from qbdi_musicology.pieces import resolve_query

from test_scoreio import midi_bytes


def test_corpus_list_names_the_corpora(capsys):
    assert main(["corpus", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("bach-chorales", "pop-music-midi", "visions-fugitives"):
        assert name in out
    assert "[default]" in out and "files)" in out


def test_corpus_info_of_a_folder_reports_skipped_files(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("QBDI_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "songs"
    folder.mkdir()
    (folder / "tune.mid").write_bytes(midi_bytes([(0, 4, 60), (4, 4, 64)]))
    (folder / "waltz.mid").write_bytes(midi_bytes([(0, 3, 60)], ts=(3, 4)))
    (folder / "empty.mid").write_bytes(b"")
    assert main(["corpus", "info", str(folder), "--pieces", "--all-skipped"]) == 0
    out = capsys.readouterr().out
    assert "pieces: 2   bars: 3" in out  # the waltz's one 3/4 bar is read too
    assert "  tune  2 bars" in out and "  waltz  1 bars" in out
    assert "skipped: 1 file(s)" in out
    assert "empty: " in out and "is empty" in out
    assert main(["corpus", "info", str(folder), "--meter", "4/4", "--all-skipped"]) == 0
    assert "waltz: time signature 3/4, not the corpus meter 4/4" in capsys.readouterr().out
    # the second run comes from the cache
    assert main(["corpus", "info", str(folder)]) == 0
    assert "file(s) from the cache)" in capsys.readouterr().out


def test_corpus_info_of_an_unknown_name_is_one_line_exit_2(capsys):
    assert main(["corpus", "info", "nonesuch"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no corpus named 'nonesuch'" in err and "qbdi corpus list" in err


def test_corpus_help_has_an_example(capsys):
    with pytest.raises(SystemExit):
        main(["corpus", "info", "--help"])
    assert "example:\n  qbdi corpus info" in capsys.readouterr().out


def test_demo_writes_a_valid_round_trip(tmp_path, capsys, assert_valid_musicxml):
    assert main(["demo", "--out", str(tmp_path / "demo"), "--roundtrip-only"]) == 0
    out = capsys.readouterr().out
    path = tmp_path / "demo" / "bwv66.6_roundtrip.musicxml"
    assert str(path) in out and "round-tripped exactly" in out
    assert_valid_musicxml(path)
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temporary files
    written = converter.parse(path)
    original = score_to_bars(resolve_query("corpus:bach-chorales/bwv66.6"))
    assert (score_to_bars(written) == original).all()
    # F-sharp minor chorale: the written score has the key signature of three sharps
    assert written.parts[0].recurse().getElementsByClass("KeySignature").first().sharps == 3
    assert original[1, 0, :, ARTICULATE].sum() == 4  # four voices strike the first downbeat


def test_run_demo_on_a_midi_file(tmp_path):
    query = tmp_path / "tune.mid"
    query.write_bytes(midi_bytes([(0, 2, 62), (2, 2, 66), (4, 4, 69)]))
    result = run_demo(tmp_path / "out", query=str(query), staves="one", improvise=False)
    assert result.outputs["roundtrip"].name == "tune_roundtrip.musicxml"
    assert "2 bars round-tripped exactly" in result.notes


@pytest.mark.musescore
def test_demo_output_opens_in_musescore(tmp_path, musescore):
    path = run_demo(tmp_path, improvise=False).outputs["roundtrip"]
    rendered = musescore(path, tmp_path / "demo.png")
    assert rendered.ok, rendered


def test_demo_improvises_and_the_harmony_drifts_to_the_tonic(tmp_path, capsys,
                                                             assert_valid_musicxml):
    """The README's first command: the shipped model on bwv66.6 at five rates."""
    import pandas as pd

    assert main(["demo", "--out", str(tmp_path / "demo"), "--rates", "inf,8,0"]) == 0
    out = capsys.readouterr().out
    for role in ("overview", "rate inf", "rate 0", "html", "markdown", "csv"):
        assert f"{role}: " in out
    folder = tmp_path / "demo" / "queries" / "bach-chorales_bwv66.6"
    for name in ("overview.musicxml", "rate-inf.musicxml", "rate-008.musicxml",
                 "rate-000.musicxml"):
        assert_valid_musicxml(folder / name)
    table = pd.read_csv(tmp_path / "demo" / "report" / "drift_table.csv")
    by_rate = table.set_index(table["rate"].astype(float))
    # At 0 bits/bar every bar decodes from the same latent: one chord, F# minor's tonic.
    assert by_rate.loc[0.0, "distinct_chords"] == 1
    assert by_rate.loc[0.0, "tonic_share"] == 1.0
    assert by_rate.loc[float("inf"), "chord_agreement"] > by_rate.loc[0.0, "chord_agreement"]
    assert "drift" in (tmp_path / "demo" / "report" / "report.html").read_text().lower()
    # Seen and heard without MuseScore: engraved pages, the classroom page, MIDI to play.
    assert "lesson: " in out
    media = tmp_path / "demo" / "report" / "media" / "bach-chorales_bwv66.6"
    for stem in ("rate-inf", "rate-008", "rate-000", "overview"):
        assert (media / f"{stem}-1.svg").is_file()
    assert (folder / "query.mid").is_file() and (folder / "rate-008.mid").is_file()
    lesson = (tmp_path / "demo" / "report" / "lesson.html").read_text()
    assert "media/bach-chorales_bwv66.6/rate-008-1.svg" in lesson


def test_demo_report_evaluate_and_readme_give_one_number(tmp_path, capsys):
    """bwv66.6 at full rate and 8 bits/bar: the demo's printout, report.html, the drift
    table, qbdi evaluate (same seed) and the README's demo lines show the same values."""
    import json
    import math
    import re

    import pandas as pd

    from qbdi_musicology.checkpoint import load_model
    from qbdi_musicology.evaluate import evaluate_model, load_query_set
    from qbdi_musicology.report.lesson import number_text

    out_dir = tmp_path / "demo"
    assert main(["demo", "--out", str(out_dir), "--rates", "inf,8"]) == 0
    printed = capsys.readouterr().out
    folder = out_dir / "queries" / "bach-chorales_bwv66.6"
    seed = json.loads((folder / "result.json").read_text())["fingerprint"]["seed"]
    (query,) = load_query_set(["corpus:bach-chorales/bwv66.6"])
    rows = {row["rate"]: row for row in evaluate_model(load_model(), [query],
                                                       [math.inf, 8.0], seed=seed)}
    table = pd.read_csv(out_dir / "report" / "drift_table.csv")
    html = (out_dir / "report" / "report.html").read_text()
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for rate, label in ((math.inf, "inf"), (8.0, "8")):
        row = table[table["rate"].astype(float) == rate].iloc[0]
        for measure in ("triad_agreement", "tonic_share"):
            assert abs(row[measure] - rows[rate][measure]) < 1e-6, (rate, measure)
            assert number_text(rows[rate][measure]) in html, (rate, measure)
        line = (f"rate {label}: triad agreement {number_text(row['triad_agreement'])}, "
                f"tonic share {number_text(row['tonic_share'])}")
        assert line in printed, line
        assert re.search(re.escape(line), readme), f"README lacks: {line}"
