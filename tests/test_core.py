"""The grid, the chroma helpers, the error conventions and the CLI frame."""

from __future__ import annotations

import os

import numpy as np
import pytest

from qbdi_musicology.analysis.chroma import bars_chroma, best_triad, triad_name
from qbdi_musicology.cli import main
from qbdi_musicology.errors import ParameterError
from qbdi_musicology.fileio import write_text_atomic
from qbdi_musicology.grid import DEFAULT_GRID, Grid


def test_paper_grid_sizes():
    assert DEFAULT_GRID.steps == 16
    assert DEFAULT_GRID.pitches == 78
    assert DEFAULT_GRID.input_size == 2496
    assert DEFAULT_GRID.time_signature == "4/4"
    assert Grid.from_dict(DEFAULT_GRID.to_dict()) == DEFAULT_GRID


@pytest.mark.parametrize("kwargs", [{"beats": 0}, {"beat_type": 3}, {"low_pitch": 90, "high_pitch": 80}])
def test_bad_grid_is_a_parameter_error(kwargs):
    with pytest.raises(ParameterError):
        Grid(**kwargs)


def _bar(pitches, grid=DEFAULT_GRID):
    bar = np.zeros((grid.steps, grid.pitches, 2), dtype=bool)
    for p in pitches:
        bar[:, p - grid.low_pitch, 0] = True
        bar[0, p - grid.low_pitch, 1] = True
    return bar


def test_triads_from_bars():
    bars = np.stack([_bar([60, 64, 67]), _bar([57, 60, 64]), _bar([55, 59, 62, 67]), _bar([])])
    chroma = bars_chroma(bars)
    assert chroma[0, 0] == 16 and chroma[0, 4] == 16 and chroma[0, 7] == 16
    labels = [triad_name(i) for i in best_triad(chroma)]
    assert labels == ["C", "Am", "G", "N.C."]


def test_atomic_write_leaves_no_temporary(tmp_path):
    target = write_text_atomic(tmp_path / "a" / "x.txt", "hello")
    assert target.read_text() == "hello"
    assert sorted(p.name for p in target.parent.iterdir()) == ["x.txt"]


def test_cli_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "qbdi" in capsys.readouterr().out


def test_atomic_write_is_readable_by_others(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        target = write_text_atomic(tmp_path / "y.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_a_killed_writers_temporary_is_removed_by_the_next_write(tmp_path):
    """kill -9 leaves a hidden temporary; the next write of that file removes it, but not
    the temporary of a writer that is still running, nor other files' temporaries."""
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(dead.stdout)
    orphan = tmp_path / f".x.txt.pid{dead_pid}.abc123.part.txt"
    running = tmp_path / f".x.txt.pid{os.getpid()}.def456.part.txt"
    other = tmp_path / f".y.txt.pid{dead_pid}.ghi789.part.txt"
    for path in (orphan, running, other):
        path.write_text("half")
    write_text_atomic(tmp_path / "x.txt", "whole")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["x.txt", running.name, other.name])
