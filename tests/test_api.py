"""The public API: the docs example runs, and each function does what its docstring says."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

import qbdi_musicology as q

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _examples() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (DOCS / "api.md").read_text(), re.S)


def test_the_docs_example_runs_and_its_numbers_are_the_tables(tmp_path, monkeypatch,
                                                              assert_valid_musicxml):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for code in _examples():
        exec(compile(code, "docs/api.md", "exec"), namespace)  # noqa: S102 - our own docs
    assert_valid_musicxml(tmp_path / "rate-8.musicxml")
    assert_valid_musicxml(tmp_path / "bwv66.6-labelled.musicxml")
    table = namespace["table"]
    assert list(table["rate"]) == [math.inf, 8.0, 0.0]
    # the shipped model falls back on the tonic: every bar at rate 0 is the F# minor triad
    assert table.loc[table["rate"] == 0.0, "tonic_share"].iloc[0] == 1.0
    labels = namespace["labelled"].chord_labels
    # bar 1 of the chorale (after the upbeat, bar 0) is an F-sharp minor chord, the tonic
    assert labels.iloc[1]["bar"] == 1 and labels.iloc[1]["chord_symbol"].startswith("F#m")
    assert labels.iloc[1]["roman"].startswith("i")
    assert namespace["structure"].bars[0].kind == "pickup"


def test_help_lists_the_public_functions_with_one_line_docstrings():
    names = ["load", "load_model", "bar_structure", "metric_score", "improvise", "sweep",
             "add_chord_labels", "chord_labels", "annotate_pair", "drift_table", "write"]
    assert [n for n in q.__all__ if n != "__version__"] == names
    # no module of the package shadows a public function once it is imported
    import importlib
    import pkgutil
    for info in pkgutil.walk_packages(q.__path__, "qbdi_musicology."):
        if ".cli." not in info.name:
            importlib.import_module(info.name)
    for name in names:
        assert callable(getattr(q, name)), name
        doc = getattr(q, name).__doc__
        assert doc and doc.strip().splitlines()[0].endswith("."), name


def test_add_chord_labels_puts_music21_chord_symbols_into_a_new_score():
    from music21 import harmony
    from chord_scores import bars_score

    score = bars_score([["C4", "E4", "G4"], ["G3", "B3", "D4"], ["C4", "E4", "G4"]])
    labelled = q.add_chord_labels(score, key="C")
    symbols = [h.figure for h in labelled.recurse().getElementsByClass(harmony.ChordSymbol)]
    assert symbols == ["C", "G", "C"]
    lyrics = [n.lyric for n in labelled.recurse().notes if n.lyric]
    assert lyrics == ["I", "V", "I"]
    assert not list(score.recurse().getElementsByClass(harmony.ChordSymbol))  # input unchanged
