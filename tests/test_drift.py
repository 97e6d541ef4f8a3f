"""Drift over a rate sweep: tonic share, agreement, entropy, ordering."""

from __future__ import annotations

import math

import pytest
from music21 import corpus, interval

from qbdi_musicology.analysis.drift import chord_entropy_bits, drift_analysis, drift_table
from qbdi_musicology.errors import InputError
from chord_scores import bars_score



C, F, G, AM = ["C4", "E4", "G4"], ["F3", "A3", "C4"], ["G3", "B3", "D4"], ["A3", "C4", "E4"]
QUERY = [C, AM, F, G, C, F, G, C]


def test_all_c_improvisation_has_tonic_share_one():
    query = bars_score(QUERY)
    table = drift_table(query, {0.0: bars_score([C] * 8)}, key="C")
    row = table.iloc[0]
    assert row.tonic_share == 1.0
    assert row.distinct_chords == 1 and row.chord_entropy_bits == 0.0
    assert row.mean_tonnetz_to_tonic == 0.0
    # the query itself is on C in 3 of its 8 bars
    assert row.query_tonic_share == pytest.approx(3 / 8)
    assert row.chord_agreement == pytest.approx(3 / 8)


def test_rates_from_full_to_zero_and_the_drift_is_visible():
    query = bars_score(QUERY)
    sweep = {0.0: bars_score([C] * 8), math.inf: bars_score(QUERY),
             8.0: bars_score([C, AM, C, G, C, C, G, C])}
    table = drift_table(query, sweep, key="C")
    assert list(table["rate"]) == [math.inf, 8.0, 0.0]
    assert list(table["chord_agreement"]) == [1.0, 0.75, pytest.approx(3 / 8)]
    # as the rate falls, more tonic, fewer chords, closer to the tonic in the Tonnetz
    assert table["tonic_share"].is_monotonic_increasing
    assert table["distinct_chords"].is_monotonic_decreasing
    assert table["mean_tonnetz_to_tonic"].is_monotonic_decreasing
    assert table.iloc[0].collisions == 0 and table.iloc[0].mean_tonnetz_to_query == 0.0


def test_long_table_has_one_row_per_rate_and_segment():
    query = corpus.parse("bwv66.6")
    result = drift_analysis(query, {math.inf: query,
                                    0.0: query.transpose(interval.Interval("P5"))}, per="beat")
    assert len(result.segments) == 2 * 36
    assert set(result.segments["rate"]) == {math.inf, 0.0}
    full = result.segments[result.segments["rate"] == math.inf]
    assert full["same_chord"].all()
    assert result.summary.iloc[0].key == "f# minor"
    assert result.summary.iloc[1].chord_agreement < 0.1


def test_entropy():
    assert chord_entropy_bits(["C", "G", "C", "G"]) == pytest.approx(1.0)
    assert chord_entropy_bits(["C", "C", "N.C."]) == 0.0
    assert chord_entropy_bits(["C", "G", "F", "Am"]) == pytest.approx(2.0)
    assert chord_entropy_bits([]) == 0.0


def test_no_improvisation_is_an_error():
    with pytest.raises(InputError):
        drift_table(bars_score(QUERY), {})


def test_the_batch_analyses_each_score_once(monkeypatch, chord_model, analysis_calls):
    """Query and improvisations are labelled once; the annotated scores reuse the labels."""
    from qbdi_musicology import batch, pipeline

    monkeypatch.setattr(pipeline, "_cached_model", lambda spec: chord_model)
    monkeypatch.setattr(pipeline, "_information_rates", lambda score, improvisations: None)
    task = batch.QueryTask(query_id="q", spec="corpus:bach-chorales/bwv66.6",
                           rates=(math.inf, 8.0, 0.0), seed=1, model=None,
                           options=(("overview", True),), position=0)
    output = pipeline.drift_task(task, batch.StageClock())
    assert sorted(output.files) == ["overview.musicxml", "rate-000.musicxml",
                                    "rate-008.musicxml", "rate-inf.musicxml"]
    # the query and three improvisations
    assert len(analysis_calls) == 4 and analysis_calls[0] == "query"


def test_evaluate_and_the_drift_table_give_one_triad_agreement(chord_model):
    """Same piece, same rate, same seed: qbdi evaluate's number is the drift table's."""
    from qbdi_musicology.evaluate import evaluate_model, load_query_set
    from qbdi_musicology.generate import sweep

    for piece in ("bwv66.6", "bwv269", "bwv13.6"):  # pickup, 3/4, split bars
        (query,) = load_query_set([f"corpus:bach-chorales/{piece}"])
        rates = [math.inf, 8.0, 0.0]
        rows = evaluate_model(chord_model, [query], rates, seed=3)
        made = {rate: improv for rate, improv, _ in sweep(query.score, chord_model, rates,
                                                          seed=3)}
        table = drift_table(query.score, made)
        for row in rows:
            reported = table.loc[table["rate"] == row["rate"], "triad_agreement"].iloc[0]
            assert abs(reported - row["triad_agreement"]) < 1e-6, (piece, row["rate"])
