"""Motifs in the score, the dynamics figures and the ``qbdi dynamics`` command."""

from __future__ import annotations

import csv

import pytest
from music21 import converter, corpus, expressions

from qbdi_musicology.analysis.dynamics import analyse_score
from qbdi_musicology.annotate.motifs import annotate_motifs, motif_colour, write_motif_score
from qbdi_musicology.cli import main
from qbdi_musicology.cli.cmd_dynamics import parse_thresholds
from qbdi_musicology.errors import ParameterError
from qbdi_musicology.musicxml import write_musicxml
from qbdi_musicology.report.dynamics_figures import ir_curves_figure, motif_timeline_figure

PNG = b"\x89PNG"


@pytest.fixture(scope="module")
def chorale():
    return corpus.parse("bach/bwv66.6")


@pytest.fixture(scope="module")
def dynamics(chorale):
    return analyse_score(chorale)


@pytest.fixture(scope="module")
def marked_file(chorale, dynamics, tmp_path_factory):
    marked = annotate_motifs(chorale, dynamics)
    return write_motif_score(marked, tmp_path_factory.mktemp("motifs") / "bwv66.musicxml")


def test_annotation_colours_the_statements_and_labels_them(chorale, dynamics, marked_file,
                                                          assert_valid_musicxml):
    assert_valid_musicxml(marked_file)
    back = converter.parse(marked_file)
    labels = [t.content for t in back.recurse().getElementsByClass(expressions.TextExpression)
              if t.content]
    expected = [o.label for m in dynamics.motifs for o in m.occurrences]
    assert sorted(labels) == sorted(expected)
    # every note that starts inside a statement of the last motif has that motif's colour
    last = len(dynamics.motifs) - 1
    occ = dynamics.motifs[last].occurrences[0]
    fr = dynamics.frames
    start, end = fr.offsets[occ.start], fr.offsets[occ.stop - 1] + fr.durations[occ.stop - 1]
    inside = [n for n in back.flatten().notes if start <= n.offset < end]
    assert inside and all(n.style.color.upper() == motif_colour(last) for n in inside)
    # notes outside every statement keep their colour (none)
    spans = [(fr.offsets[o.start], fr.offsets[o.stop - 1] + fr.durations[o.stop - 1])
             for m in dynamics.motifs for o in m.occurrences]
    outside = [n for n in back.flatten().notes if not any(a <= n.offset < b for a, b in spans)]
    assert outside and all(n.style.color is None for n in outside)
    assert chorale.flatten().notes[0].style.color is None  # the input is untouched


@pytest.mark.musescore
def test_musescore_draws_the_motif_score(marked_file, musescore, tmp_path):
    result = musescore(marked_file, tmp_path / "motifs.png")
    assert result.ok and not result.warnings and result.pages >= 1
    assert result.png.read_bytes().startswith(PNG)


def test_figures(dynamics, tmp_path):
    curves = ir_curves_figure({"query": dynamics, "copy": dynamics}, tmp_path / "ir.png")
    timeline = motif_timeline_figure(dynamics, tmp_path / "timeline.png")
    for path in (curves, timeline):
        assert path.read_bytes().startswith(PNG)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ir.png", "timeline.png"]


def test_parse_thresholds():
    assert len(parse_thresholds("0:1:0.01")) == 100
    for bad in ("1:0:0.1", "0:1", "0:1:0", "a:b:c", "-1:1:0.5"):
        with pytest.raises(ParameterError):
            parse_thresholds(bad)


def test_cli_writes_figures_scores_and_csv(chorale, tmp_path, assert_valid_musicxml, capsys):
    improv = write_musicxml(chorale.transpose(2), tmp_path / "in" / "bwv66.6_R8.musicxml")
    out = tmp_path / "out"
    status = main(["dynamics", "corpus:bach-chorales/bwv66.6", str(improv), "--out", str(out),
                   "--thresholds", "0:1:0.02"])
    assert status == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["R8_motifs.musicxml", "R8_motifs.png", "dynamics_summary.csv",
                     "ir_curves.csv", "ir_curves.png", "motifs.csv", "query_motifs.musicxml",
                     "query_motifs.png"]
    for name in ("R8_motifs.musicxml", "query_motifs.musicxml"):
        assert_valid_musicxml(out / name)
    with open(out / "dynamics_summary.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["piece"], r["rate"]) for r in rows] == [("query", ""), ("R8", "8.0")]
    assert all(int(r["n_frames"]) == 36 for r in rows)
    with open(out / "ir_curves.csv") as fh:
        assert len(list(csv.DictReader(fh))) == 2 * 50
    assert "optimal threshold" in capsys.readouterr().out


def test_cli_errors_are_one_line(tmp_path, capsys):
    status = main(["dynamics", "corpus:bach-chorales/bwv66.6", "--out", str(tmp_path),
                   "--thresholds", "0.5:0.1:0.1"])
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("qbdi dynamics: error:") and "\n" not in err
    assert list(tmp_path.iterdir()) == []
