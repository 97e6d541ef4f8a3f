"""The harmonic-drift report: verdicts, seaborn figures, a self-contained HTML page, Markdown.

Input is the tidy drift table over queries and rates (one row per query and rate, columns
such as ``chord_agreement`` and ``tonic_share``) and the batch's per-query records. Output,
in one folder:

* ``drift_table.csv`` / ``drift_table.parquet``: the table itself;
* ``verdicts.csv``: per query, does the harmony drift toward the tonic as the rate falls?
* ``figures/*.png``: each measure against the rate, every query as a thin line and the
  mean over queries with its spread (one standard deviation) as a band;
* ``report.html``: everything on one page, figures inline, so it can be mailed or opened
  from a USB stick; links to every annotated MusicXML file;
* ``summary.md``: the same in Markdown, for a repository or a lab notebook.

Nothing here depends on the clock: the same table gives the same bytes.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import logging
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..fileio import atomic_path, write_bytes_atomic, write_text_atomic
from ..rates import OVERVIEW_FILE, rate_short
from ..channel import fallback_words
from .lesson import number_text as _fmt

log = logging.getLogger(__name__)

#: Measures plotted against the rate: column -> (figure file, title, y-axis label).
FIGURES: dict[str, tuple[str, str, str]] = {
    "chord_agreement": ("chord_agreement", "Chord agreement with the query",
                        "share of bars with the query's chord"),
    "tonic_share": ("tonic_share", "Tonic share", "share of bars on the tonic triad"),
    "distinct_chords": ("distinct_chords", "Distinct chords", "different chords in the piece"),
    "mean_tonnetz_to_query": ("tonnetz_distance", "Tonnetz distance to the query",
                              "mean Tonnetz distance per bar"),
}

#: Measures that are shares of bars (0-1).
SHARE_COLUMNS = ("chord_agreement", "root_agreement", "tonic_share", "collision_share")

#: Columns that may hold the information rate per rate (the dynamics analysis names it).
IR_COLUMNS = ("ir_max", "ir_total", "information_rate")

#: Columns shown in the per-query tables, in this order, where present.
TABLE_COLUMNS = ("rate", "chord_agreement", "root_agreement", "triad_agreement",
                 "tonic_share", "distinct_chords", "chord_entropy_bits", "mean_tonnetz_to_query",
                 "mean_tonnetz_to_tonic", "collisions") + IR_COLUMNS + ("ir_threshold",
                                                                           "active_dimensions")

SIGNIFICANCE = 0.05

#: Queries whose scores are engraved and played in the report (the first ones analysed);
#: the others keep their score links. The classroom page shows the first.
MEDIA_QUERIES = 3


# --------------------------------------------------------------------------------------
# Verdicts
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    """Does one query's harmony drift toward the tonic as the rate falls?

    ``rho`` is Spearman's rank correlation between the rate (full rate ranked highest) and
    the tonic share; a drift toward the tonic as the rate *falls* is a *negative* rho.
    """

    query_id: str
    title: str
    n_rates: int
    rho: float
    p_value: float
    tonic_full: float
    tonic_zero: float
    drifts: str  # "yes", "weak", "no", "flat" or "too few rates"
    text: str


def _verdict_text(drifts: str, rho: float, p: float, n: int, hi: float, lo: float,
                  hi_rate: str, lo_rate: str) -> str:
    stats = f"Spearman rho = {rho:+.2f}, p = {p:.3g}, n = {n} rates"
    shares = (f"tonic share {hi:.2f} at {hi_rate} rate -> {lo:.2f} at {lo_rate} "
              f"bits/bar" if hi_rate == "full" else
              f"tonic share {hi:.2f} at {hi_rate} -> {lo:.2f} at {lo_rate} bits/bar")
    if drifts == "yes":
        return f"Yes: the harmony drifts toward the tonic as the rate falls ({shares}; {stats})."
    if drifts == "weak":
        return (f"A tendency toward the tonic as the rate falls, but not significant at "
                f"{SIGNIFICANCE:g} ({shares}; {stats}).")
    if drifts == "no":
        return (f"No: the tonic share does not rise as the rate falls ({shares}; {stats}).")
    return ""


#: Up to this many rates the p-value is exact (all orderings are enumerated: 8! = 40320).
EXACT_UP_TO = 8


def spearman_exact(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Spearman's rho and its two-sided p-value, exact for small samples.

    A sweep has few rates (4 to 8), where the usual large-sample p-value is far too
    optimistic: with 4 rates it gives p = 0 for a perfect ranking, while only 2 of the
    24 orderings are that extreme (exact p = 0.083). Up to :data:`EXACT_UP_TO` values,
    ``p`` is the share of all orderings of ``y`` whose |rho| is at least the observed one
    (ties keep their average ranks); above, scipy's approximation is used.
    """
    from itertools import permutations

    from scipy.stats import rankdata, spearmanr

    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    result = spearmanr(x, y)
    rho = float(result.statistic)
    if len(y) > EXACT_UP_TO or math.isnan(rho):
        return rho, float(result.pvalue)
    rx, ry = rankdata(x), rankdata(y)
    rx = (rx - rx.mean()) / np.linalg.norm(rx - rx.mean())
    orderings = np.array(list(permutations(ry)))
    centred = orderings - orderings.mean(axis=1, keepdims=True)
    rhos = centred @ rx / np.linalg.norm(centred, axis=1)
    p = float(np.mean(np.abs(rhos) >= abs(rho) - 1e-9))
    return rho, p


def verdict_for(rows: pd.DataFrame, query_id: str = "", title: str = "") -> Verdict:
    """The verdict for one query's rows (one row per rate, columns ``rate``, ``tonic_share``).

    Example: tonic shares 0.25 (full), 0.25 (256), 0.45 (32), 0.70 (0) give rho = -0.95,
    a drift toward the tonic.
    """

    rows = rows.dropna(subset=["tonic_share"]).sort_values("rate")
    n = len(rows)
    rates = rows["rate"].to_numpy(dtype=float)
    shares = rows["tonic_share"].to_numpy(dtype=float)
    hi_rate = rate_short(rates[-1]) if n else "-"
    lo_rate = rate_short(rates[0]) if n else "-"
    hi = float(shares[-1]) if n else math.nan
    lo = float(shares[0]) if n else math.nan
    if n < 3:
        return Verdict(query_id, title, n, math.nan, math.nan, hi, lo, "too few rates",
                       f"Too few rates ({n}) to judge a trend; give at least three.")
    if np.ptp(shares) == 0:
        return Verdict(query_id, title, n, math.nan, math.nan, hi, lo, "flat",
                       f"No drift: the tonic share is {hi:.2f} at every rate.")
    # Ranks of the rates: inf is simply the largest, which is what a rank test needs.
    order = np.argsort(np.argsort(rates, kind="stable"), kind="stable").astype(float)
    rho, p = spearman_exact(order, shares)
    if rho < 0 and p < SIGNIFICANCE:
        drifts = "yes"
    elif rho < 0:
        drifts = "weak"
    else:
        drifts = "no"
    return Verdict(query_id, title, n, rho, p, hi, lo, drifts,
                   _verdict_text(drifts, rho, p, n, hi, lo, hi_rate, lo_rate))


def verdicts(table: pd.DataFrame) -> pd.DataFrame:
    """One verdict per query of the tidy table, in the table's query order."""
    rows = []
    for query_id, group in table.groupby("query_id", sort=False):
        title = str(group["title"].iloc[0]) if "title" in group else str(query_id)
        rows.append(verdict_for(group, str(query_id), title).__dict__)
    columns = list(Verdict.__dataclass_fields__)
    return pd.DataFrame(rows, columns=columns)


def overall_verdict(table: pd.DataFrame) -> Verdict:
    """The verdict on the mean tonic share over all queries, rate by rate."""
    means = table.groupby("rate", as_index=False)["tonic_share"].mean()
    verdict = verdict_for(means, "all", "mean over queries")
    return verdict


# --------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------

def _rate_positions(rates: Iterable[float]) -> dict[float, int]:
    # The rates span 0 to infinity, so the x axis is ordinal: equally spaced, in order.
    return {rate: i for i, rate in enumerate(sorted(set(float(r) for r in rates)))}


def _png_bytes(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight",
                metadata={"Software": None})
    return buffer.getvalue()


def rate_figure(table: pd.DataFrame, column: str, title: str, ylabel: str) -> bytes:
    """One measure against the rate as PNG bytes: thin line per query, mean +/- 1 sd band.

    Example: ``rate_figure(table, "tonic_share", "Tonic share", "share of bars")`` shows
    whether the tonic share rises toward the left (low rates).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    data = table[["query_id", "rate", column]].dropna(subset=[column]).copy()
    positions = _rate_positions(data["rate"])
    data["position"] = data["rate"].map(positions)
    sns.set_theme(style="whitegrid", context="notebook")
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    try:
        if data["query_id"].nunique() > 1:
            sns.lineplot(data=data, x="position", y=column, units="query_id",
                         estimator=None, color="0.7", linewidth=0.8, alpha=0.7, ax=ax,
                         legend=False)
        sns.lineplot(data=data, x="position", y=column, estimator="mean",
                     errorbar="sd", color="#1f5fa8", linewidth=2.4, marker="o", ax=ax,
                     label="mean over queries (band: 1 sd)")
        reference = f"query_{column}"
        if reference in table.columns and table[reference].notna().any():
            # The query's own value: a drift shows as the curve leaving this line.
            ax.axhline(float(table.drop_duplicates("query_id")[reference].mean()),
                       color="#b5443a", linestyle="--", linewidth=1.2,
                       label="the queries themselves (mean)")
        if column in SHARE_COLUMNS:
            ax.set_ylim(-0.03, 1.03)  # a share: the 1-sd band must not suggest values > 1
        ax.set_xticks(list(positions.values()))
        ax.set_xticklabels([rate_short(r) for r in positions])
        ax.set_xlabel("channel rate (bits per bar)")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.legend(loc="best", fontsize="small")
        return _png_bytes(fig)
    finally:
        plt.close(fig)


def ir_column(table: pd.DataFrame) -> str | None:
    """Name of the information-rate column of the table, if the dynamics analysis ran."""
    for name in IR_COLUMNS:
        if name in table.columns and table[name].notna().any():
            return name
    return None


def figures_for(table: pd.DataFrame, workers: Any = None) -> dict[str, tuple[str, bytes]]:
    """All figures the table supports: ``name -> (title, png bytes)``.

    ``workers`` (a :class:`~qbdi_musicology.workers.Workers`) draws them, one figure per
    worker at a time; by default they are drawn here.
    """
    return {name: (title, job.result())
            for name, (title, job) in start_figures(table, workers).items()}


def start_figures(table: pd.DataFrame, workers: Any = None) -> dict[str, tuple[str, Any]]:
    """Send every figure the table supports to be drawn: ``name -> (title, future)``.

    Each worker gets only the columns its figure plots (a few kB), and sends back PNG bytes.
    """
    from ..workers import Workers

    workers = workers if workers is not None else Workers(jobs=1)
    figures: dict[str, tuple[str, Any]] = {}
    specs = dict(FIGURES)
    ir = ir_column(table)
    if ir is not None:
        specs[ir] = ("information_rate", "Information rate (VMO) at the optimal threshold",
                     "total information rate (bits)")
    for column, (name, title, ylabel) in specs.items():
        if column in table.columns and table[column].notna().any():
            used = [c for c in ("query_id", "rate", column, f"query_{column}")
                    if c in table.columns]
            figures[name] = (title, workers.submit(rate_figure, table[used], column, title,
                                                   ylabel))
    return figures


# --------------------------------------------------------------------------------------
# Tables as HTML and Markdown
# --------------------------------------------------------------------------------------

def _display_rows(rows: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    columns = [c for c in TABLE_COLUMNS if c in rows.columns]
    body = [[rate_short(v) if c == "rate" else _fmt(v) for c, v in zip(columns, record)]
            for record in
            rows.sort_values("rate", ascending=False)[columns].itertuples(index=False)]
    return columns, body


def _html_table(columns: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(c.replace('_', ' '))}</th>" for c in columns)
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>"
                   for row in body)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _md_table(columns: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(c.replace("_", " ") for c in columns) + " |",
             "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(v.replace("|", "/") for v in row) + " |" for row in body]
    return "\n".join(lines)


def mean_by_rate(table: pd.DataFrame) -> pd.DataFrame:
    """Mean of every measure over queries, one row per rate (highest rate first)."""
    columns = [c for c in TABLE_COLUMNS if c in table.columns and c != "rate"]
    means = table.groupby("rate", as_index=False)[columns].mean(numeric_only=True)
    means.insert(1, "queries", table.groupby("rate")["query_id"].nunique().to_numpy())
    return means.sort_values("rate", ascending=False, ignore_index=True)


# --------------------------------------------------------------------------------------
# The report folder
# --------------------------------------------------------------------------------------

_CSS = """
body{font-family:Georgia,'Times New Roman',serif;max-width:62rem;margin:2rem auto;
padding:0 1rem;color:#222;line-height:1.45}
h1,h2,h3{font-family:Helvetica,Arial,sans-serif;color:#163d6b}
table{border-collapse:collapse;margin:.6rem 0 1.2rem;font-size:.9rem}
th,td{border:1px solid #ccd;padding:.25rem .5rem;text-align:right}
th{background:#eef2f8;font-family:Helvetica,Arial,sans-serif}
td:first-child,th:first-child{text-align:left}
.verdict{padding:.5rem .8rem;border-left:4px solid #1f5fa8;background:#f4f7fb}
.verdict.yes{border-color:#2a8a3e}.verdict.no,.verdict.flat{border-color:#b5443a}
.verdict.weak{border-color:#c99a2e}
figure{display:inline-block;margin:.5rem;vertical-align:top}
figure img{max-width:27rem;border:1px solid #ddd}
h4{font-family:Helvetica,Arial,sans-serif;color:#163d6b;margin:.8rem 0 .2rem}
.overview img{max-width:100%}
.failed{color:#8a1f1f}
code{font-size:.85rem}
"""


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _links(record: Any, queries_root: Path, report_dir: Path) -> str:
    folder = queries_root / record.query_id
    rel = Path(os.path.relpath(folder, report_dir))
    items = []
    for name in record.files:
        items.append(f'<a href="{html.escape((rel / name).as_posix())}">{html.escape(name)}</a>')
    return " &middot; ".join(items) if items else "(no scores written)"


def write_report(table: pd.DataFrame, records: Sequence[Any], report_dir: str | os.PathLike,
                 *, queries_root: str | os.PathLike, rates: Sequence[float] = (),
                 render: bool = True, clock: Any = None,
                 settings: Mapping[str, Any] | None = None, workers: Any = None,
                 pictures: "ReportPictures | None" = None) -> dict[str, Path]:
    """Write the whole report folder; return the paths written by kind.

    ``records`` are the batch's per-query records (``query_id``, ``spec``, ``status``,
    ``error``, ``files``); failed ones are listed with their reasons. ``render`` engraves
    the first :data:`MEDIA_QUERIES` queries' scores to SVG (verovio), renders their MIDI
    files to sound where FluidSynth and a soundfont are installed (see :mod:`.media`),
    writes the classroom page ``lesson.html`` for the first, and asks MuseScore, where
    installed, for a PNG of the first query's drift overview.

    ``workers`` (a :class:`~qbdi_musicology.workers.Workers`: the batch's worker
    processes or Dask cluster) draws the figures and the pictures; by default they are
    made here. ``pictures``: those the batch already started (:class:`ReportPictures`).
    """
    import contextlib

    from ..workers import Workers

    report_dir = Path(report_dir)
    queries_root = Path(queries_root)
    stage = clock if clock is not None else (lambda name: contextlib.nullcontext())
    workers = workers if workers is not None else Workers(jobs=1)
    if not rates and "rate" in table.columns:
        rates = sorted(set(table["rate"].astype(float)))
    files: dict[str, Path] = {}
    report_dir.mkdir(parents=True, exist_ok=True)

    with contextlib.ExitStack() as stack:
        if pictures is None:
            pictures = stack.enter_context(ReportPictures(
                queries_root, report_dir, rates=rates, workers=workers, render=render))
        pictures.update(list(records))  # every query is known now: start what is left
        figure_jobs = start_figures(table, workers) if not table.empty else {}
        with stage("write tables"):
            files["csv"] = report_dir / "drift_table.csv"
            write_text_atomic(files["csv"], table.to_csv(index=False, lineterminator="\n"))
            files["parquet"] = report_dir / "drift_table.parquet"
            with atomic_path(files["parquet"]) as tmp:
                table.to_parquet(tmp, index=False)
            has_data = not table.empty and "tonic_share" in table.columns
            verdict_table = verdicts(table) if has_data else pd.DataFrame()
            files["verdicts"] = report_dir / "verdicts.csv"
            write_text_atomic(files["verdicts"],
                              verdict_table.to_csv(index=False, lineterminator="\n"))
        with stage("figures"):
            figures = {name: (title, job.result())
                       for name, (title, job) in figure_jobs.items()}
            del figure_jobs
            for name, (_, png) in figures.items():
                files[f"figure {name}"] = write_bytes_atomic(
                    report_dir / "figures" / f"{name}.png", png)
        with stage("scores and sounds"):
            media = pictures.finish_media(table, files)
        with stage("render overview"):
            overview_png, overview_note = pictures.finish_overview()
            if overview_png is not None:
                files["overview"] = report_dir / "overview.png"

    with stage("html and markdown"):
        overall = overall_verdict(table) if has_data else None
        files["html"] = write_text_atomic(
            report_dir / "report.html",
            _html(table, records, verdict_table, overall, figures, overview_png,
                  overview_note, queries_root, report_dir, settings or {}, media))
        files["markdown"] = write_text_atomic(
            report_dir / "summary.md",
            _markdown(table, records, verdict_table, overall, figures, overview_png,
                      settings or {}))
    return files


def _leading(known: Sequence[Any], wanted: Any, count: int) -> list[Any] | None:
    """The first ``count`` records (task order) for which ``wanted`` holds, once settled.

    ``known`` has None for a query not finished yet: while one stands before the
    ``count``-th wanted record, the choice may still change and the answer is None.
    """
    chosen = []
    for record in known:
        if record is None:
            return None
        if wanted(record):
            chosen.append(record)
            if len(chosen) == count:
                break
    return chosen


class ReportPictures:
    """The report's pictures of single queries, made by the batch's workers.

    The engraved scores of the first :data:`MEDIA_QUERIES` analysed queries (and their
    sounds, where MIDI files were written) and MuseScore's picture of the first drift
    overview depend only on those queries' files. :meth:`update` starts them as soon as
    the batch knows which queries they are, so they are made while the batch's last
    queries still run; :meth:`finish_media` and :meth:`finish_overview` gather them for
    the report. Use it as a context manager: leaving it waits for the sounds.
    """

    def __init__(self, queries_root: Path, report_dir: Path, *, rates: Sequence[float],
                 workers: Any, render: bool = True) -> None:
        self.queries_root = Path(queries_root)
        self.report_dir = Path(report_dir)
        self.rates = [float(r) for r in rates]
        self.workers = workers
        self.render = render
        # None until started; without rendering there is nothing to start.
        self.media: dict[str, Any] | None = None if render else {}
        self.overview: _Overview | None = None if render else _Overview()

    def update(self, known: Sequence[Any]) -> None:
        """Start the pictures that the finished queries settle (``known``: records in
        task order, None for a query not finished yet)."""
        if self.media is None:
            chosen = _leading(known, lambda r: r.ok, MEDIA_QUERIES)
            if chosen is not None:
                from .media import PendingMedia

                self.media = {r.query_id: PendingMedia(
                    r, rates=self.rates, queries_root=self.queries_root,
                    report_dir=self.report_dir, workers=self.workers) for r in chosen}
        if self.overview is None:
            chosen = _leading(known, lambda r: r.ok and OVERVIEW_FILE in r.files, 1)
            if chosen is not None:
                self.overview = _start_overview(chosen, self.queries_root, self.report_dir,
                                                self.workers)

    def finish_media(self, table: pd.DataFrame, files: dict[str, Path]) -> dict[str, Any]:
        """Gather the engraved scores and sounds; write the classroom page of the first."""
        from .lesson import write_lesson

        media: dict[str, Any] = {}
        if table.empty or "query_id" not in table.columns:
            return media
        for query_id, job in (self.media or {}).items():
            media[query_id] = job.finish()
            if "lesson" not in files:
                files["lesson"] = write_lesson(table[table["query_id"] == query_id],
                                               media[query_id],
                                               self.report_dir / "lesson.html")
        return media

    def finish_overview(self) -> tuple[bytes | None, str]:
        """MuseScore's picture of the first drift overview (or None) and a note on it."""
        if self.overview is None:
            return None, ""
        return self.overview.finish(self.report_dir)

    def close(self) -> None:
        for job in (self.media or {}).values():
            job.close()

    def __enter__(self) -> "ReportPictures":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def overview_picture(musicxml: bytes) -> tuple[bytes | None, str]:
    """Page 1 of a drift overview score as MuseScore draws it: ``(png, "")``, or
    ``(None, reason)``.

    The staves are shrunk to fit the page first (:func:`fit_page_scaling`). This runs in a
    worker of the batch: the score's bytes come in, the picture's bytes go back.
    """
    import tempfile

    from ..validate import mscore_binary, musescore_render

    if mscore_binary() is None:
        return None, "not installed"
    with tempfile.TemporaryDirectory(prefix="qbdi-overview-") as work:
        copy = Path(work) / OVERVIEW_FILE
        copy.write_bytes(fit_page_scaling(musicxml))
        result = musescore_render(copy, Path(work) / "overview.png")
        if not result.ok:
            return None, str(result.error)
        return Path(work, "overview.png").read_bytes(), ""


@dataclass
class _Overview:
    """MuseScore's picture of a drift overview: settled (``png``, ``note``) or under way
    (``job``, and ``stamp``: the score it is made from)."""

    png: bytes | None = None
    note: str = ""
    job: Any = None
    stamp: str = ""

    def finish(self, report_dir: Path) -> tuple[bytes | None, str]:
        if self.job is None:
            return self.png, self.note
        png, error = self.job.result()
        self.job = None
        target = report_dir / "overview.png"
        if png is None:
            target.unlink(missing_ok=True)
            if error == "not installed":
                self.note = ("MuseScore 3 is not installed on the workers, so no picture "
                             "of the overview")
            else:
                log.warning("MuseScore could not render the overview: %s", error)
                self.note = f"MuseScore could not render the overview ({error})"
            return None, self.note
        write_bytes_atomic(target, png)
        write_text_atomic(report_dir / "overview.source", self.stamp)
        self.png, self.note = png, _overview_note(self.stamp)
        return self.png, self.note


def _overview_note(stamp: str) -> str:
    return f"page 1 of the drift overview of {stamp.splitlines()[0]}"


def _start_overview(candidates: Sequence[Any], queries_root: Path, report_dir: Path,
                    workers: Any) -> _Overview:
    """Send the first drift overview to MuseScore, or settle at once what needs no work."""
    from ..validate import mscore_binary

    if not candidates:
        return _Overview(note="no drift overview score was written")
    # A Dask worker may have MuseScore where this computer has none: it is asked there.
    if mscore_binary() is None and getattr(workers, "kind", "here") != "dask":
        return _Overview(note="MuseScore 3 is not installed here, so no picture of the "
                              "overview")
    first = candidates[0]
    target = report_dir / "overview.png"
    data = (queries_root / first.query_id / OVERVIEW_FILE).read_bytes()
    stamp = f"{first.spec}\n{hashlib.sha256(data).hexdigest()}\n"
    # MuseScore takes many seconds per page: a rerun reuses the picture of the same score.
    stamp_file = report_dir / "overview.source"
    if target.is_file() and stamp_file.is_file() and stamp_file.read_text() == stamp:
        return _Overview(target.read_bytes(), _overview_note(stamp))
    if getattr(workers, "kind", "here") == "here":
        # No worker processes: MuseScore, a program of its own, draws in the background
        # while this process writes the tables and engraves.
        from concurrent.futures import ThreadPoolExecutor

        thread = ThreadPoolExecutor(max_workers=1)
        job = thread.submit(overview_picture, data)
        thread.shutdown(wait=False)  # the thread ends after this one picture
        return _Overview(job=job, stamp=stamp)
    return _Overview(job=workers.submit(overview_picture, data), stamp=stamp)


def fit_page_scaling(xml: bytes, *, staff_budget: float = 72.0) -> bytes:
    """A copy of a MusicXML document with the staff size reduced so one system fits a page.

    The drift overview stacks two staves per rate: at eight rates and the usual staff size
    (7 mm) its 18 staves do not fit on an A4 page and MuseScore leaves page 1 empty. The
    copy uses ``staff_budget / staves`` millimetres per staff height (at most the original
    7), and rescales the page size and the header positions to keep an A4 page. Only the
    picture uses the copy; the score file is unchanged.
    """
    text = xml.decode("utf-8")
    match = re.search(r"<millimeters>([\d.]+)</millimeters>", text)
    if match is None:
        return xml
    parts = len(re.findall(r"<score-part\b", text))
    per_part = max([int(n) for n in re.findall(r"<staves>(\d+)</staves>", text)] or [1])
    staves = max(1, parts * per_part)
    old_mm = float(match.group(1))
    new_mm = min(old_mm, staff_budget / staves)
    if new_mm >= old_mm:
        return xml
    factor = old_mm / new_mm

    def scaled(m: re.Match) -> str:
        return f"<{m.group(1)}>{round(float(m.group(2)) * factor)}</{m.group(1)}>"

    text = text.replace(match.group(0), f"<millimeters>{new_mm:.3f}</millimeters>", 1)
    text = re.sub(r"<(page-height|page-width|left-margin|right-margin|top-margin|"
                  r"bottom-margin)>([\d.]+)</\1>", scaled, text)
    # Header texts are placed in the same units: move them with the page (a little lower,
    # since their font size, in points, does not shrink).
    text = re.sub(r'(<credit-words[^>]*?)default-x="([\d.]+)"',
                  lambda m: f'{m.group(1)}default-x="{float(m.group(2)) * factor:.1f}"', text)
    text = re.sub(r'(<credit-words[^>]*?)default-y="([\d.]+)"',
                  lambda m: f'{m.group(1)}default-y="{float(m.group(2)) * factor - 40:.1f}"',
                  text)
    return text.encode("utf-8")


def _settings_lines(settings: Mapping[str, Any]) -> list[tuple[str, str]]:
    labels = {"model": "model", "seed": "seed", "rates": "rates (bits per bar)",
              "queries": "queries", "limit": "limit"}
    lines = []
    for key, label in labels.items():
        if key in settings and settings[key] is not None:
            value = settings[key]
            text = ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
            lines.append((label, text))
    return lines


def _html(table, records, verdict_table, overall, figures, overview_png, overview_note,
          queries_root, report_dir, settings, media=None) -> str:
    from .media import MEDIA_CSS, media_html, notes_html, pages_html, shared_notes

    media = media or {}
    esc = html.escape
    done = [r for r in records if r.ok]
    failed = [r for r in records if not r.ok]
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             "<title>Harmonic drift report</title>",
             f"<style>{_CSS}{MEDIA_CSS}</style></head><body>",
             "<h1>Harmonic drift: does the harmony move toward the tonic as the rate falls?</h1>"]
    parts.append("<p>" + "<br>".join(f"<b>{esc(k)}</b>: {esc(v)}"
                                      for k, v in _settings_lines(settings)) + "</p>")
    parts.append(f"<p>{len(done)} of {len(records)} queries analysed"
                 + (f", <span class='failed'>{len(failed)} could not be (see below)</span>"
                    if failed else "")
                 + ".</p>")
    if (report_dir / "lesson.html").is_file() and media:
        parts.append("<p>For class: <a href='lesson.html'>the classroom page</a> (one "
                     "piece, a rate slider, its score, sound and numbers).</p>")
    if overall is not None:
        parts.append(f"<h2>Verdict over all queries</h2><p class='verdict {overall.drifts}'>"
                     f"{esc(overall.text)}</p>")
        columns, body = _display_rows(mean_by_rate(table).assign(
            queries=lambda d: d["queries"].astype(float)))
        parts.append("<h3>Mean over queries, per rate</h3>" + _html_table(columns, body))
    if figures:
        parts.append("<h2>Figures</h2><p>Each grey line is one query; the blue line is the "
                     "mean over queries, the band one standard deviation.</p>")
        for name, (title, png) in figures.items():
            parts.append(f"<figure>{_img(png, title)}</figure>")
    parts.append("<h2>Drift overview score</h2>")
    engraved = next((m for m in media.values() if m.overview and m.overview.pages), None)
    if engraved is not None:
        parts.append(f"<p>The drift overview of {esc(engraved.title)}: the query on top, "
                     "then the improvisation at each rate, bar by bar.</p>"
                     + pages_html(engraved.overview, f"drift overview of {engraved.title}"))
    if overview_png is not None:
        parts.append(f"<p>{esc(overview_note)}"
                     + (", as MuseScore draws it" if engraved is not None else
                        ": the query on top, then the improvisation at each rate, bar by bar")
                     + f".</p><div class='overview'>{_img(overview_png, 'drift overview')}</div>")
    elif engraved is None:
        parts.append(f"<p>{esc(overview_note or 'not rendered')}.</p>")
    if failed:
        parts.append("<h2 class='failed'>Queries that could not be analysed</h2><ul>")
        parts += [f"<li><code>{esc(r.spec)}</code>: {esc(r.error)}</li>" for r in failed]
        parts.append("</ul>")
    parts.append("<h2>Per query</h2>")
    said = shared_notes(list(media.values()))
    parts.append(notes_html(said))
    verdict_by_id = ({v.query_id: v for v in verdict_table.itertuples()}
                     if not verdict_table.empty else {})
    for record in done:
        rows = table[table["query_id"] == record.query_id]
        title = str(record.info.get("title", record.query_id))
        parts.append(f"<h3 id='{esc(record.query_id)}'>{esc(title)} "
                     f"<small><code>{esc(record.spec)}</code></small></h3>")
        verdict = verdict_by_id.get(record.query_id)
        if verdict is not None:
            parts.append(f"<p class='verdict {verdict.drifts}'>{esc(verdict.text)}</p>")
        parts.append(_html_table(*_display_rows(rows)))
        if record.query_id in media:
            parts.append(media_html(media[record.query_id], said))
        parts.append(f"<p>Scores (open in MuseScore): "
                     f"{_links(record, queries_root, report_dir)}</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _markdown(table, records, verdict_table, overall, figures, overview_png, settings) -> str:
    done = [r for r in records if r.ok]
    failed = [r for r in records if not r.ok]
    lines = ["# Harmonic drift summary", ""]
    lines += [f"- **{k}**: {v}" for k, v in _settings_lines(settings)]
    lines += [f"- **queries analysed**: {len(done)} of {len(records)}", ""]
    if overall is not None:
        lines += ["## Verdict over all queries", "", overall.text, ""]
        columns, body = _display_rows(mean_by_rate(table).assign(
            queries=lambda d: d["queries"].astype(float)))
        lines += ["### Mean over queries, per rate", "", _md_table(columns, body), ""]
    if not verdict_table.empty:
        lines += ["## Verdict per query", "", "| query | drift to the tonic | verdict |",
                  "|---|---|---|"]
        lines += [f"| {v.title} | {v.drifts} | {v.text} |" for v in verdict_table.itertuples()]
        lines.append("")
    if failed:
        lines += ["## Queries that could not be analysed", ""]
        lines += [f"- `{r.spec}`: {r.error}" for r in failed]
        lines.append("")
    if figures:
        lines += ["## Figures", ""]
        lines += [f"![{title}](figures/{name}.png)" for name, (title, _) in figures.items()]
        lines.append("")
    if overview_png is not None:
        lines += ["## Drift overview", "", "![drift overview](overview.png)", ""]
    lines += ["The full table is `drift_table.csv` (and `.parquet`); the HTML report "
              "`report.html` has a table and the score links for every query.", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# What to say in class
# --------------------------------------------------------------------------------------

def _share_in_words(share: float, bars: int | None = None) -> str:
    if math.isnan(share):
        return "no measurable share"
    if bars:
        return f"{round(share * bars)} of {bars} bars ({share:.0%})"
    return f"{share:.0%} of the bars"


def _chords(n: int) -> str:
    return "a single chord" if n == 1 else f"{n} different chords"


def teaching_script(rows: pd.DataFrame, title: str, *, listen: Mapping[float, str] | None = None,
                    query_file: str = "query.mid") -> str:
    """A lesson plan in numbered steps, with the numbers measured on this piece.

    ``rows``: one query's rows of the drift table (one per rate); ``listen`` maps a rate to
    the file to play (MIDI or WAV). Example: for bwv66.6 at rates inf, 32 and 0 it says how
    many bars keep Bach's chord at full rate and how many land on the tonic at 0 bits/bar.
    """
    rows = rows.sort_values("rate", ascending=False)
    listen = dict(listen or {})
    first = rows.iloc[0]
    last = rows.iloc[-1]
    bars = int(first["segments"]) if "segments" in rows and pd.notna(first["segments"]) else None
    key = str(first["key"]) if "key" in rows else "its key"
    query_tonic = float(first["query_tonic_share"]) if "query_tonic_share" in rows else math.nan
    verdict = verdict_for(rows)
    steps = [
        f"1. Play the query, {title} ({query_file}). Ask the class for the key ({key}) and "
        f"for the cadences. Bach sits on the tonic chord in "
        f"{_share_in_words(query_tonic)}: remember that number.",
        "2. Explain the machine in one breath: a network that learned to write bars in "
        "another style hears each bar of the chorale only through a narrow pipe; the pipe "
        "carries a fixed number of bits per bar, and the network improvises a new bar from "
        "what got through.",
    ]
    for n, (_, row) in enumerate(rows.iterrows(), start=3):
        rate = float(row["rate"])
        where = listen.get(rate)
        heard = f" ({where})" if where else ""
        agreement = float(row.get("triad_agreement", math.nan))
        tonic = float(row.get("tonic_share", math.nan))
        distinct = row.get("distinct_chords")
        if math.isinf(rate):
            lead = f"{n}. Play the improvisation at full rate{heard}: nothing is lost in the pipe."
        elif rate == 0:
            mean = row.get("channel_mean")
            closed = fallback_words(str(mean)) if isinstance(mean, str) and mean else \
                "nothing of the query gets through bar by bar"
            lead = f"{n}. Play it at 0 bits per bar{heard}: the pipe is closed, {closed}."
        else:
            lead = f"{n}. Play it at {rate:g} bits per bar{heard}."
        facts = (f" It keeps Bach's triad in {_share_in_words(agreement, bars)}, sits on the "
                 f"tonic in {_share_in_words(tonic, bars)}"
                 + (f" and uses {_chords(int(distinct))}." if pd.notna(distinct) else "."))
        steps.append(lead + facts)
    n = len(steps) + 1
    steps.append(f"{n}. Show the tonic-share figure and read the verdict: {verdict.text}")
    steps.append(f"{n + 1}. Open the drift overview score in MuseScore and follow one bar "
                 f"down the staves: where does the chord change, and at which rate does it "
                 f"become the tonic?")
    steps.append(f"{n + 2}. Discuss: is falling back on the tonic what a person does when "
                 f"they remember a piece badly? What would 'more bits' mean for a listener?")
    if float(last.get("tonic_share", math.nan)) <= query_tonic:
        steps.append("Caution for the teacher: on this piece the low rates do not raise the "
                     "tonic share above Bach's own; say so, it is a finding too.")
    return "\n".join(steps) + "\n"
