"""Check written MusicXML the way a theorist's tools will: the 4.0 XSD and MuseScore 3.

* :func:`musicxml_errors` validates a ``.musicxml``/``.mxl`` file against the official
  MusicXML 4.0 schema, offline. The schema files ship inside the ``musicxml`` wheel (an
  extra of this package: ``pip install qbdi-musicology[test]``); nothing is downloaded, no
  DTD is loaded and no entity is expanded.
* :func:`musescore_render` opens a file in headless MuseScore 3 (Debian ``musescore3``),
  writes page 1 as PNG and returns what MuseScore counted (pages, chord symbols, lyrics).
"""

from __future__ import annotations

import base64
import functools
import json
import os
import shutil
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from .errors import QbdiError

_XSD_IMPORTS = {
    "http://www.musicxml.org/xsd/xml.xsd": "xml.xsd",
    "http://www.w3.org/2001/xml.xsd": "xml.xsd",
    "http://www.musicxml.org/xsd/xlink.xsd": "xlink.xsd",
    "http://www.w3.org/1999/xlink.xsd": "xlink.xsd",
}


def _safe_parser():
    from lxml import etree
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           huge_tree=False)


@functools.lru_cache(maxsize=1)
def _schema():
    from lxml import etree
    try:
        import musicxml  # the package whose wheel carries the W3C 4.0 schema
        import xmlschema
    except ImportError as exc:
        raise QbdiError("MusicXML validation needs the test extra: "
                        "pip install 'qbdi-musicology[test]'") from exc
    xsd_dir = Path(musicxml.__file__).parent / "generate_classes"
    local = {
        "xml.xsd": Path(xmlschema.__file__).parent / "schemas" / "XML" / "xml.xsd",
        "xlink.xsd": Path(xmlschema.__file__).parent / "schemas" / "XLINK" / "xlink.xsd",
    }

    class _Local(etree.Resolver):
        def resolve(self, url, pubid, context):
            name = _XSD_IMPORTS.get(url)
            if name:
                return self.resolve_filename(str(local[name]), context)
            return None

    parser = _safe_parser()
    parser.resolvers.add(_Local())
    return etree.XMLSchema(etree.parse(str(xsd_dir / "musicxml_4_0.xsd"), parser))


def _read_tree(path: Path):
    from lxml import etree
    parser = _safe_parser()
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            container = etree.fromstring(archive.read("META-INF/container.xml"), parser)
            roots = [r.get("full-path") for r in container.iter("rootfile")]
            if not roots:
                raise ValueError("META-INF/container.xml names no root file")
            return etree.ElementTree(etree.fromstring(archive.read(roots[0]), parser))
    return etree.parse(str(path), parser)


def musicxml_errors(path: str | os.PathLike) -> list[str]:
    """Return the MusicXML 4.0 schema errors of a file (empty list = valid).

    Entity references (a DTD trick) count as errors, since they are never expanded here.
    """
    from lxml import etree
    path = Path(path)
    try:
        tree = _read_tree(path)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, etree.Error) as exc:
        return [f"{type(exc).__name__}: {exc}"]
    entities = [f"line {e.sourceline}: entity {e.text}" for e in tree.iter(etree.Entity)]
    schema = _schema()
    if schema.validate(tree) and not entities:
        return []
    return entities + [f"line {e.line}: {e.message}" for e in schema.error_log]


def mscore_binary() -> str | None:
    """Path of the MuseScore 3 executable, or None when it is not installed."""
    for name in ("mscore3", "musescore3", "mscore"):
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class MuseScoreResult:
    """What headless MuseScore made of a file."""

    ok: bool
    pages: int = 0
    harmonies: int = 0
    lyrics: int = 0
    png: Path | None = None
    warnings: list[str] = field(default_factory=list)
    error: str = ""


def musescore_render(path: str | os.PathLike, png: str | os.PathLike | None = None,
                     dpi: int = 100, timeout: float = 120) -> MuseScoreResult:
    """Open ``path`` in headless MuseScore 3; write page 1 to ``png`` if given.

    ``ok`` is False when MuseScore crashes, times out or produces nothing; ``warnings``
    lists MuseScore calling the file invalid, or chord symbols/lyrics imported but not drawn.
    """
    binary = mscore_binary()
    if binary is None:
        raise QbdiError("MuseScore 3 is not installed (Debian: apt-get install musescore3)")
    with tempfile.TemporaryDirectory(prefix="qbdi-mscore-") as work:
        cfg = Path(work, "cfg", "MuseScore")
        cfg.mkdir(parents=True)
        (cfg / "MuseScore3.ini").write_text(
            f"[export]\npng\\useTransparency=false\npng\\resolution={dpi}\n")
        xdg = Path(work, "xdg")
        xdg.mkdir(mode=0o700)
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_RUNTIME_DIR=str(xdg))
        try:
            proc = subprocess.run([binary, "-c", str(Path(work, "cfg")), "--score-media",
                                   str(path)], capture_output=True, env=env, timeout=timeout)
        except subprocess.TimeoutExpired:
            return MuseScoreResult(False, error=f"timed out after {timeout:.0f}s")
        if proc.returncode != 0:
            return MuseScoreResult(False, error=f"mscore exit {proc.returncode}")
        try:
            data = json.loads(proc.stdout)
            meta = data["metadata"]
            first_png = base64.b64decode(data["pngs"][0])
        except (ValueError, KeyError, IndexError) as exc:
            return MuseScoreResult(False, error=f"no usable output: {exc}")
        parts = meta.get("parts", [])
        result = MuseScoreResult(
            True, pages=int(meta.get("pages", 0)),
            harmonies=sum(p.get("harmonyCount", 0) for p in parts),
            lyrics=sum(p.get("lyricCount", 0) for p in parts))
        svg = "".join(base64.b64decode(s).decode("utf-8", "replace")
                      for s in data.get("svgs", []))
        if b"is not a valid MusicXML file" in proc.stderr:
            result.warnings.append("MuseScore calls the file invalid MusicXML")
        for count, what, cls in ((result.harmonies, "chord symbols", "Harmony"),
                                 (result.lyrics, "lyrics", "Lyrics")):
            if count and f'class="{cls}"' not in svg:
                result.warnings.append(f"{count} {what} imported but none drawn")
        if png is not None:
            png = Path(png)
            png.parent.mkdir(parents=True, exist_ok=True)
            png.write_bytes(first_png)
            result.png = png
        return result
