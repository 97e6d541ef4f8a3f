"""The classroom demonstration runs from the shipped model and writes what a lesson needs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_teaching_demo_writes_sounds_scores_and_a_lesson(tmp_path, capsys, assert_valid_musicxml):
    spec = importlib.util.spec_from_file_location("teaching_demo",
                                                  REPO / "analyses" / "teaching_demo.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    assert demo.main(["--out", str(tmp_path), "--rates", "inf,8,0", "--no-wav"]) == 0
    folder = tmp_path / "queries" / "bach-chorales_bwv66.6"
    for name in ("query.mid", "rate-inf.mid", "rate-008.mid", "rate-000.mid"):
        assert (folder / name).read_bytes().startswith(b"MThd")
    for name in ("rate-inf.musicxml", "rate-000.musicxml", "overview.musicxml"):
        assert_valid_musicxml(folder / name)
    lesson = (folder / "lesson.txt").read_text()
    assert "f# minor" in lesson  # BWV 66.6 is in F-sharp minor
    assert "0 bits per bar (rate-000.mid)" in lesson
    assert lesson in capsys.readouterr().out
    assert (tmp_path / "report" / "figures" / "tonic_share.png").is_file()
