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
from pathlib import Path
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


# the named sets live in one place (evalsets); these names stay importable from here
from .evalsets import (CHORALES, HELD_OUT_POP_CLIPS, HELD_OUT_POP_SONGS,  # noqa: E402,F401
                       Query)


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
    """The evaluation queries: by default the ``standard`` set of :mod:`.evalsets`.

    ``names``: query specs (``corpus:NAME/PIECE`` or paths) instead of the default set
    (an unreadable one is an error). Every query is read on its metric bars
    (:mod:`qbdi_musicology.bars`), one model bar per bar in any meter (Visions fugitives
    no. 5 in its own 2/4). Pieces of the default set whose data folder is absent are
    skipped (see :func:`qbdi_musicology.evalsets.load_evaluation_set`).
    """
    from .evalsets import SetPiece, load_evaluation_set, read_piece

    if names is None:
        queries, _ = load_evaluation_set("standard", grid=grid, data_dir=data_dir,
                                         meter_map=meter_map)
        return queries
    out = []
    for n in names:
        group = n.split("/")[0].replace("corpus:", "") if n.startswith("corpus:") else "file"
        piece = SetPiece(group, n)
        query = read_piece(piece, grid=grid, data_dir=data_dir, meter_map=meter_map,
                           cache=False)
        query.name = n.rsplit("/", 1)[-1]
        out.append(query)
    return out


def evaluate_model(model, queries: Sequence[Query], rates: Sequence[float] = DEFAULT_RATES, *,
                   seed: int = 0, threshold: float = 0.5, channel=None,
                   meter_map: str = "scale", draws: int = 1) -> list[dict]:
    """One row of measures per (query, rate); see :func:`bar_metrics` for the columns.

    Each query is encoded once and passed through the channel at every rate (shared noise).
    ``draws``: how many times the channel is drawn (seeds ``seed``, ``seed + 1``, ...); the
    row holds each measure's mean over the draws, i.e. what the channel does *on average*
    at that rate rather than in one draw of its noise (a 10-bar chorale's agreement moves
    by 0.1 when one bar's chord flips).
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
        if q.structure is not None and q.key is not None:
            enc = prepared_encoding(net, q, meter_map=meter_map)
        else:
            enc = encode(q.score, model, meter_map=meter_map)
        if enc.bars.shape != q.bars.shape:  # pragma: no cover - same conversion both times
            raise ParameterError(f"query {q.name}: bars differ between readings")
        mean_vector = channel_mean_vector(net, enc, channel)
        per_rate: dict[int, list[dict]] = {}
        for draw in range(max(1, int(draws))):
            results = transmit_many(enc.mu, enc.logvar, list(rates), seed=seed + draw,
                                    options=channel, mean_vector=mean_vector)
            for i, result in enumerate(results):
                # measured as written: in the query's bars (a pickup keeps its last beats,
                # a 3/4 bar what fits in three beats), as the drift table and the file
                # count it
                improv = as_written(_decode_transmitted(net, enc, result.z_hat, threshold),
                                    enc.structure, enc.grid, enc.meter_map)
                row = {"query": q.name, "group": q.group, "rate": result.rate_bits,
                       "tonic": triad_name(q.tonic_triad)}
                row.update(bar_metrics(q.bars, improv, tonic_triad=q.tonic_triad,
                                       grid=enc.grid))
                row["active_dims"] = active_dims(enc.mu)
                row["dims_with_bits"] = int(np.sum(result.bits > 0)) if not math.isinf(
                    result.rate_bits) else int(enc.mu.shape[1])
                per_rate.setdefault(i, []).append(row)
        for i in sorted(per_rate):
            rows.append(_mean_row(per_rate[i]))
    return rows


def _mean_row(draws: list[dict]) -> dict:
    """The first draw's row with every numeric measure replaced by its mean over draws."""
    row = dict(draws[0])
    if len(draws) > 1:
        for key, value in row.items():
            if isinstance(value, (bool, np.bool_, int, float)) and key not in ("rate", "bars"):
                row[key] = float(np.mean([float(d[key]) for d in draws]))
    return row


def prepared_encoding(net, q: Query, *, meter_map: str = "scale"):
    """The :class:`~qbdi_musicology.generate.Encoding` of a query already read on the grid.

    The same as :func:`~qbdi_musicology.generate.encode` of its score (bars, metric bars,
    key, the key normalisation of the model), without parsing or analysing the score again.
    """
    from .generate import Encoding, encode_bars
    from .model import normalising_shift
    from .pianoroll import transpose_bars

    grid = net.config.grid
    shift = normalising_shift(*q.key) if net.config.key_normalise else 0
    model_bars = transpose_bars(q.bars, shift, grid) if shift else q.bars
    mu, logvar = encode_bars(net, model_bars)
    return Encoding(mu=mu, logvar=logvar, bars=q.bars, model_bars=model_bars, shift=shift,
                    key=tuple(q.key), title=q.name, tempo=120.0, grid=grid,
                    structure=q.structure, meter_map=meter_map)


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


# ------------------------------------------------------------------ seeds of one recipe


def recipe_models(preset: str, seeds: Sequence[int], *, models_dir=None, threads: int = 2,
                  train_missing: bool = True, progress: bool = True) -> list[tuple[int, object]]:
    """One model per training seed of a named recipe (``train.PRESETS``), loaded.

    The model of seed N is the shipped model of that name if it was made by this recipe with
    seed N; else ``MODELS_DIR/<preset>-<recipe fingerprint>-seed<N>.qbdi``, trained now
    (``train_missing``; a few minutes each, with a progress bar) if it is not there yet.
    ``models_dir`` defaults to ``models/`` in the package's cache folder. The fingerprint
    names the recipe, so editing a preset never reuses a model of its old recipe.
    Example: ``recipe_models("pop-harmony", [1, 2, 3])``.
    """
    from .checkpoint import MODELS_DIR, load_model, read_header
    from .corpus import resolve_cache_dir
    from .errors import ModelError
    from .model import ModelConfig
    from .train import preset_fingerprint, train_preset, config_from_preset

    fingerprint = preset_fingerprint(preset)
    config = config_from_preset(preset)
    folder = Path(models_dir) if models_dir else resolve_cache_dir() / "models"
    shipped = MODELS_DIR / f"{preset}.qbdi"
    out = []
    for seed in seeds:
        path = None
        if shipped.exists():
            header, _ = read_header(shipped)
            info = header.get("info", {})
            # compared as configs: fields added since it was saved take their defaults
            if info.get("preset") == preset and info.get("seed") == seed and \
                    ModelConfig.from_dict(header.get("config", {})) == config:
                path = shipped
        if path is None:
            path = folder / f"{preset}-{fingerprint}-seed{seed}.qbdi"
            if not path.exists():
                if not train_missing:
                    raise ModelError(f"no model of recipe {preset} with seed {seed} at {path}; "
                                     f"train it with 'qbdi train pop-music-midi --preset "
                                     f"{preset} --seed {seed} --out {path}'")
                log.warning("training %s with seed %d into %s", preset, seed, path)
                train_preset(preset, path, seed=seed, threads=threads, progress=progress)
        out.append((int(seed), load_model(path)))
    return out


def _monotone(values: Sequence[float], tolerance: float) -> bool:
    """True when no value (rates falling) rises more than ``tolerance`` above any before it."""
    best_low = math.inf
    for v in values:
        if math.isnan(v):
            continue
        if v > best_low + tolerance:
            return False
        best_low = min(best_low, v)
    return True


def monotone_queries(rows: list[dict], tolerance: float = 0.03) -> dict:
    """Per (seed, query): is the triad agreement non-increasing as the rate falls?

    "Non-increasing within ``tolerance``": at every rate the agreement is at most
    ``tolerance`` above its lowest value at any higher rate (a rise of 0.02 between two
    neighbouring rates passes; two such rises in a row do not, since the second is judged
    against the lowest value before it).
    """
    import pandas as pd

    frame = pd.DataFrame(rows)
    keys = [c for c in ("seed", "group", "query") if c in frame]
    out = {}
    for key, sub in frame.sort_values("rate", ascending=False).groupby(keys, sort=False):
        out[key] = _monotone(sub["triad_agreement"].astype(float).tolist(), tolerance)
    return out


#: The targets of the broad evaluation (issue "harmony kept across styles"), per seed.
TARGETS = {"agreement_inf": 0.75, "agreement_inf_each_style": 0.65, "texture_inf": 0.5,
           "seed_sd": 0.02, "monotone_share": 0.95, "tonic_share_8": 0.8,
           "rate0_tonic": 0.9}


def per_seed_targets(rows: list[dict]):
    """One row per seed with the measures the targets name (pandas).

    ``agreement_inf`` and ``texture_inf``: mean over queries at full rate;
    ``weakest_style``: the style with the lowest mean full-rate agreement, and that mean;
    ``monotone_share``: share of queries whose agreement does not rise as the rate falls
    (:func:`monotone_queries`); ``tonic_share_8``: mean tonic share at 8 bits/bar;
    ``rate0_tonic``: share of queries whose rate-0 chord is the tonic triad.
    """
    import pandas as pd

    frame = pd.DataFrame(rows)
    if "seed" not in frame:
        frame["seed"] = 0
    mono = monotone_queries(frame.to_dict("records"))
    out = []
    for seed, sub in frame.groupby("seed", sort=True):
        full = sub[sub["rate"] == math.inf]
        by_style = full.groupby("group")["triad_agreement"].mean()
        eight = sub[sub["rate"] == 8.0]
        zero = sub[sub["rate"] == 0.0]
        flags = [v for k, v in mono.items() if k[0] == seed]
        out.append({
            "seed": seed, "queries": int(full["query"].nunique()),
            "agreement_inf": float(full["triad_agreement"].mean()),
            "texture_inf": float(full["texture_difference"].mean()),
            "weakest_style": str(by_style.idxmin()) if len(by_style) else "",
            "weakest_style_agreement": float(by_style.min()) if len(by_style) else math.nan,
            "monotone_share": float(np.mean(flags)) if flags else math.nan,
            "tonic_share_8": float(eight["tonic_share"].mean()) if len(eight) else math.nan,
            "rate0_tonic": float(zero["main_chord_is_tonic"].astype(float).mean())
            if len(zero) else math.nan,
        })
    return pd.DataFrame(out)


def style_table(rows: list[dict], *, rate: float = math.inf,
                measure: str = "triad_agreement") -> str:
    """Markdown: one row per style (and overall), one column per seed, ``mean ± sd`` over
    the style's pieces, then the mean and the (sample) standard deviation of the seeds'
    means."""
    import pandas as pd

    frame = pd.DataFrame(rows)
    if "seed" not in frame:
        frame["seed"] = 0
    frame = frame[frame["rate"] == rate]
    seeds = sorted(frame["seed"].unique())
    styles = list(dict.fromkeys(frame["group"]))
    header = ["style", "pieces"] + [f"seed {s}" for s in seeds] + ["mean of seeds",
                                                                    "sd of seeds"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for style in styles + ["overall"]:
        sub = frame if style == "overall" else frame[frame["group"] == style]
        cells = [f"**{style}**" if style == "overall" else style,
                 str(sub["query"].nunique())]
        means = []
        for s in seeds:
            values = sub[sub["seed"] == s][measure].astype(float)
            means.append(values.mean())
            cells.append(f"{values.mean():.3f} ± {values.std(ddof=0):.2f}")
        cells.append(f"{np.mean(means):.3f}")
        cells.append(f"{np.std(means, ddof=1):.3f}" if len(means) > 1 else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def targets_table(rows: list[dict]) -> str:
    """Markdown: the targets' measures per seed (:func:`per_seed_targets`), and whether the
    seeds' full-rate agreement varies less than the target's standard deviation."""
    table = per_seed_targets(rows)
    header = ["seed", "queries", "agreement inf", "weakest style", "texture inf",
              "monotone queries", "tonic share 8", "rate-0 tonic chord"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, r in table.iterrows():
        lines.append("| " + " | ".join([
            str(r["seed"]), str(r["queries"]), f"{r['agreement_inf']:.3f}",
            f"{r['weakest_style']} {r['weakest_style_agreement']:.3f}",
            f"{r['texture_inf']:.2f}", f"{r['monotone_share']:.0%}",
            f"{r['tonic_share_8']:.2f}", f"{r['rate0_tonic']:.0%}"]) + " |")
    text = "\n".join(lines) + "\n"
    if len(table) > 1:
        text += (f"\nFull-rate agreement over seeds: mean {table['agreement_inf'].mean():.3f}, "
                 f"sd {table['agreement_inf'].std(ddof=1):.3f} (sample standard "
                 f"deviation of the {len(table)} seeds' means).\n")
    return text
