"""Helpers shared by the sub-command modules."""

from __future__ import annotations

import argparse
import logging
import math

from ..errors import ParameterError


def add_command(subparsers, name: str, help: str, example: str) -> argparse.ArgumentParser:
    """Add a sub-command whose ``--help`` ends with a worked example."""
    return subparsers.add_parser(
        name, help=help, description=help, epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter)


def parse_rates(text: str) -> list[float]:
    """Parse ``'0,8,32,inf'`` into ``[0.0, 8.0, 32.0, inf]`` (bits per bar)."""
    rates = []
    for item in (t.strip() for t in text.split(",")):
        if not item:
            continue
        try:
            value = math.inf if item.lower() in ("inf", "full") else float(item)
        except ValueError:
            raise ParameterError(
                f"rate {item!r} is not a number; give bits per bar like 0,8,32,inf") from None
        if math.isnan(value) or value < 0:
            raise ParameterError(f"rate {item!r} must be >= 0 bits per bar (or inf)")
        rates.append(value)
    if not rates:
        raise ParameterError("no rates given; give bits per bar like 0,8,32,inf")
    return rates


def configure_script_logging() -> None:
    """Logging of an analysis script started from a shell (not when its ``main`` is called).

    Warnings go to stderr; the analysis modules' caveats (e.g. "the query has 13 bars and
    the improvisation 12") are left out, since the batch keeps them in its tables' "warnings"
    column and repeating them for every rate would bury the progress. Process-wide settings
    belong to the command line: a ``main()`` called from Python leaves the caller's logging
    as it was.
    """
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("qbdi_musicology.analysis").setLevel(logging.ERROR)


def add_meter_map(parser: argparse.ArgumentParser) -> None:
    """The ``--meter-map`` option: how a bar in another meter meets the model's 4/4 bar."""
    parser.add_argument(
        "--meter-map", choices=("scale", "pad"), default="scale",
        help="bars in a meter other than the model's (3/4, 6/8, 2/4...): 'scale' stretches "
             "or squeezes each bar onto the model's bar, beats on its beats (default); "
             "'pad' reads it at the model's speed and leaves the rest of the model's bar "
             "silent. Either way every bar of the query is one bar of the improvisation, "
             "in the query's meter")


def add_key(parser: argparse.ArgumentParser) -> None:
    """The ``--key`` option: the query's key instead of the one the analysis finds."""
    parser.add_argument(
        "--key", default=None,
        help="the query's key, e.g. 'D' (D major) or 'f#' (F-sharp minor): the tonic the "
             "channel falls back on and the improvisation's key signature (default: found "
             "once from the query's local keys)")
