"""The drift study's task: one query swept over every rate, analysed and annotated.

:func:`drift_task` is what :mod:`qbdi_musicology.batch` runs for each query of
``analyses/harmonic_drift.py`` (its ``DEFAULT_TASK``): the model's sweep, the drift table
(with the channel's statistics and the information rates), the annotated MusicXML of
every rate and the drift overview, returned as plain data for the runner to store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from .batch import QueryOutput, QueryTask, StageClock
from .gcpause import without_gc_pauses
from .rates import OVERVIEW_FILE, rate_file_name


@without_gc_pauses
def drift_task(task: QueryTask, clock: StageClock) -> QueryOutput:
    """Sweep one query through the model at every rate and analyse the harmonic drift.

    For a chorale at rates 0, 32 and inf this returns three rows (chord agreement, tonic
    share, Tonnetz distances, channel statistics... per rate), one annotated MusicXML per
    rate and the drift overview score that stacks the query over every rate's
    improvisation.
    """
    from . import generate, pieces
    from .analysis import drift
    from .bars import bar_structure

    with clock("load query"):
        score = pieces.resolve_query(task.spec)
    with clock("load model"):
        model = _cached_model(task.model)
    with clock("sweep"):
        results = generate.sweep(score, model, list(task.rates), seed=task.seed)
    improvisations = {float(rate): improv for rate, improv, _ in results}
    with clock("analyse"):
        analysed = drift.drift_analysis(score, improvisations)
        table = analysed.summary
        channel = pd.DataFrame([_channel_columns(float(rate), result)
                                for rate, _, result in results])
        # the model's own fallback for what the channel does not send (words for a class)
        channel["channel_mean"] = generate.default_channel(model).mean
        table = table.merge(channel, on="rate", how="left", sort=False)
        ir = _information_rates(score, improvisations)
        if ir is not None:
            table = table.merge(ir, on="rate", how="left", sort=False)
    with clock("write musicxml"):
        files = _score_files(score, improvisations, task, analysed)
    title = generate._query_title(score) if hasattr(generate, "_query_title") else task.query_id
    key = str(table["key"].iloc[0]) if "key" in table.columns and len(table) else ""
    return QueryOutput(table, files, {"title": str(title), "key": key,
                                      "bars": len(bar_structure(score))})


def _channel_columns(rate: float, result: Any) -> dict[str, Any]:
    """What the channel did at one rate: dimensions that got bits, latent variation lost."""
    row: dict[str, Any] = {"rate": rate}
    for name in ("active_dimensions", "relative_distortion", "used_bits"):
        value = getattr(result, name, None)
        if value is not None:
            row[name] = round(float(value), 6)
    return row


def _information_rates(score: Any, improvisations: dict[float, Any]) -> pd.DataFrame | None:
    """Per rate, the information rate of the improvisation (VMO, Tonnetz on beat chroma).

    Columns: ``ir_max`` (total IR at the optimal threshold), ``ir_threshold``,
    ``ir_motifs``, and the query's own ``query_ir_max`` as the reference. None where the
    dynamics analysis is not part of this installation.
    """
    try:
        from .analysis.dynamics import ir_summary
    except ImportError:
        return None
    query = ir_summary(score)
    rows = []
    for rate, improv in improvisations.items():
        found = ir_summary(improv)
        rows.append({"rate": rate, "ir_max": found.get("max_ir"),
                     "ir_threshold": found.get("optimal_threshold"),
                     "ir_motifs": found.get("n_motifs"),
                     "query_ir_max": query.get("max_ir")})
    return pd.DataFrame(rows)


def _score_files(score: Any, improvisations: dict[float, Any], task: QueryTask,
                 analysed: Any = None) -> dict[str, bytes]:
    """The annotated MusicXML per rate and the drift overview, as bytes by file name.

    ``analysed``: the :class:`~qbdi_musicology.analysis.drift.DriftResult` of these
    scores; its chord analyses are written in, not made again.
    """
    from .musicxml import musicxml_bytes

    try:
        from .annotate import harmony
    except ImportError:
        harmony = None
    files: dict[str, bytes] = {}
    for rate, improv in improvisations.items():
        if harmony is not None:
            # the query's staves over the improvisation's, chord symbols, numerals, clashes
            annotated = harmony.annotate_pair(
                score, improv, rate=rate,
                query_analysis=getattr(analysed, "query_analysis", None),
                improvisation_analysis=getattr(analysed, "analyses", {}).get(rate))
        else:
            annotated = improv  # the improvisation as generated, chord labels not added
        files[rate_file_name(rate)] = musicxml_bytes(annotated)
    if task.option("midi", False):
        files["query.mid"] = _midi_bytes(score)  # to hear the query beside each rate
        for rate, improv in improvisations.items():
            files[rate_file_name(rate, ".mid")] = _midi_bytes(improv)
    if task.option("overview", True) and harmony is not None:
        files[OVERVIEW_FILE] = musicxml_bytes(
            harmony.drift_overview(score, improvisations,
                                   query_analysis=getattr(analysed, "query_analysis", None),
                                   analyses=getattr(analysed, "analyses", None)))
    return files


def _midi_bytes(score: Any) -> bytes:
    """The MIDI file of a score as bytes (music21 writes MIDI only to a path)."""
    import tempfile

    from .musicxml import write_midi

    with tempfile.TemporaryDirectory(prefix="qbdi-midi-") as tmp:
        path = write_midi(score, Path(tmp) / "score.mid")
        return path.read_bytes()


_MODELS: dict[str | None, Any] = {}


def _cached_model(spec: str | None) -> Any:
    # One model per worker process: loading it once per query would dominate small batches.
    if spec not in _MODELS:
        from . import checkpoint
        _MODELS[spec] = checkpoint.load_model(spec)
    return _MODELS[spec]
