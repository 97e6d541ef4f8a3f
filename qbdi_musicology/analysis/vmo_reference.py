"""The reference path: the same analysis through the original ``vmo`` package (GPL-3.0).

``vmo`` 0.30.5 is unmaintained. What works with numpy 2.x / scipy 1.17 (measured here):

* ``vmo.build_oracle`` and ``vmo.find_threshold`` work when ``dim`` (the number of features
  per frame) is passed; without it the oracle's feature store has one column and the first
  multi-feature frame fails to fit.
* ``vmo.VMO.utility.distances.tonnetz.distance`` works as a ``dfunc_handle`` with
  ``dfunc='other'`` (called once per pair of frames from Python: slow).
* ``import vmo.analysis`` fails: its ``__init__`` imports ``segmentation``, which needs
  ``librosa`` (and ``scikit-learn``). The pattern finder itself lives in
  ``vmo/analysis/analysis.py``, which needs only numpy and scipy; :func:`vmo_analysis_module`
  loads that one file directly, without the package ``__init__``.
* ``vmo.plot`` needs ``pretty_midi``; ``vmo.generate`` and ``vmo.realtime`` need ``librosa``.
  None of them is used here.

This module is for checking and benchmarking; the package's analyses use the exact and much
faster :mod:`qbdi_musicology.analysis.vmo_engine`.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
from pathlib import Path

import numpy as np

from ..errors import QbdiError
from .vmo_engine import TONNETZ, check_distance, check_frames, check_thresholds

log = logging.getLogger(__name__)


def _vmo():
    try:
        import vmo
    except ImportError as exc:  # pragma: no cover - vmo is a dependency
        raise QbdiError("the reference VMO path needs the 'vmo' package (pip install vmo)") \
            from exc
    return vmo


def _dfunc(distance: str) -> dict:
    distance = check_distance(distance)
    if distance == TONNETZ:
        from vmo.VMO.utility.distances.tonnetz import distance as tonnetz_distance
        return {"dfunc": "other", "dfunc_handle": tonnetz_distance}
    return {"dfunc": distance, "dfunc_handle": None}


def reference_oracle(frames, threshold: float, distance: str = "cosine"):
    """``vmo``'s own oracle at one threshold, with its IR computed (``code`` filled in).

    Returns the ``vmo`` object; ``oracle.IR()`` gives ``(ir, h0, h1)``.
    """
    vmo = _vmo()
    x = check_frames(frames)
    oracle = vmo.build_oracle(x, flag="a", threshold=float(threshold),
                              dim=x.shape[1], **_dfunc(distance))
    oracle.IR()
    return oracle


def reference_sweep(frames, thresholds, distance: str = "cosine") -> tuple[np.ndarray, object]:
    """Total IR at each threshold through ``vmo``, and ``vmo``'s oracle at the best one.

    One oracle per threshold, as ``vmo.find_threshold`` does (``ir_type='cum'``).
    """
    vmo = _vmo()
    x = check_frames(frames)
    thr = check_thresholds(thresholds)
    kwargs = _dfunc(distance)
    totals = np.zeros(thr.shape[0])
    for t, value in enumerate(thr):
        oracle = vmo.build_oracle(x, flag="a", threshold=value, dim=x.shape[1], **kwargs)
        ir, _, _ = oracle.IR()
        totals[t] = ir.sum()
    best = int(np.argmax(totals))
    return totals, reference_oracle(x, thr[best], distance)


def reference_find_threshold(frames, start: float, stop: float, step: float,
                             distance: str = "cosine"):
    """``vmo.find_threshold`` itself (thresholds ``np.arange(start, stop, step)``)."""
    vmo = _vmo()
    x = check_frames(frames)
    return vmo.find_threshold(x, r=(start, stop, step), dim=x.shape[1], **_dfunc(distance))


@functools.lru_cache(maxsize=1)
def vmo_analysis_module():
    """``vmo/analysis/analysis.py`` loaded on its own (the package ``__init__`` needs librosa).

    Gives ``find_repeated_patterns``, ``find_fragments``, ``create_selfsim``...
    """
    vmo = _vmo()
    path = Path(vmo.__file__).parent / "analysis" / "analysis.py"
    spec = importlib.util.spec_from_file_location("_vmo_analysis_standalone", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def reference_patterns(oracle, lower: int = 1) -> list:
    """``vmo``'s ``find_repeated_patterns(oracle, lower)``: ``[[end states], length]``."""
    return vmo_analysis_module().find_repeated_patterns(oracle, lower=lower)


def vmo_lists(oracle) -> dict:
    """A ``vmo`` oracle's arrays as plain lists, keyed like :meth:`Oracle.to_vmo_lists`."""
    def plain(v):
        return v if v is None else int(v)

    return {
        "sfx": [plain(v) for v in oracle.sfx],
        "lrs": [int(v) for v in oracle.lrs],
        "data": [plain(v) for v in oracle.data],
        "trn": [[int(v) for v in row] for row in oracle.trn],
        "rsfx": [[int(v) for v in row] for row in oracle.rsfx],
        "latent": [[int(v) for v in row] for row in oracle.latent],
        "code": [[int(v) for v in row] for row in oracle.code],
        "compror": [[int(v) for v in row] for row in oracle.compror],
        "max_lrs": [int(v) for v in oracle.max_lrs],
        "avg_lrs": [float(v) for v in oracle.avg_lrs],
    }
