"""Query versus improvisation, segment by segment: agreement and harmonic collisions.

Both scores are cut into the same segments (bars, or beats) and labelled with
:func:`~qbdi_musicology.analysis.chords.label_chords` **in the query's key**, so a Roman
numeral means the same degree in both. Segments are paired in order: the first bar of the
improvisation with the first bar of the query, and so on (a pickup bar counts as a bar).

For each pair:

* ``same_chord``: the same chord symbol (root and quality; ``N.C.`` matches ``N.C.``);
* ``same_root``: the same root, whatever the quality (C and Cm7 share a root);
* ``same_function``: the same harmonic function, T, S or D, in the query's key
  (G and Bdim are both D in C major);
* ``tonnetz_distance``: distance of the two sounding profiles' tonal centroids (0 = same
  sonority, ~1.2 = a fifth apart, ~2 = a tritone apart);
* ``foreign_share``: the share of the improvisation's sounding pitch classes that are not
  tones of the query's chord (0 = it only plays the query's chord tones; empty when either
  side is silent);
* ``collision``: the improvisation's chord clashes with the query's: both sound, the roots
  differ, the functions differ, at least ``min_foreign_share`` of the improvisation's pitch
  classes are foreign to the query's chord, and the Tonnetz distance is at least
  ``min_tonnetz_distance``. G (D function in C) against D major (S function) is a collision;
  G against G7, or G against Bdim (both D), is not. ``collision_text`` reads "G vs D".

Example::

    table = compare_scores(query, improvisation, per="bar")
    table[table.collision][["bar", "collision_text"]]
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import InputError, ParameterError
from .chords import (NO_CHORD, QUALITY_BY_NAME, _as_score, _label_segments, key_name,
                     resolve_key, score_segments)
from .tonnetz import tonnetz_distance

log = logging.getLogger(__name__)

#: Default: at least half of the improvisation's pitch classes foreign to the query chord.
MIN_FOREIGN_SHARE = 0.5
#: Default: no extra Tonnetz condition.
MIN_TONNETZ_DISTANCE = 0.0

COLUMNS = ("bar", "beat", "offset", "improv_bar", "query_chord", "improv_chord",
           "query_roman", "improv_roman", "query_function", "improv_function", "same_chord",
           "same_root", "same_function", "tonnetz_distance", "foreign_share", "collision",
           "collision_text")


@dataclass
class AnalysedScore:
    """A score's chord table and sounding profiles, labelled in a given key."""

    table: pd.DataFrame
    chroma: np.ndarray
    key: object
    meter: str
    warnings: list[str] = field(default_factory=list)


def analyse_score(score, *, per: str = "bar", key=None, name: str = "score") -> AnalysedScore:
    """Segment and label ``score`` (in ``key``; None estimates it from the score)."""
    score = _as_score(score)
    seg = score_segments(score, per)
    k = resolve_key(key, score, seg.chroma.sum(axis=0)) if key is None else resolve_key(key)
    table = _label_segments(seg, k)
    warnings = []
    if seg.chroma.sum() == 0:
        warnings.append(f"the {name} has no sounding notes: every segment is {NO_CHORD}")
    return AnalysedScore(table, seg.chroma, k, seg.meter, warnings)


def chord_tones(root_pc: int, quality: str) -> frozenset[int]:
    """Pitch classes of a labelled chord: ``(7, 'major') -> {7, 11, 2}`` (G-B-D)."""
    if root_pc < 0 or quality not in QUALITY_BY_NAME:
        return frozenset()
    return frozenset((root_pc + i) % 12 for i in QUALITY_BY_NAME[quality].intervals)


def _ordinal_keys(table: pd.DataFrame, per: str) -> pd.DataFrame:
    """(bar ordinal, beat) keys so bars are paired in order, whatever their numbers.

    A new bar starts at every row (per bar), or where the bar number changes or the beat
    does not increase (per beat): two bars both numbered 7 stay two bars.
    """
    if per == "bar":
        ordinal = np.arange(len(table))
    else:
        bar, beat = table["bar"].to_numpy(), table["beat"].to_numpy()
        new = np.ones(len(table), dtype=bool)
        new[1:] = (bar[1:] != bar[:-1]) | (beat[1:] <= beat[:-1])
        ordinal = np.cumsum(new) - 1
    return pd.DataFrame({"bar_index": ordinal, "beat": table["beat"].to_numpy()})


def compare(query: AnalysedScore, improv: AnalysedScore, *,
            min_foreign_share: float = MIN_FOREIGN_SHARE,
            min_tonnetz_distance: float = MIN_TONNETZ_DISTANCE,
            per: str = "bar") -> pd.DataFrame:
    """Pair the segments of two analysed scores and compare them (see the module text)."""
    if not 0.0 <= min_foreign_share <= 1.0:
        raise ParameterError(f"min_foreign_share={min_foreign_share}: must be 0-1")
    if min_tonnetz_distance < 0:
        raise ParameterError(f"min_tonnetz_distance={min_tonnetz_distance}: must be >= 0")
    warnings = list(query.warnings) + list(improv.warnings)
    q, i = query.table, improv.table
    if query.meter != improv.meter:
        if per == "beat":
            raise InputError(
                f"the query is in {query.meter} and the improvisation in {improv.meter}: "
                "their beats cannot be paired; compare per bar (--per bar)")
        warnings.append(f"different meters: query {query.meter}, improvisation "
                        f"{improv.meter}; bars are paired in order")
    qk, ik = _ordinal_keys(q, per), _ordinal_keys(i, per)
    qk["q"] = np.arange(len(q))
    ik["i"] = np.arange(len(i))
    # per bar, bars pair in order even when one has a pickup (its "beat" is then not 1)
    on = ["bar_index"] if per == "bar" else ["bar_index", "beat"]
    if per == "bar":
        qk, ik = qk.drop(columns="beat"), ik.drop(columns="beat")
    pairs = qk.merge(ik, on=on, how="inner")
    n_q, n_i = int(qk["bar_index"].max()) + 1 if len(qk) else 0, \
        int(ik["bar_index"].max()) + 1 if len(ik) else 0
    if n_q != n_i:
        warnings.append(f"the query has {n_q} bars and the improvisation {n_i}: only the "
                        f"first {min(n_q, n_i)} bars are compared")
    if len(pairs) < min(len(q), len(i)):
        warnings.append(f"{min(len(q), len(i)) - len(pairs)} segments have no partner "
                        "(different beats) and are left out")
    qi, ii = pairs["q"].to_numpy(), pairs["i"].to_numpy()
    qt, it = q.iloc[qi].reset_index(drop=True), i.iloc[ii].reset_index(drop=True)
    q_sounds = (qt["chord_symbol"] != NO_CHORD).to_numpy()
    i_sounds = (it["chord_symbol"] != NO_CHORD).to_numpy()
    same_chord = (qt["chord_symbol"] == it["chord_symbol"]).to_numpy()
    same_root = (qt["root_pc"] == it["root_pc"]).to_numpy()
    same_function = ((qt["function"] == it["function"]) & q_sounds & i_sounds).to_numpy() | \
        (~q_sounds & ~i_sounds)
    distance = np.asarray(tonnetz_distance(query.chroma[qi], improv.chroma[ii]), dtype=float)
    foreign = np.full(len(pairs), np.nan)
    for j in range(len(pairs)):
        if q_sounds[j] and i_sounds[j]:
            tones = chord_tones(int(qt.at[j, "root_pc"]), qt.at[j, "quality"])
            pcs = it.at[j, "pitch_classes"]
            foreign[j] = sum(pc not in tones for pc in pcs) / len(pcs)
    collision = q_sounds & i_sounds & ~same_root & ~same_function & \
        (np.nan_to_num(foreign) >= min_foreign_share - 1e-12) & \
        (distance >= min_tonnetz_distance)
    text = np.where(collision, qt["chord_symbol"] + " vs " + it["chord_symbol"], "")
    out = pd.DataFrame({
        "bar": qt["bar"], "beat": qt["beat"], "offset": qt["offset"],
        "improv_bar": it["bar"],
        "query_chord": qt["chord_symbol"], "improv_chord": it["chord_symbol"],
        "query_roman": qt["roman"], "improv_roman": it["roman"],
        "query_function": qt["function"], "improv_function": it["function"],
        "same_chord": same_chord, "same_root": same_root, "same_function": same_function,
        "tonnetz_distance": np.round(distance, 6), "foreign_share": np.round(foreign, 6),
        "collision": collision, "collision_text": text,
    }, columns=list(COLUMNS))
    for w in warnings:
        log.info("%s", w)  # callers decide how loudly to repeat it (compare_scores: warning)
    out.attrs["warnings"] = warnings
    out.attrs["key"] = key_name(query.key)
    out.attrs["per"] = per
    out.attrs["query_rows"] = [int(x) for x in qi]
    out.attrs["improv_rows"] = [int(x) for x in ii]
    out.attrs["thresholds"] = {"min_foreign_share": min_foreign_share,
                               "min_tonnetz_distance": min_tonnetz_distance}
    return out


def compare_scores(query, improvisation, *, per: str = "bar", key=None,
                   min_foreign_share: float = MIN_FOREIGN_SHARE,
                   min_tonnetz_distance: float = MIN_TONNETZ_DISTANCE) -> pd.DataFrame:
    """Compare an improvisation with its query, segment by segment.

    ``key``: the query's key (None estimates it from the query). Scores of different lengths
    are compared over their common bars; ``table.attrs["warnings"]`` says so (and it is
    logged). A query without notes and without a given key raises :class:`InputError`.

    Example: a query bar of G-B-D against an improvisation bar of D-F#-A (in C major) gives
    ``collision=True`` and ``collision_text='G vs D'``.
    """
    q = analyse_score(query, per=per, key=key, name="query")
    if q.key is None:
        raise InputError("the query has no sounding notes, so no key can be found; "
                         "give a query with notes (or a key with --key)")
    i = analyse_score(improvisation, per=per, key=q.key, name="improvisation")
    table = compare(q, i, min_foreign_share=min_foreign_share,
                    min_tonnetz_distance=min_tonnetz_distance, per=per)
    for w in table.attrs["warnings"]:
        log.warning("%s", w)
    return table
