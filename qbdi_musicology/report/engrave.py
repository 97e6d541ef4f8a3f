"""Score images without MuseScore: annotated MusicXML engraved to SVG pages with verovio.

verovio (a PyPI wheel, no system library) reads the MusicXML this package writes and draws
what a theorist needs to see: the chord symbols above the staves, the Roman numerals (the
lyrics under the query's lowest staff) and the red collision notes. The page header is
left out: the title, legend and key line of the MusicXML credits overlap each other in
verovio, so the page that shows the image says them in its own words instead.

Example::

    pages = engrave_file("out/demo/queries/bach-chorales_bwv66.6/rate-008.musicxml")
    len(pages)             # 2: ten bars of the chorale over the improvisation at 8 bits/bar
    pages[0][:4]           # '<svg'

The same file and options give the same bytes (element ids come from a fixed seed).
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..fileio import write_text_atomic

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PageLayout:
    """How an engraved page looks, in verovio's units (tenths of a millimetre).

    The default is an A4 page at 40 % of verovio's staff size: four to five bars of a
    chorale over its improvisation per system, readable on a screen at normal zoom. The
    page height shrinks to the music (``adjust_height``), so the last page has no blank
    half. ``seed`` fixes the element ids, which makes the SVG deterministic.
    """

    width: int = 2100
    height: int = 2970
    scale: int = 40
    adjust_height: bool = True
    seed: int = 1

    def verovio_options(self) -> dict[str, Any]:
        """The layout as verovio toolkit options."""
        return {"pageWidth": self.width, "pageHeight": self.height, "scale": self.scale,
                "adjustPageHeight": self.adjust_height, "header": "none", "footer": "none",
                "breaks": "auto", "svgViewBox": True, "svgFormatRaw": True,
                "xmlIdSeed": self.seed}


DEFAULT_LAYOUT = PageLayout()


@functools.lru_cache(maxsize=1)
def engraver_version() -> str | None:
    """verovio's version when it can be imported, else None (no pictures then)."""
    try:
        import verovio
    except ImportError:
        return None
    return str(verovio.toolkit().getVersion())


def engrave_file(source: str | os.PathLike, layout: PageLayout = DEFAULT_LAYOUT
                 ) -> list[str]:
    """Engrave a MusicXML file and return its pages as SVG documents (one string each).

    Example: ``engrave_file("rate-000.musicxml")`` gives the chorale over the improvisation
    at 0 bits per bar, with ``F#m`` above and ``i`` under every improvised bar.
    Raises :class:`InputError` when verovio is missing or cannot read the file.
    """
    source = Path(source)
    if not source.is_file():
        raise InputError(f"{source}: no such score to engrave")
    return engrave_text(source.read_text(encoding="utf-8"), layout, str(source))


def engrave_text(musicxml: str, layout: PageLayout = DEFAULT_LAYOUT, name: str = "score"
                 ) -> list[str]:
    """Engrave a MusicXML document given as text; its pages as SVG documents.

    The same as :func:`engrave_file` for a score that is not (or not here) a file: a
    worker of the batch receives the score's text and sends back the pages, so it needs
    no access to the output folder. ``name`` is how error messages call the score.
    """
    try:
        import verovio
    except ImportError as exc:
        raise InputError("engraving needs verovio: pip install verovio") from exc
    # verovio warns on stderr about details it handles (a beam left open across a bar
    # line); errors only, and those reach the caller through the exception below.
    verovio.enableLog(verovio.LOG_ERROR)
    # The fonts are found from the package's data folder, named explicitly: verovio's
    # default lookup works only in the main thread.
    toolkit = verovio.toolkit(False)
    if not toolkit.setResourcePath(str(Path(verovio.__file__).parent / "data")):
        raise InputError("verovio's fonts are missing: reinstall it (pip install verovio)")
    toolkit.setOptions(layout.verovio_options())
    if not toolkit.loadData(musicxml):
        raise InputError(f"{name}: verovio could not read this MusicXML "
                         f"({toolkit.getLog().strip()[:200] or 'no reason given'})")
    pages = [toolkit.renderToSVG(page) for page in range(1, toolkit.getPageCount() + 1)]
    if not pages:
        raise InputError(f"{name}: verovio engraved no page")
    log.debug("engraved %s: %d page(s), layout %s", name, len(pages), asdict(layout))
    return pages


def engrave_to_files(source: str | os.PathLike, target_dir: str | os.PathLike, stem: str,
                     layout: PageLayout = DEFAULT_LAYOUT) -> list[Path]:
    """Engrave ``source`` and write ``<target_dir>/<stem>-1.svg``, ``-2.svg``... atomically.

    Returns the written paths in page order. Pages of an earlier, longer engraving of the
    same stem are removed, so the folder holds exactly this score's pages.
    """
    return write_pages(engrave_file(source, layout), target_dir, stem)


def write_pages(pages: list[str], target_dir: str | os.PathLike, stem: str) -> list[Path]:
    """Write engraved pages as ``<target_dir>/<stem>-1.svg``, ``-2.svg``... atomically.

    Pages of an earlier, longer engraving of the same stem are removed.
    """
    target_dir = Path(target_dir)
    written = [write_text_atomic(target_dir / f"{stem}-{n}.svg", svg)
               for n, svg in enumerate(pages, start=1)]
    stale = len(pages) + 1
    while (target_dir / f"{stem}-{stale}.svg").exists():
        (target_dir / f"{stem}-{stale}.svg").unlink()
        stale += 1
    return written
