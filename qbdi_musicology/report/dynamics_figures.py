"""Figures of the information-dynamics analysis (the paper's Fig. 4 and Fig. 5).

* :func:`ir_curves_figure` - total information rate against the similarity threshold, one
  line for the query and one per channel rate, each with its optimal threshold marked
  (Fig. 5: how much structure the improvisations keep as the rate falls);
* :func:`motif_timeline_figure` - the information rate of each beat (or bar) at the optimal
  threshold, and below it one row per motif with its statements along the bars (Fig. 4).

Figures are written with matplotlib's Agg backend (no display needed), atomically.

Example::

    ir_curves_figure({"query": q, "8 bits/bar": r8}, "out/ir_curves.png")
    motif_timeline_figure(q, "out/query_motifs.png", title="bwv66.6")
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..analysis.dynamics import Dynamics
from ..annotate.motifs import motif_colour
from ..fileio import atomic_path


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path: str | os.PathLike, dpi: int) -> Path:
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi, bbox_inches="tight")
    return path


def ir_curves_table(analyses: Mapping[str, Dynamics]):
    """The curves as one tidy DataFrame: ``piece, threshold, ir, optimal``."""
    import pandas as pd
    frames = []
    for name, dyn in analyses.items():
        table = dyn.curve_table(name)
        table["optimal"] = np.arange(len(table)) == dyn.best_index
        frames.append(table)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["piece", "threshold", "ir", "optimal"])


def ir_curves_figure(analyses: Mapping[str, Dynamics], path: str | os.PathLike, *,
                     title: str = "Information rate vs threshold", dpi: int = 150) -> Path:
    """Fig. 5: total IR (bits) against the threshold, one line per piece or rate.

    ``analyses`` maps a label (``"query"``, ``"8 bits/bar"``...) to its :class:`Dynamics`;
    the optimal threshold of each line is marked with a dot.
    """
    import seaborn as sns
    plt = _pyplot()
    table = ir_curves_table(analyses)
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    try:
        palette = sns.color_palette("viridis", n_colors=max(len(analyses), 1))
        if len(analyses):
            sns.lineplot(data=table, x="threshold", y="ir", hue="piece", ax=ax,
                         palette=palette, linewidth=1.6)
            best = table[table["optimal"]]
            sns.scatterplot(data=best, x="threshold", y="ir", hue="piece", ax=ax,
                            palette=palette, s=45, legend=False, zorder=3)
        ax.set_xlabel(f"similarity threshold ({_distance_name(analyses)})")
        ax.set_ylabel("total information rate (bits)")
        ax.set_title(title)
        if ax.get_legend() is not None:
            ax.legend(title=None, frameon=False, fontsize="small")
        sns.despine(fig)
        return _save(fig, path, dpi)
    finally:
        plt.close(fig)


def _distance_name(analyses: Mapping[str, Dynamics]) -> str:
    names = sorted({dyn.distance for dyn in analyses.values()})
    return ", ".join(names) + " distance" if names else "distance"


def motif_timeline_figure(dynamics: Dynamics, path: str | os.PathLike, *, title: str = "",
                          dpi: int = 150) -> Path:
    """Fig. 4: IR of each frame at the optimal threshold, and the motifs along the bars.

    The x axis is time in quarter notes, labelled with bar numbers; each motif is a row,
    each statement a bar in the motif's colour (the colours of the annotated score) with its
    label ("A1"...).
    """
    plt = _pyplot()
    fr = dynamics.frames
    n_rows = max(len(dynamics.motifs), 1)
    fig, (ax_ir, ax_m) = plt.subplots(
        2, 1, figsize=(9, 2.4 + 0.35 * n_rows), sharex=True,
        gridspec_kw={"height_ratios": [2.0, max(1.0, 0.45 * n_rows)]})
    try:
        starts = np.asarray(fr.offsets, dtype=float)
        widths = np.asarray(fr.durations, dtype=float)
        ax_ir.step(np.append(starts, starts[-1] + widths[-1]),
                   np.append(dynamics.oracle.ir, dynamics.oracle.ir[-1]),
                   where="post", color="0.2", linewidth=1.2)
        ax_ir.set_ylabel("IR (bits)")
        ax_ir.set_title(title or (f"{fr.title or 'piece'}: threshold "
                                  f"{dynamics.best_threshold:.2f}, total IR "
                                  f"{dynamics.max_ir:.1f} bits"))
        for k, motif in enumerate(dynamics.motifs):
            colour = motif_colour(k)
            for occ in motif.occurrences:
                x0 = starts[occ.start]
                x1 = starts[occ.stop - 1] + widths[occ.stop - 1]
                ax_m.barh(k, x1 - x0, left=x0, height=0.6, color=colour, alpha=0.85)
                ax_m.text(x0 + 0.1, k, occ.label, va="center", ha="left", fontsize=7,
                          color="white", fontweight="bold")
        ax_m.set_yticks(range(len(dynamics.motifs)))
        ax_m.set_yticklabels([f"{m.label} ({m.length})" for m in dynamics.motifs])
        ax_m.set_ylim(n_rows - 0.5, -0.5)
        ax_m.set_ylabel("motif (frames)")
        # bar numbers at the first frame of each bar
        first = [i for i in range(len(fr)) if i == 0 or fr.measures[i] != fr.measures[i - 1]]
        step = max(1, len(first) // 16)
        ticks = first[::step]
        ax_m.set_xticks(starts[ticks])
        ax_m.set_xticklabels([str(int(fr.measures[i])) for i in ticks])
        ax_m.set_xlabel("bar")
        if not dynamics.motifs:
            ax_m.text(0.5, 0.5, "no motif at this threshold", transform=ax_m.transAxes,
                      ha="center", va="center", color="0.4")
        for ax in (ax_ir, ax_m):
            ax.spines[["top", "right"]].set_visible(False)
        return _save(fig, path, dpi)
    finally:
        plt.close(fig)
