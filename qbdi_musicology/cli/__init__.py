"""The ``qbdi`` command line.

Each sub-command lives in its own module ``cli/cmd_<name>.py`` that defines
``register(subparsers)``; the module is found automatically. User errors
(:class:`~qbdi_musicology.errors.QbdiError`) are printed on one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from typing import Sequence

from .. import __version__
from ..errors import QbdiError

EPILOG = """examples:
  qbdi demo --out out/demo                       the whole pipeline on a Bach chorale
  qbdi corpus list                               the named corpora
  qbdi query corpus:bach-chorales/bwv66.6 --out improv.musicxml
  qbdi sweep corpus:bach-chorales/bwv66.6 --rates 0,8,32,inf --out sweep/
run 'qbdi COMMAND --help' for the options and an example of each command."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qbdi",
        description="Query-based Deep Improvisation for music theorists.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"qbdi-musicology {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("cmd_"):
            module = importlib.import_module(f"{__name__}.{info.name}")
            module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``qbdi`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        result = args.func(args)
    except QbdiError as exc:
        message = " ".join(str(exc).split())
        print(f"qbdi {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"qbdi {args.command}: interrupted; finished outputs are kept, rerun to resume",
              file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
