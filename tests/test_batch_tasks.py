"""A small, real task for exercising the batch engine without a trained model.

The "improvisation" at each rate is the query transposed by a rate-dependent interval (a
fifth up at the lowest rate, unchanged at full rate); the pairs are analysed by the
package's own drift table. Everything is computed, nothing is
made up: the test asserts that the engine moves these real results around faithfully.
"""

from __future__ import annotations

import math

from qbdi_musicology.batch import QueryOutput, QueryTask, StageClock, rate_file_name
from qbdi_musicology.musicxml import musicxml_bytes


def semitones_for(rate: float) -> int:
    """Interval of the stand-in improvisation: 0 at full rate, up to a fifth at rate 0."""
    if math.isinf(rate):
        return 0
    if rate >= 128:
        return 2
    if rate >= 16:
        return 5
    return 7


def read_query(spec: str):
    """The query score, read through the package's safe reader (files or corpus:NAME/piece)."""
    from qbdi_musicology.pieces import resolve_query

    return resolve_query(spec)


def transpose_task(task: QueryTask, clock: StageClock) -> QueryOutput:
    """Query -> transposed copies per rate -> the package's drift table and MusicXML."""
    from qbdi_musicology.analysis.drift import drift_table

    with clock("load query"):
        score = read_query(task.spec)
    with clock("sweep"):
        improvisations = {rate: score.transpose(semitones_for(rate)) for rate in task.rates}
    with clock("analyse"):
        table = drift_table(score, improvisations)
    with clock("write musicxml"):
        files = {rate_file_name(rate): musicxml_bytes(improv, fields={"rate": rate})
                 for rate, improv in improvisations.items()}
    title = score.metadata.title if score.metadata is not None else task.query_id
    return QueryOutput(table, files, {"title": title or task.query_id,
                                      "key": str(table["key"].iloc[0])})


def test_transposition_stand_in_is_musically_right():
    from music21 import corpus

    path = str(corpus.getWork("bwv66.6"))
    task = QueryTask(0, path, "bwv66.6", (0.0, math.inf), seed=1)
    output = transpose_task(task, StageClock())
    full = output.table[output.table["rate"] == math.inf].iloc[0]
    low = output.table[output.table["rate"] == 0].iloc[0]
    # An untransposed copy agrees with itself on every bar; a fifth up on (almost) none.
    assert full["chord_agreement"] == 1.0
    assert low["chord_agreement"] < 0.3
    assert full["tonic_share"] == full["query_tonic_share"]
    assert "f#" in output.info["key"].lower()
    assert set(output.files) == {"rate-000.musicxml", "rate-inf.musicxml"}
