"""Annotated scores for theorists: query and improvisation with their harmony written in.

Two kinds of score, both written as MusicXML that opens in MuseScore:

* **one file per rate** (:func:`write_annotated`): the query's staves on top, the
  improvisation's below (a two-hand part stays a grand staff), aligned bar by bar;
* the **drift overview** (:func:`write_overview`): the query and every rate's
  improvisation, each reduced to one grand staff and stacked from the full rate down to
  the lowest, so the harmony's convergence can be read down a column of bars.

What is written into them:

* a **chord symbol** above the top staff of each score, at the start of every bar and
  wherever the chord changes inside a bar (``N.C.`` where nothing sounds);
* the **Roman numeral** in the query's key as a lyric under the lowest staff of each score
  (MuseScore shows lyrics; the chorale text of that staff is left out to make room);
* **collisions** (see :mod:`~qbdi_musicology.analysis.collisions`): the improvisation's
  notes in that segment are coloured red and a short text such as "G vs D" (query chord
  vs improvisation chord) is written above its top staff;
* the **rate** in the title and as a rehearsal mark at the improvisation's first bar;
* a **legend** in the page header (MusicXML credits) saying what each mark means.

Example::

    write_annotated(query, improvisation, "out/rate-8.musicxml", rate=8)
    write_overview(query, {math.inf: full, 8.0: eight, 0.0: zero}, "out/overview.mxl")
"""

from __future__ import annotations

import copy
import logging
import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..analysis.chords import key_name
from ..analysis.collisions import (MIN_FOREIGN_SHARE, MIN_TONNETZ_DISTANCE, AnalysedScore,
                                   _as_score, analyse_score, compare)
from ..errors import InputError
from ..musicxml import mark_write_only, score_fields, set_score_fields, write_musicxml
from ..rates import rate_short, rate_text
from .labels import _legend, _positions, _write_labels
from .layout import RATES_ONE_PER_LINE, STAFF_MM_DENSE, _header, _scale, staff_height_mm
from .staves import (_align, _assemble, _match_meter_signs, _rehearsal, _renumber,
                     _staves_of, grand_staff_reduction)
from ..gcpause import without_gc_pauses

log = logging.getLogger(__name__)



def score_title(score, default: str = "Query") -> str:
    """A score's title for people: title, movement name, or corpus file name."""
    md = getattr(score, "metadata", None)
    if md is not None:
        for value in (md.title, md.movementName, md.corpusFilePath):
            if value:
                name = str(value)
                for suffix in (".mxl", ".musicxml", ".xml", ".krn", ".mid"):
                    if name.endswith(suffix):
                        name = name[: -len(suffix)]
                return name.rsplit("/", 1)[-1]
    return default


def _analysis_of(query, improvisation, per, key, min_foreign_share, min_tonnetz_distance,
                 query_analysis: AnalysedScore | None = None,
                 improvisation_analysis: AnalysedScore | None = None):
    q = query_analysis or analyse_score(query, per=per, key=key, name="query")
    if q.key is None:
        raise InputError("the query has no sounding notes, so no key can be found")
    i = improvisation_analysis or analyse_score(improvisation, per=per, key=q.key,
                                            name="improvisation")
    pairs = compare(q, i, min_foreign_share=min_foreign_share,
                    min_tonnetz_distance=min_tonnetz_distance, per=per)
    return q, i, pairs


def on_query_bars(improvisation, query):
    """The improvisation on the query's metric bars (itself when it has them already).

    An improvisation made by :func:`~qbdi_musicology.generate.sweep` is written on its
    query's bars. One made otherwise (full grid bars from an older file, or
    ``bars_to_score`` without a structure) but with as many bars as the query is read on
    the grid and written again on the query's bars: a pickup bar keeps the end of the
    improvisation's first bar, a final bar the start of its last. Scores with another
    number of bars are returned as they are (aligning them is then an error).
    """
    from ..bars import METRIC_MARK, bar_structure, same_bars
    from ..pianoroll import bars_to_score, convert_score
    wanted, have = bar_structure(query), bar_structure(improvisation)
    if same_bars(wanted, have):
        return improvisation
    conv = convert_score(improvisation)
    if conv.bars.shape[0] != len(wanted):
        return improvisation
    keys = list(improvisation.recurse().getElementsByClass("Key"))
    names = [p.partName for p in improvisation.parts if p.partName] if hasattr(
        improvisation, "parts") else []
    tempo = next(iter(improvisation.recurse().getElementsByClass("MetronomeMark")), None)
    out = bars_to_score(conv.bars, structure=wanted, key=keys[0] if keys else None,
                        tempo=tempo.getQuarterBPM() if tempo is not None else None,
                        title=score_title(improvisation, "Improvisation"))
    out.metadata = copy.deepcopy(improvisation.metadata)
    for part in out.parts:
        part.partName = names[0] if names else "Improvisation"
    log.info("improvisation rewritten on the query's bars (%s)", wanted.describe())
    setattr(out, METRIC_MARK, wanted)
    return out


def _improv_collisions(i: AnalysedScore, pairs: pd.DataFrame) -> pd.DataFrame:
    """Collision flags and texts indexed like the improvisation's own segments."""
    flags = pd.DataFrame({"collision": np.zeros(len(i.table), dtype=bool),
                          "collision_text": [""] * len(i.table)})
    rows = pairs.attrs["improv_rows"]
    flags.loc[rows, "collision"] = pairs["collision"].to_numpy()
    flags.loc[rows, "collision_text"] = pairs["collision_text"].to_numpy()
    return flags


@without_gc_pauses
def annotate_pair(query, improvisation, *, rate: Any = None, per: str = "bar", key=None,
                  min_foreign_share: float = MIN_FOREIGN_SHARE,
                  min_tonnetz_distance: float = MIN_TONNETZ_DISTANCE,
                  query_analysis: AnalysedScore | None = None,
                  improvisation_analysis: AnalysedScore | None = None):
    """A new score: the query's staves over the improvisation's, with the harmony written in.

    Neither input is changed. Bars are paired in order and both scores are cut to the
    bars they share (the header says so). Example: a bar of G-B-D over a bar of D-F#-A in
    C major gets "G" and "V" on the query, "D", "II" and the red text "G vs D" on the
    improvisation.

    ``query_analysis`` / ``improvisation_analysis``: the scores' :func:`analyse_score`
    results when the caller has them already (same ``per``; the improvisation analysed in
    the query's key; :func:`~qbdi_musicology.analysis.drift.drift_analysis` returns them);
    otherwise they are made here.
    """
    from music21 import metadata, stream
    query, given = _as_score(query), _as_score(improvisation)
    improvisation = on_query_bars(given, query)
    if improvisation is not given:  # written again on the query's bars: analyse that
        improvisation_analysis = None
    q, i, pairs = _analysis_of(query, improvisation, per, key, min_foreign_share,
                               min_tonnetz_distance, query_analysis, improvisation_analysis)
    q_staves = _staves_of(query, "Query")
    i_staves = _staves_of(improvisation, "Improvisation")
    _match_meter_signs(q_staves, [i_staves])
    n_query, n_improv = len(q_staves.measures[0]), len(i_staves.measures[0])
    n_bars, shifts = _align([q_staves, i_staves])
    _write_labels(q_staves, q.table, _positions(q.table, per, shifts[0]))
    counts = _write_labels(i_staves, i.table, _positions(i.table, per, shifts[1]),
                           collisions=_improv_collisions(i, pairs))
    rate_label = rate_text(rate)
    if rate_label:
        _rehearsal(i_staves, rate_label)
    title = score_title(query)
    out = stream.Score()
    out.metadata = metadata.Metadata()
    out.metadata.title = f"{title}: {_improvisation_name(rate)}"
    set_score_fields(out, {**score_fields(improvisation), **_rate_field(rate),
                           "query title": title, "analysis key": key_name(q.key),
                           "analysis per": per})
    _assemble(out, [(q_staves, "Query", "Q."), (i_staves, "Improvisation", "Impr.")])
    _renumber(out)
    from ..analysis.drift import _bar_triad_agreement, _grid_bars
    agreement = _bar_triad_agreement(_grid_bars(query), improvisation)
    symbols = float(pairs["same_chord"].mean()) if len(pairs) else math.nan
    bars = f"{n_bars} bars" if n_query == n_improv else \
        f"first {n_bars} bars (query {n_query}, improvisation {n_improv})"
    facts = [f"Key: {key_name(q.key)}; labels per {per}, {len(pairs)} segments",
             f"{bars}; triad agreement {agreement:.2f}",
             f"same chord symbol {symbols:.2f}; {counts['collisions']} collisions"]
    # short lines: the right-hand block must not run into the legend on the left
    header_mm = _header(out, out.metadata.title, "\n".join(facts), _legend(per))
    # smaller than music21's 7 mm: a bar of sixteenths in the improvisation otherwise
    # leaves room for two or three bars per page
    _scale(out, staff_height_mm(len(out.parts), largest=STAFF_MM_DENSE, header_mm=header_mm))
    return mark_write_only(out)  # built here: the writer need not copy it


def label_score(score, *, per: str = "bar", key=None):
    """A new score with chord symbols above its top staff and Roman numerals under its lowest.

    The score is read on its metric bars (:func:`qbdi_musicology.bars.metric_score`);
    labels go where the chord changes (at most one per ``per``); the numerals are in the
    score's key (``key`` overrides it) and written as lyrics, which MuseScore draws. The
    label table (:func:`~qbdi_musicology.analysis.chords.label_chords`) is kept on the new
    score as ``chord_labels``. Example: bwv66.6 gets "F#m" over bar 1 and "i" under it.
    """
    from music21 import metadata, stream
    source = _as_score(score)
    analysed = analyse_score(source, per=per, key=key, name="score")
    staves = _staves_of(source, "Score")
    _align([staves])
    _write_labels(staves, analysed.table, _positions(analysed.table, per, 0.0))
    out = stream.Score()
    out.metadata = copy.deepcopy(source.metadata) if source.metadata is not None \
        else metadata.Metadata()
    _assemble(out, [(staves, "", "")])
    for part, name in zip(out.parts, staves.names):
        part.partName = name
        part.partAbbreviation = None
    _renumber(out)
    set_score_fields(out, {**score_fields(source), "analysis key": key_name(analysed.key),
                           "analysis per": per})
    out.chord_labels = analysed.table
    return out


def _improvisation_name(rate: Any) -> str:
    """``'improvisation at 8 bits/bar'``; a label that is not a rate: ``'improvisation take1'``."""
    label = rate_text(rate)
    if not label:
        return "improvisation"
    try:
        float(rate)
    except (TypeError, ValueError):
        return f"improvisation {label}"
    return f"improvisation at {label}"


def _rate_field(rate: Any) -> dict[str, Any]:
    return {} if rate is None else {"rate": rate}


def write_annotated(query, improvisation, path, *, rate: Any = None, per: str = "bar",
                    key=None, compressed: bool | None = None,
                    fields: Mapping[str, Any] | None = None,
                    min_foreign_share: float = MIN_FOREIGN_SHARE,
                    min_tonnetz_distance: float = MIN_TONNETZ_DISTANCE,
                    query_analysis: AnalysedScore | None = None,
                    improvisation_analysis: AnalysedScore | None = None) -> Path:
    """Write :func:`annotate_pair` to ``path`` (``.musicxml``, or ``.mxl`` compressed)."""
    score = annotate_pair(query, improvisation, rate=rate, per=per, key=key,
                          min_foreign_share=min_foreign_share,
                          min_tonnetz_distance=min_tonnetz_distance,
                          query_analysis=query_analysis,
                          improvisation_analysis=improvisation_analysis)
    return write_musicxml(score, path, compressed=compressed, fields=fields,
                          copy_score=False)  # a score built here, only to be written


# ----------------------------------------------------------------------------------------
# the drift overview


@without_gc_pauses
def drift_overview(query, improvisations: Mapping[Any, Any], *, per: str = "bar", key=None,
                   min_foreign_share: float = MIN_FOREIGN_SHARE,
                   min_tonnetz_distance: float = MIN_TONNETZ_DISTANCE,
                   query_analysis: AnalysedScore | None = None,
                   analyses: Mapping[Any, AnalysedScore] | None = None):
    """The query over every rate's improvisation, one grand staff each, highest rate first.

    Each grand staff carries its chord symbols and Roman numerals; collisions with the query
    are red. Reading a bar downwards shows what each rate kept of the query's harmony.
    ``query_analysis`` and ``analyses`` (by rate) reuse analyses the caller made already,
    as in :func:`annotate_pair`.
    """
    from music21 import metadata, stream
    from ..analysis.drift import _sort_rates
    if not improvisations:
        raise InputError("no improvisations for the drift overview; give at least one")
    query = _as_score(query)
    q = query_analysis or analyse_score(query, per=per, key=key, name="query")
    if q.key is None:
        raise InputError("the query has no sounding notes, so no key can be found")
    rates = _sort_rates(list(improvisations))
    groups = [grand_staff_reduction(query, "Query")]
    given = dict(analyses or {})
    made = []
    for rate in rates:
        original = _as_score(improvisations[rate])
        improv = on_query_bars(original, query)
        _, i, pairs = _analysis_of(query, improv, per, key, min_foreign_share,
                                   min_tonnetz_distance, query_analysis=q,
                                   improvisation_analysis=given.get(rate)
                                   if improv is original else None)
        made.append((rate, i, pairs))
        groups.append(grand_staff_reduction(improv, rate_text(rate) or str(rate)))
    _match_meter_signs(groups[0], groups[1:])
    n_bars, shifts = _align(groups)
    _write_labels(groups[0], q.table, _positions(q.table, per, shifts[0]))
    from ..analysis.drift import _bar_triad_agreement, _grid_bars
    query_bars = _grid_bars(query)
    summary = []
    for g, shift, (rate, i, pairs) in zip(groups[1:], shifts[1:], made):
        counts = _write_labels(g, i.table, _positions(i.table, per, shift),
                               collisions=_improv_collisions(i, pairs))
        # no rehearsal marks here: MuseScore stacks them all over the top staff; the staff
        # names say the rates
        summary.append((rate, _bar_triad_agreement(query_bars, improvisations[rate]),
                        counts["collisions"]))
    title = score_title(query)
    out = stream.Score()
    out.metadata = metadata.Metadata()
    out.metadata.title = f"{title}: harmonic drift over {len(rates)} rates"
    set_score_fields(out, {"query title": title, "rates": ", ".join(
        rate_text(r) for r in rates), "analysis key": key_name(q.key), "analysis per": per})
    labelled = [(groups[0], "Query", "Q.")] + [
        (g, rate_text(r), rate_short(r)) for g, r in zip(groups[1:], rates)]
    _assemble(out, labelled)
    _renumber(out)
    facts = overview_facts(key_name(q.key), per, n_bars, summary)
    header_mm = _header(out, out.metadata.title, "\n".join(facts), _legend(per))
    # a whole system on a page; no larger than the annotated scores: sixteenths need room
    _scale(out, staff_height_mm(len(out.parts), largest=STAFF_MM_DENSE, header_mm=header_mm))
    return mark_write_only(out)  # built here: the writer need not copy it


def overview_facts(key: str, per: str, n_bars: int,
                   summary: list[tuple[Any, float, int]]) -> list[str]:
    """The lines of the overview's facts block: key, then each rate's agreement and collisions.

    ``summary`` holds (rate, triad agreement, collisions) from the highest rate down (the
    bar triad agreement of ``qbdi evaluate`` and the drift table). Up to
    five rates get a line each; more are written two to a line in a short form under a
    heading, so that ten rates take seven lines and the header leaves room for the system
    on page 1. Example, three rates::

        Key: f# minor; labels per bar, 10 bars
        full rate: triad agreement 0.50, 0 collisions
        8 bits/bar: triad agreement 0.10, 3 collisions
        0 bits/bar: triad agreement 0.20, 4 collisions

    and eight: ``Key: ...``, ``Triad agreement, collisions by rate (bits/bar):``, then
    ``full: 0.50, 0    256: 0.50, 0`` and three more such lines.
    """
    lines = [f"Key: {key}; labels per {per}, {n_bars} bars"]
    if len(summary) <= RATES_ONE_PER_LINE:
        return lines + [f"{rate_text(rate)}: triad agreement {agreement:.2f}, {clashes} collisions"
                        for rate, agreement, clashes in summary]
    short = [f"{rate_short(rate)}: {agreement:.2f}, {clashes}"
             for rate, agreement, clashes in summary]
    lines.append("Triad agreement, collisions by rate (bits/bar):")
    lines += ["    ".join(short[k:k + 2]) for k in range(0, len(short), 2)]
    return lines


def write_overview(query, improvisations: Mapping[Any, Any], path, *, per: str = "bar",
                   key=None, compressed: bool | None = None,
                   fields: Mapping[str, Any] | None = None,
                   min_foreign_share: float = MIN_FOREIGN_SHARE,
                   min_tonnetz_distance: float = MIN_TONNETZ_DISTANCE,
                   query_analysis: AnalysedScore | None = None,
                   analyses: Mapping[Any, AnalysedScore] | None = None) -> Path:
    """Write :func:`drift_overview` to ``path`` (``.musicxml``, or ``.mxl`` compressed)."""
    score = drift_overview(query, improvisations, per=per, key=key,
                           min_foreign_share=min_foreign_share,
                           min_tonnetz_distance=min_tonnetz_distance,
                           query_analysis=query_analysis, analyses=analyses)
    return write_musicxml(score, path, compressed=compressed, fields=fields,
                          copy_score=False)  # a score built here, only to be written
