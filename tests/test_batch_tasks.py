"""A small, real task for exercising the batch engine without a trained model.

The "improvisation" at each rate is the query transposed by a rate-dependent interval (a
fifth up at the lowest rate, unchanged at full rate); both are analysed bar by bar with
music21's chordify and the project's triad templates. Everything is computed, nothing is
made up: the test asserts that the engine moves these real results around faithfully.
"""

from __future__ import annotations

import math
import numpy as np
import pandas as pd

from qbdi_musicology.analysis.chroma import best_triad, tonic_triad_index
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


def bar_triads(score) -> np.ndarray:
    """Best major/minor triad of every bar (duration-weighted pitch classes)."""
    chords = score.chordify()
    chroma = []
    for measure in chords.getElementsByClass("Measure"):
        row = np.zeros(12)
        for element in measure.recurse().notes:
            for pitch in element.pitches:
                row[pitch.pitchClass] += float(element.quarterLength)
        chroma.append(row)
    return best_triad(np.array(chroma))


def read_query(spec: str):
    """The query score, read through the package's safe reader (files or corpus:NAME/piece)."""
    from qbdi_musicology.scoreio import resolve_query

    return resolve_query(spec)


def transpose_task(task: QueryTask, clock: StageClock) -> QueryOutput:
    """Query -> transposed copies per rate -> per-rate agreement and tonic share."""
    with clock("load query"):
        score = read_query(task.spec)
        key = score.analyze("key")
    tonic = tonic_triad_index(key.tonic.pitchClass, key.mode)
    query_triads = bar_triads(score)
    rows, files = [], {}
    for rate in task.rates:
        with clock("sweep"):
            improv = score.transpose(semitones_for(rate))
        with clock("analyse"):
            triads = bar_triads(improv)
            n = min(len(triads), len(query_triads))
            rows.append({"rate": rate,
                         "chord_agreement": float(np.mean(triads[:n] == query_triads[:n])),
                         "tonic_share": float(np.mean(triads == tonic)),
                         "distinct_chords": int(len(set(triads.tolist())))})
        with clock("write musicxml"):
            files[rate_file_name(rate)] = musicxml_bytes(improv, fields={"rate": rate})
    title = score.metadata.title if score.metadata is not None else task.query_id
    return QueryOutput(pd.DataFrame(rows), files, {"title": title or task.query_id,
                                                   "key": str(key)})


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
    assert output.info["key"] == "f# minor"
    assert set(output.files) == {"rate-000.musicxml", "rate-inf.musicxml"}
