"""A batch task that writes what the real one writes, annotated scores and MIDI, quickly.

As in :mod:`test_batch_tasks`, each rate's "improvisation" is the query transposed (a fifth
up at the lowest rates, unchanged at full rate), so no model is needed; the scores are then
written by the batch's own writer: the annotated pair per rate (chord symbols, Roman
numerals, red clashes), the drift overview, and the MIDI files when the task asks for them.
"""

from __future__ import annotations

from test_batch_tasks import read_query, semitones_for

from qbdi_musicology.batch import QueryOutput, QueryTask, StageClock
from qbdi_musicology.pipeline import _score_files


def annotated_task(task: QueryTask, clock: StageClock) -> QueryOutput:
    """Query -> transposed copies per rate -> drift table, annotated MusicXML, MIDI."""
    from qbdi_musicology.analysis.drift import drift_table

    with clock("load query"):
        score = read_query(task.spec)
    with clock("sweep"):
        improvisations = {rate: score.transpose(semitones_for(rate)) for rate in task.rates}
    with clock("analyse"):
        table = drift_table(score, improvisations)
    with clock("write musicxml"):
        files = _score_files(score, improvisations, task)
    title = score.metadata.title if score.metadata is not None else task.query_id
    return QueryOutput(table, files, {"title": title or task.query_id,
                                      "key": str(table["key"].iloc[0])})
