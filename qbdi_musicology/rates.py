"""How a channel rate is written: in tables, file names, titles and for people.

A rate is bits per bar, a float >= 0 or ``math.inf`` (the full rate: the channel is
bypassed). Every module writes rates through these functions, so a rate reads the same in
the drift table, the file names, the annotated scores and the report.

Example: ``rate_label(32.0) == '32'``, ``rate_file_name(8.0) == 'rate-008.musicxml'``,
``rate_text(math.inf) == 'full rate'``, ``rate_short(8.0) == '8'``, ``rate_tag(0.0) ==
'R0'``, ``rate_title(32.0) == 'R = 32 bits/bar'``.
"""

from __future__ import annotations

import math
from typing import Any

#: The drift overview's file name in a query's folder.
OVERVIEW_FILE = "overview.musicxml"


def rate_label(rate: float) -> str:
    """Short text for a rate in tables: ``inf``, ``32``, ``0.5``."""
    if math.isinf(rate):
        return "inf"
    return f"{rate:g}"


def rate_file_name(rate: float, suffix: str = ".musicxml") -> str:
    """File name of one rate's annotated score: ``rate-032.musicxml``, ``rate-inf.musicxml``.

    Integer rates are zero-padded to three digits so that a file browser lists them in
    order of rate.
    """
    if math.isinf(rate):
        return f"rate-inf{suffix}"
    if float(rate).is_integer():
        return f"rate-{int(rate):03d}{suffix}"
    return f"rate-{rate:g}{suffix}"


def rate_text(rate: Any) -> str:
    """How a rate is shown: ``inf -> 'full rate'``, ``8.0 -> '8 bits/bar'``, other labels as is."""
    if rate is None:
        return ""
    try:
        value = float(rate)
    except (TypeError, ValueError):
        return str(rate)
    if math.isinf(value):
        return "full rate"
    return f"{value:g} bits/bar"


def rate_short(rate: Any) -> str:
    """A rate in few letters (staff names, figure axes): ``'full'``, ``'8'``; labels as is."""
    return rate_text(rate).replace(" bits/bar", "").replace("full rate", "full")


def rate_tag(rate: Any) -> str:
    """The rate in the file names of ``qbdi sweep``: ``R0``, ``R12.5``, ``Rinf``; a label as is."""
    if isinstance(rate, (float, int)) and not isinstance(rate, bool):
        return "Rinf" if math.isinf(rate) else f"R{float(rate):g}"
    return str(rate)


def rate_title(rate: float) -> str:
    """``inf -> 'R = inf, full rate'``, ``32.0 -> 'R = 32 bits/bar'`` (score titles)."""
    if math.isinf(rate):
        return "R = inf, full rate"
    return f"R = {rate:g} bits/bar"
