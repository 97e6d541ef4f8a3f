"""How much of the query's harmony an improvisation keeps, and how different its texture is.

Per bar, query and improvisation are each reduced to a duration-weighted chroma and its best
major/minor triad (:mod:`qbdi_musicology.analysis.chroma`). Measures, for one query at one
rate:

* ``triad_agreement``: share of the query's sounding bars whose improvised bar has the same
  best triad (C major vs C major agrees; C major vs G major does not).
* ``root_agreement``: the same for the triad's root only (C major vs C minor agrees).
* ``texture_difference``: mean over bars of 1 - Jaccard(onsets of query, onsets of
  improvisation), onsets being (step, pitch) cells where a note is struck; 0 = same notes
  at the same times, 1 = no common attack.
* ``rhythm_difference``: the same on onset *times* only (steps with any attack).
* ``tonic_share``: share of improvised bars whose triad is the query's tonic triad (key by
  music21's ``analyze('key')`` on the query).
* ``distinct_chords``: how many different triads the improvisation uses.
* ``silent_share``: share of improvised bars with no note at all.

:func:`evaluate_model` runs a model over a query set and a list of rates and returns a tidy
table (one row per query and rate); :func:`summarise` gives mean and spread per rate.

Example::

    m = bar_metrics(query_bars, improv_bars, tonic_triad=0)
    m["triad_agreement"]   # 1.0 when every bar keeps its chord
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .analysis.chroma import bars_chroma, best_triad, tonic_triad_index, triad_name
from .errors import ParameterError
from .grid import ARTICULATE, DEFAULT_GRID, Grid

log = logging.getLogger(__name__)

DEFAULT_RATES = (math.inf, 256.0, 128.0, 64.0, 32.0, 16.0, 8.0, 4.0, 0.0)


def bar_triads(bars: np.ndarray, grid: Grid = DEFAULT_GRID) -> np.ndarray:
    """Best triad index (0-23, -1 for a silent bar) of every bar."""
    return best_triad(bars_chroma(bars, grid))


def _onset_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    if union == 0:
        return 1.0
    return float(np.logical_and(a, b).sum() / union)


def bar_metrics(query_bars: np.ndarray, improv_bars: np.ndarray, *, tonic_triad: int,
                grid: Grid = DEFAULT_GRID) -> dict:
    """Harmony and texture measures of one improvisation against its query (see module doc).

    Both arrays have the same number of bars. Bars where the query is silent are left out
    of the agreement and texture measures (there is no chord to keep).
    """
    query_bars = np.asarray(query_bars, dtype=bool)
    improv_bars = np.asarray(improv_bars, dtype=bool)
    if query_bars.shape != improv_bars.shape:
        raise ParameterError(f"query has shape {query_bars.shape} but the improvisation "
                             f"{improv_bars.shape}; compare bar arrays of the same length")
    q = bar_triads(query_bars, grid)
    r = bar_triads(improv_bars, grid)
    sounding = q >= 0
    n = int(sounding.sum())
    same = (q == r) & sounding
    same_root = (q % 12 == r % 12) & sounding & (r >= 0)
    onset_q = query_bars[..., ARTICULATE]
    onset_r = improv_bars[..., ARTICULATE]
    texture = [1.0 - _onset_jaccard(onset_q[i], onset_r[i]) for i in np.flatnonzero(sounding)]
    rhythm = [1.0 - _onset_jaccard(onset_q[i].any(axis=1), onset_r[i].any(axis=1))
              for i in np.flatnonzero(sounding)]
    improv_sounding = r >= 0
    return {
        "bars": int(len(q)),
        "triad_agreement": float(same.sum() / n) if n else math.nan,
        "root_agreement": float(same_root.sum() / n) if n else math.nan,
        "texture_difference": float(np.mean(texture)) if texture else math.nan,
        "rhythm_difference": float(np.mean(rhythm)) if rhythm else math.nan,
        "tonic_share": float((r == tonic_triad).mean()) if len(r) else math.nan,
        "query_tonic_share": float((q == tonic_triad).mean()) if len(q) else math.nan,
        "distinct_chords": int(len(set(r[improv_sounding].tolist()))),
        "silent_share": float((~improv_sounding).mean()) if len(r) else math.nan,
        "main_chord": triad_name(int(np.bincount(r[improv_sounding]).argmax()))
        if improv_sounding.any() else "N.C.",
        "main_chord_is_tonic": bool(improv_sounding.any()
                                    and np.bincount(r[improv_sounding]).argmax() == tonic_triad),
    }


def score_tonic_triad(score) -> tuple[int, str, int]:
    """(tonic pitch class, mode, tonic triad index) of a score in its one key.

    The key is :func:`qbdi_musicology.analysis.roman.score_key`, the key the sweep falls
    back on and the annotated scores name.
    """
    from .analysis.roman import score_key

    key = score_key(score)
    mode = "minor" if key.mode == "minor" else "major"
    return key.tonic.pitchClass, mode, tonic_triad_index(key.tonic.pitchClass, mode)


@dataclass
class Query:
    """One query of an evaluation set: its name, score, bars and tonic triad."""

    name: str
    group: str
    score: object
    bars: np.ndarray
    tonic_triad: int


#: The 5 pop songs kept out of the shipped model's training, used as in-style queries.
HELD_OUT_POP_SONGS = ("Clocks", "Dancing Queen", "Rolling In The Deep", "Viva La Vida",
                      "Someone Like You")
HELD_OUT_POP_CLIPS = ("Clocks - Verse", "Dancing Queen - Chorus", "Rolling In The Deep - Chorus",
                      "Viva La Vida - Verse", "Someone Like You - Chorus")
#: Ten 4/4 chorales (music21's corpus), the first ten 4/4 four-part chorales by BWV number.
CHORALES = ("bwv10.7", "bwv101.7", "bwv102.7", "bwv103.6", "bwv104.6", "bwv108.6",
            "bwv110.7", "bwv111.6", "bwv112.5", "bwv113.8")


def as_common_time(score, grid: Grid = DEFAULT_GRID):
    """A copy of ``score`` re-barred in the grid's meter (e.g. a 2/4 piece as 4/4 bars).

    Only for scores whose meter divides the grid's bar (2/4 into 4/4): two written bars
    become one grid bar; notes, durations and ties are kept. Example: *Visions fugitives*
    no. 5 (2/4, 20 bars) becomes 10 bars of 4/4.
    """
    import copy

    from music21 import meter, stream

    found = {ts.ratioString for ts in score.recurse().getElementsByClass(meter.TimeSignature)}
    if not found or found == {grid.time_signature}:
        return score
    out = stream.Score()
    out.metadata = copy.deepcopy(score.metadata)
    for part in score.parts:
        flat = part.flatten()
        new = stream.Part()
        new.partName = part.partName
        new.insert(0, meter.TimeSignature(grid.time_signature))
        for element in flat.notes:
            new.insert(element.offset, copy.deepcopy(element))
        for mark in flat.getElementsByClass("MetronomeMark")[:1]:
            new.insert(mark.offset, copy.deepcopy(mark))
        out.insert(0, new.makeMeasures())
    return out


def load_query_set(names: Sequence[str] | None = None, *, grid: Grid = DEFAULT_GRID,
                   data_dir=None, meter_map: str = "scale") -> list[Query]:
    """The evaluation queries: Visions fugitives 1-8, ten 4/4 chorales, five held-out pop clips.

    ``names``: query specs (``corpus:NAME/PIECE`` or paths) instead of the default set.
    Every query is read on its metric bars (:mod:`qbdi_musicology.bars`), one model bar per
    bar in any meter (Visions fugitives no. 5 in its own 2/4).
    Pieces whose data folder is absent are skipped with a warning.
    """
    from .bars import metric_score
    from .errors import InputError
    from .pianoroll import score_to_bars
    from .pieces import resolve_query

    if names is None:
        specs = ([("visions-fugitives", f"corpus:visions-fugitives/vf_no{i}") for i in range(1, 9)]
                 + [("bach-chorales", f"corpus:bach-chorales/{c}") for c in CHORALES]
                 + [("pop-held-out", f"corpus:pop-music-midi/{c}") for c in HELD_OUT_POP_CLIPS])
    else:
        specs = [(n.split("/")[0].replace("corpus:", "") if n.startswith("corpus:") else "file", n)
                 for n in names]
    queries = []
    for group, spec in specs:
        try:
            score = resolve_query(spec, data_dir=data_dir)
        except InputError as exc:
            if names is not None:
                raise
            log.warning("query %s skipped: %s", spec, exc)
            continue
        # the query on its metric bars, each one model bar (a 2/4 bar too), as the sweep,
        # the annotated scores and the drift table read it
        score = metric_score(score, grid=grid)
        bars = score_to_bars(score, grid, meter_map=meter_map)
        _, _, tonic = score_tonic_triad(score)
        label = spec.rsplit("/", 1)[-1]
        queries.append(Query(name=label, group=group, score=score, bars=bars, tonic_triad=tonic))
    return queries


def evaluate_model(model, queries: Sequence[Query], rates: Sequence[float] = DEFAULT_RATES, *,
                   seed: int = 0, threshold: float = 0.5, channel=None,
                   meter_map: str = "scale") -> list[dict]:
    """One row of measures per (query, rate); see :func:`bar_metrics` for the columns.

    Each query is encoded once and passed through the channel at every rate (shared noise).
    ``active_dims`` counts latent dimensions whose posterior mean varies across the query's
    bars (variance > 0.05); ``dims_with_bits`` those the channel sent at least one bit for.

    ``meter_map``: how bars in other meters meet the model's (:mod:`qbdi_musicology.bars`);
    give the same to :func:`load_query_set`.

    Example: ``evaluate_model(load_model(), load_query_set(), [inf, 32, 0])``.
    """
    from .bars import as_written
    from .channel import transmit_many
    from .generate import (_check_threshold, _decode_transmitted, _model_parts,
                           channel_mean_vector, default_channel, encode)
    from .train import active_dims

    threshold = _check_threshold(threshold)
    net, provenance = _model_parts(model)
    channel = channel if channel is not None else default_channel(net)
    rows = []
    for q in queries:
        enc = encode(q.score, model, meter_map=meter_map)
        if enc.bars.shape != q.bars.shape:  # pragma: no cover - same conversion both times
            raise ParameterError(f"query {q.name}: bars differ between readings")
        results = transmit_many(enc.mu, enc.logvar, list(rates), seed=seed, options=channel,
                                mean_vector=channel_mean_vector(net, enc, channel))
        for result in results:
            # measured as written: in the query's bars (a pickup keeps its last beats, a
            # 3/4 bar what fits in three beats), as the drift table and the file count it
            improv = as_written(_decode_transmitted(net, enc, result.z_hat, threshold),
                                enc.structure, enc.grid, enc.meter_map)
            row = {"query": q.name, "group": q.group, "rate": result.rate_bits,
                   "tonic": triad_name(q.tonic_triad)}
            row.update(bar_metrics(q.bars, improv, tonic_triad=q.tonic_triad, grid=enc.grid))
            row["active_dims"] = active_dims(enc.mu)
            row["dims_with_bits"] = int(np.sum(result.bits > 0)) if not math.isinf(
                result.rate_bits) else int(enc.mu.shape[1])
            rows.append(row)
    return rows


SUMMARY_COLUMNS = ("triad_agreement", "root_agreement", "texture_difference",
                   "rhythm_difference", "tonic_share", "query_tonic_share", "distinct_chords",
                   "silent_share", "main_chord_is_tonic", "active_dims", "dims_with_bits")


def summarise(rows: list[dict], by: Sequence[str] = ("rate",)):
    """Mean and standard deviation over queries of each measure, per rate (pandas)."""
    import pandas as pd

    frame = pd.DataFrame(rows)
    cols = [c for c in SUMMARY_COLUMNS if c in frame]
    frame[cols] = frame[cols].astype(float)
    grouped = frame.groupby(list(by), sort=False)[cols]
    mean = grouped.mean().add_suffix("_mean")
    std = grouped.std(ddof=0).add_suffix("_sd")
    out = pd.concat([mean, std], axis=1)
    out.insert(0, "queries", grouped.size())
    out = out.reset_index()
    if "rate" in out:
        out = out.sort_values("rate", ascending=False, kind="stable").reset_index(drop=True)
    return out


def markdown_table(summary, columns: Sequence[str] = ("triad_agreement", "root_agreement",
                                                      "texture_difference", "tonic_share",
                                                      "distinct_chords", "main_chord_is_tonic",
                                                      "dims_with_bits")) -> str:
    """The summary as a Markdown table: ``mean ± sd`` per measure and rate."""
    header = ["rate (bits/bar)", "queries"] + [c.replace("_", " ") for c in columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, row in summary.iterrows():
        rate = row["rate"]
        cells = ["inf" if math.isinf(rate) else f"{rate:g}", str(int(row["queries"]))]
        for c in columns:
            cells.append(f"{row[c + '_mean']:.2f} ± {row[c + '_sd']:.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
