"""Harmonic drift over a rate sweep: does the harmony simplify toward the tonic as the rate falls?

Dubnov's claim is that, as fewer bits per bar pass the channel, the improvisation keeps less
of the query's harmony and falls back on the style's most common chords, typically the
tonic. :func:`drift_table` measures this, one row per rate, with everything labelled in the
**query's key**:

* ``chord_agreement`` / ``root_agreement`` / ``function_agreement``: share of segments
  where the improvisation has the query's chord / root / function (T, S, D);
* ``triad_agreement``: share of the query's sounding bars (on the model's grid) whose
  best-matching major/minor triad the improvisation's bar has too: the same measure, by
  the same function, as ``qbdi evaluate`` (the README's headline number);
* ``tonic_share``: share of the improvisation's bars whose best-matching triad is the tonic
  triad of the query's key (the measure of ``qbdi evaluate`` and the README);
* ``distinct_chords``: how many different triads the improvisation's bars have;
* ``tonic_symbol_share`` / ``distinct_chord_symbols``: the same on the chord symbols of
  the sounding segments (in C major: C or Cmaj7 count as the tonic; sevenths make
  symbols distinct);
* ``chord_entropy_bits``: Shannon entropy of its chord symbols (0 = one chord throughout;
  3 = as varied as eight equally common chords);
* ``mean_tonnetz_to_query``: mean Tonnetz distance of each segment to the query's segment;
* ``mean_tonnetz_to_tonic``: mean Tonnetz distance of each segment to the tonic triad;
* ``collisions`` / ``collision_share``: segments that clash with the query (see
  :mod:`~qbdi_musicology.analysis.collisions`).

The query's own ``query_tonic_share``, ``query_distinct_chords`` and
``query_chord_entropy_bits`` are repeated on each row as the reference: a drift toward the
tonic shows as ``tonic_share`` rising above ``query_tonic_share`` as the rate falls.

Example::

    table = drift_table(query, {math.inf: full, 32.0: mid, 0.0: zero})
    table[["rate", "chord_agreement", "tonic_share"]]
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..errors import InputError
from .chords import NO_CHORD
from .chroma import bars_chroma, best_triad, tonic_triad_index
from .collisions import (MIN_FOREIGN_SHARE, MIN_TONNETZ_DISTANCE, AnalysedScore,
                         analyse_score, compare)
from .tonnetz import pcs_chroma, tonnetz_distance

log = logging.getLogger(__name__)

SUMMARY_COLUMNS = (
    "rate", "segments", "chord_agreement", "root_agreement", "function_agreement",
    "triad_agreement", "tonic_share", "distinct_chords", "tonic_symbol_share",
    "distinct_chord_symbols", "chord_entropy_bits",
    "mean_tonnetz_to_query", "mean_tonnetz_to_tonic", "collisions", "collision_share",
    "query_tonic_share", "query_distinct_chords", "query_tonic_symbol_share",
    "query_distinct_chord_symbols", "query_chord_entropy_bits", "key", "per",
    "warnings")

#: Qualities that count as "the tonic triad" when the root is the tonic.
TONIC_QUALITIES = {"major": ("major", "major-seventh"), "minor": ("minor", "minor-seventh")}


@dataclass
class DriftResult:
    """The per-rate summary, the per-segment long table, and the analyses they came from.

    ``query_analysis`` and ``analyses`` (by rate) are the chord analyses of the query and of
    each improvisation (in the query's key): hand them to
    :func:`~qbdi_musicology.annotate.harmony.annotate_pair` and
    :func:`~qbdi_musicology.annotate.harmony.drift_overview` so that no score is analysed
    twice.
    """

    summary: pd.DataFrame
    segments: pd.DataFrame
    query_analysis: AnalysedScore | None = None
    analyses: dict = field(default_factory=dict)


def chord_entropy_bits(labels) -> float:
    """Shannon entropy (bits) of a sequence of chord labels, ``N.C.`` left out.

    Example: ``['C', 'G', 'C', 'G'] -> 1.0``; ``['C', 'C'] -> 0.0``; no chord at all -> 0.
    """
    values = pd.Series(list(labels))
    values = values[values != NO_CHORD]
    if values.empty:
        return 0.0
    p = values.value_counts(normalize=True).to_numpy()
    return float(-(p * np.log2(p)).sum()) + 0.0


def _tonic_flags(analysed: AnalysedScore, k) -> np.ndarray:
    table = analysed.table
    if k is None:
        return np.zeros(len(table), dtype=bool)
    return ((table["root_pc"] == k.tonic.pitchClass)
            & table["quality"].isin(TONIC_QUALITIES[k.mode])).to_numpy()


def _tonic_chroma(k) -> np.ndarray:
    third = 4 if k.mode == "major" else 3
    t = k.tonic.pitchClass
    return pcs_chroma([t, t + third, t + 7])


def _sort_rates(rates: list[Any]) -> list[Any]:
    def numeric(r):
        try:
            return float(r)
        except (TypeError, ValueError):
            return None
    if all(numeric(r) is not None for r in rates):
        return sorted(rates, key=lambda r: -float(r))  # full rate first, then falling
    return list(rates)


def drift_analysis(query, improvisations: Mapping[Any, Any], *, per: str = "bar", key=None,
                   min_foreign_share: float = MIN_FOREIGN_SHARE,
                   min_tonnetz_distance: float = MIN_TONNETZ_DISTANCE) -> DriftResult:
    """Summary and per-segment tables of a rate sweep (see :func:`drift_table`)."""
    if not improvisations:
        raise InputError("no improvisations to analyse; give at least one")
    q = analyse_score(query, per=per, key=key, name="query")
    if q.key is None:
        raise InputError("the query has no sounding notes, so no key can be found; "
                         "give a query with notes (or a key)")
    k = q.key
    tonic_chroma = _tonic_chroma(k)
    q_sounding = (q.table["chord_symbol"] != NO_CHORD).to_numpy()
    q_tonic = _tonic_flags(q, k)
    query_tonic_share = float(q_tonic[q_sounding].mean()) if q_sounding.any() else math.nan
    query_distinct = int(q.table.loc[q_sounding, "chord_symbol"].nunique())
    query_entropy = chord_entropy_bits(q.table["chord_symbol"])
    q_triads = best_triad(q.chroma)
    query_bars = _grid_bars(query)
    tonic_index = tonic_triad_index(k.tonic.pitchClass, "minor" if k.mode == "minor"
                                    else "major")
    found_triads = best_triad(bars_chroma(query_bars))
    query_triads = len(set(found_triads[found_triads >= 0].tolist()))
    rows, long_tables = [], []
    analyses = {}
    for rate in _sort_rates(list(improvisations)):
        name = f"improvisation at rate {rate}"
        i = analyse_score(improvisations[rate], per=per, key=k, name=name)
        analyses[rate] = i
        pairs = compare(q, i, min_foreign_share=min_foreign_share,
                        min_tonnetz_distance=min_tonnetz_distance, per=per)
        # the compared segments of each score, in pair order
        q_index = np.asarray(pairs.attrs["query_rows"], dtype=int)
        i_index = np.asarray(pairs.attrs["improv_rows"], dtype=int)
        i_table = i.table.iloc[i_index].reset_index(drop=True)
        sounding = (i_table["chord_symbol"] != NO_CHORD).to_numpy()
        tonic = _tonic_flags(i, k)[i_index]
        to_tonic = np.asarray(tonnetz_distance(i.chroma[i_index], tonic_chroma), dtype=float)
        triad_same = best_triad(i.chroma[i_index]) == q_triads[q_index]
        n = len(pairs)
        bars_measured = _bar_measures(query_bars, improvisations[rate], tonic_index)
        rows.append({
            "rate": rate, "segments": n,
            "chord_agreement": _mean(pairs["same_chord"]),
            "root_agreement": _mean(pairs["same_root"]),
            "function_agreement": _mean(pairs["same_function"]),
            "triad_agreement": bars_measured["triad_agreement"],
            "tonic_share": bars_measured["tonic_share"],
            "distinct_chords": bars_measured["distinct_chords"],
            "tonic_symbol_share": _mean(tonic[sounding]),
            "distinct_chord_symbols": int(i_table.loc[sounding, "chord_symbol"].nunique()),
            "chord_entropy_bits": round(chord_entropy_bits(i_table["chord_symbol"]), 6),
            "mean_tonnetz_to_query": _mean(pairs["tonnetz_distance"]),
            "mean_tonnetz_to_tonic": _mean(to_tonic[sounding]),
            "collisions": int(pairs["collision"].sum()),
            "collision_share": _mean(pairs["collision"]),
            "query_tonic_share": bars_measured["query_tonic_share"],
            "query_distinct_chords": query_triads,
            "query_tonic_symbol_share": query_tonic_share,
            "query_distinct_chord_symbols": query_distinct,
            "query_chord_entropy_bits": round(query_entropy, 6),
            "key": pairs.attrs.get("key", ""), "per": per,
            "warnings": "; ".join(pairs.attrs.get("warnings", [])),
        })
        long = pairs.copy()
        long.insert(0, "rate", rate)
        long["improv_is_tonic"] = tonic
        long["improv_tonnetz_to_tonic"] = np.round(to_tonic, 6)
        long["same_triad"] = triad_same
        long_tables.append(long)
    for rate, row in zip(_sort_rates(list(improvisations)), rows):
        if row["warnings"]:
            log.warning("rate %s: %s", rate, row["warnings"])
    summary = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    segments = pd.concat(long_tables, ignore_index=True)
    return DriftResult(summary, segments, q, analyses)


def _grid_bars(score) -> np.ndarray:
    """The score's bars as the model reads them (its metric bars on the model's grid)."""
    from ..bars import metric_score
    from ..pianoroll import convert_score

    return convert_score(metric_score(score)).bars


def _bar_measures(query_bars: np.ndarray, improvisation, tonic_index: int) -> dict:
    """``triad_agreement``, ``tonic_share``, ``distinct_chords`` as ``qbdi evaluate`` counts them.

    One function (:func:`qbdi_musicology.evaluate.bar_metrics`) on the model's bars of both
    scores, so the drift table, the report, the lesson page and ``qbdi evaluate`` show one
    number for one measure.
    """
    from ..evaluate import bar_metrics

    improv_bars = _grid_bars(improvisation)
    if improv_bars.shape != query_bars.shape:
        log.warning("the improvisation has %d bars, the query %d: no bar measures",
                    improv_bars.shape[0], query_bars.shape[0])
        return dict(triad_agreement=math.nan, tonic_share=math.nan, distinct_chords=0,
                    query_tonic_share=math.nan)
    found = bar_metrics(query_bars, improv_bars, tonic_triad=tonic_index)
    return {name: (round(float(found[name]), 6) if name != "distinct_chords"
                   else int(found[name]))
            for name in ("triad_agreement", "tonic_share", "distinct_chords",
                         "query_tonic_share")}


def _bar_triad_agreement(query_bars: np.ndarray, improvisation) -> float:
    """``triad_agreement`` of :func:`_bar_measures` alone (the tonic plays no part in it)."""
    return _bar_measures(query_bars, improvisation, -1)["triad_agreement"]


def _mean(values) -> float:
    arr = np.asarray(values, dtype=float)
    arr = arr[~np.isnan(arr)]
    return round(float(arr.mean()), 6) if len(arr) else math.nan


def drift_table(query, improvisations: Mapping[Any, Any], *, per: str = "bar", key=None,
                min_foreign_share: float = MIN_FOREIGN_SHARE,
                min_tonnetz_distance: float = MIN_TONNETZ_DISTANCE) -> pd.DataFrame:
    """One row per rate: how much of the query's harmony each improvisation keeps.

    ``improvisations`` maps a rate (bits per bar; ``math.inf`` for the full rate) to an
    improvisation score; rows come out from the highest rate to the lowest. ``key``: the
    query's key (None estimates it). See the module text for the columns.

    Example: an improvisation that plays C major in every bar of a C-major query has
    ``tonic_share == 1.0``, one distinct chord and a chord entropy of 0 bits.
    """
    return drift_analysis(query, improvisations, per=per, key=key,
                          min_foreign_share=min_foreign_share,
                          min_tonnetz_distance=min_tonnetz_distance).summary


def drift_segments(query, improvisations: Mapping[Any, Any], *, per: str = "bar", key=None,
                   min_foreign_share: float = MIN_FOREIGN_SHARE,
                   min_tonnetz_distance: float = MIN_TONNETZ_DISTANCE) -> pd.DataFrame:
    """The long table: one row per rate and segment (the comparison columns + ``rate``)."""
    return drift_analysis(query, improvisations, per=per, key=key,
                          min_foreign_share=min_foreign_share,
                          min_tonnetz_distance=min_tonnetz_distance).segments
