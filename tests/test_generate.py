"""Improvisation and query as score transformations, on a tiny model trained in seconds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qbdi_musicology.analysis.chroma import bars_chroma, best_triad, triad_name
from qbdi_musicology.errors import InputError, ParameterError
from qbdi_musicology.grid import DEFAULT_GRID
from qbdi_musicology.musicxml import musicxml_bytes, score_fields
from qbdi_musicology.pianoroll import bars_to_score, score_to_bars
from tiny_models import TRIADS, block

G = DEFAULT_GRID


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture
def model(chord_model):
    return chord_model


def chord_score(names, title="test query"):
    bars = np.stack([block(TRIADS[n], pulses=False) for n in names])
    return bars_to_score(bars, G, tempo=90, title=title)


def test_query_keeps_bar_count_meter_tempo_and_records_provenance(model):
    from qbdi_musicology.generate import query

    q = chord_score(["C", "G", "Am", "F", "C"])
    before = musicxml_bytes(q)
    out = query(q, model, seed=4, rate=32, threshold=0.5)
    assert musicxml_bytes(q) == before  # the query is not changed
    assert score_to_bars(out, G).shape[0] == 5
    ts = {t.ratioString for t in out.recurse().getElementsByClass("TimeSignature")}
    assert ts == {"4/4"}
    marks = list(out.recurse().getElementsByClass("MetronomeMark"))
    assert marks and marks[0].number == 90
    fields = score_fields(out)
    assert fields["model"] == model.model_id and fields["seed"] == "4"
    assert fields["rate"] == "32" and fields["threshold"] == "0.5"
    assert fields["query"] == "test query" and "variance=query" in fields["channel"]
    assert out.metadata.title == "Improvisation on test query (R = 32 bits/bar)"


def test_full_rate_keeps_the_chords_of_in_style_bars(model):
    from qbdi_musicology.generate import query

    names = ["C", "G", "Am", "F"]
    out = query(chord_score(names), model, seed=0)
    got = [triad_name(i) for i in best_triad(bars_chroma(score_to_bars(out, G)))]
    assert got == names


def test_same_seed_same_bytes(model):
    from qbdi_musicology.generate import improvise, query

    q = chord_score(["C", "F", "G", "C"])
    assert musicxml_bytes(query(q, model, seed=9, rate=8)) == musicxml_bytes(
        query(q, model, seed=9, rate=8))
    assert musicxml_bytes(improvise(model, 3, seed=1)) == musicxml_bytes(
        improvise(model, 3, seed=1))


def test_rate_zero_forgets_which_bar_had_which_chord(model):
    """At 0 bits/bar the harmony pathway carries nothing bar-specific."""
    from qbdi_musicology.generate import query

    a = score_to_bars(query(chord_score(["C", "G", "C", "G"]), model, rate=0), G)
    b = score_to_bars(query(chord_score(["G", "C", "G", "C"]), model, rate=0), G)
    chroma_a, chroma_b = bars_chroma(a, G), bars_chroma(b, G)
    assert np.array_equal(chroma_a, chroma_b)  # the order of the query's chords is gone
    assert np.all(chroma_a == chroma_a[0])  # every bar hears the same average
    full = score_to_bars(query(chord_score(["C", "G", "C", "G"]), model, rate=math.inf), G)
    assert not np.array_equal(bars_chroma(full, G)[0], bars_chroma(full, G)[1])


def test_sweep_encodes_once_and_titles_each_rate(model):
    from qbdi_musicology.generate import sweep

    results = sweep(chord_score(["C", "Am", "F", "G"]), model, [math.inf, 8, 0], seed=1)
    assert [r for r, _, _ in results] == [math.inf, 8, 0]
    assert results[1][1].metadata.title.endswith("(R = 8 bits/bar)")
    assert score_fields(results[2][1])["rate"] == "0"
    assert results[2][2].bits.sum() == 0


def test_with_query_adds_the_query_staves(model):
    from qbdi_musicology.generate import query

    out = query(chord_score(["C", "G"]), model, include_query=True)
    names = [p.partName for p in out.parts]
    assert names.count("Improvisation") == 2 and names.count("Query") == 2
    query_parts = [p for p in out.parts if p.partName == "Query"]
    pitches = {n.pitch.midi for p in query_parts for n in p.recurse().notes
               for n in getattr(n, "notes", [n])}
    assert {48, 64, 67, 72} <= pitches


def test_improvise_makes_n_bars(model):
    from qbdi_musicology.generate import improvise

    out = improvise(model, 4, seed=0)
    assert score_to_bars(out, G).shape[0] == 4
    assert score_fields(out)["latent_source"].startswith("prior")


def test_bad_inputs_are_clear_errors(model):
    from music21 import meter, note, stream

    from qbdi_musicology.generate import improvise, query

    waltz = stream.Score([stream.Part([meter.TimeSignature("3/4"), note.Note("C4", quarterLength=3)])])
    improv = query(waltz, model)  # any meter: the improvisation keeps the query's 3/4 bar
    assert [ts.ratioString for ts in improv.recurse().getElementsByClass("TimeSignature")] \
        == ["3/4", "3/4"]  # one per staff of the grand staff
    assert improv.parts[0].getElementsByClass("Measure")[0].duration.quarterLength == 3
    with pytest.raises(InputError, match="no bars|no note"):
        query(stream.Score([stream.Part([meter.TimeSignature("4/4")])]), model)
    for bad in (0, 1, -0.2, 1.5):
        with pytest.raises(ParameterError, match="threshold"):
            query(chord_score(["C"]), model, threshold=bad)
    for n in (0, -3):
        with pytest.raises(ParameterError, match="n_bars"):
            improvise(model, n)


def test_cli_writes_valid_files_and_nothing_on_error(model, tmp_path, assert_valid_musicxml):
    from music21 import meter, note, stream

    from qbdi_musicology.cli import main
    from qbdi_musicology.musicxml import write_musicxml

    q = write_musicxml(chord_score(["C", "F", "G", "C"]), tmp_path / "q.musicxml")
    out = tmp_path / "improv.musicxml"
    assert main(["query", str(q), "--out", str(out), "--model", str(model.path), "--rate", "16",
                 "--with-query", "--midi"]) == 0
    assert_valid_musicxml(out)
    assert out.with_suffix(".mid").stat().st_size > 0
    silent = stream.Score([stream.Part([meter.TimeSignature("3/4"), note.Rest(quarterLength=3)])])
    w = write_musicxml(silent, tmp_path / "silent.musicxml")
    bad_out = tmp_path / "never.musicxml"
    assert main(["query", str(w), "--out", str(bad_out), "--model", str(model.path)]) == 2
    assert not bad_out.exists() and not any(p.name.startswith(".never") for p in tmp_path.iterdir())
    imp = tmp_path / "imp.musicxml"
    assert main(["improvise", "--bars", "2", "--out", str(imp), "--model", str(model.path)]) == 0
    assert_valid_musicxml(imp)


def test_improvisation_is_written_in_the_query_key(model):
    """A D-major query (D, G, A, D) gives an improvisation under two sharps, query staves too."""
    from qbdi_musicology.generate import query

    triads = {"D": (50, 66, 69, 74), "G": (43, 62, 67, 71), "A": (45, 64, 69, 73)}
    bars = np.stack([block(triads[n], pulses=False) for n in ("D", "G", "A", "D")])
    out = query(bars_to_score(bars, G, tempo=90, title="in D"), model, seed=1,
                include_query=True)
    signatures = {ks.sharps for ks in out.recurse().getElementsByClass("KeySignature")}
    assert signatures == {2}
    assert score_fields(out)["query_key"] == "D major"
