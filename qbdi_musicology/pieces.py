"""Names of scores: named corpora, their pieces, and the query strings that name one piece.

This is the layer between a name and a file; reading the file is :mod:`.scoreio`'s job
(this module calls it, it never calls this one), and turning a corpus into bar arrays is
:mod:`.corpus`'s.

* A *corpus* is a set of score files: music21's bundled Bach chorales (``bach-chorales``,
  the embedded default), the whole music21 corpus (``music21``: every piece in every
  format music21 ships, named by its path, e.g. ``beethoven/opus18no1/movement1``), the
  folders of the shared data (``pop-music-midi``, ``visions-fugitives``), or any folder or
  single score file. Each named corpus has a manifest, ``corpora/<name>.toml``; a manifest
  dropped there adds a corpus.
* A *query* names one score: ``corpus:NAME/PIECE`` or a file path; either may end in
  ``#N`` to choose tune ``X:N`` of an ABC file that holds several tunes.

Example::

    score = resolve_query("corpus:music21/beethoven/opus18no3")     # UTF-16 MusicXML
    score = resolve_query("corpus:music21/essenFolksong/altdeu10#3") # ABC tune X:3
    find_piece("music21", "bach/bwv277")     # .../corpus/bach/bwv277.mxl (MusicXML first)
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError
from .formats import ABC_SUFFIXES, SCORE_SUFFIXES
from .scoreio import DEFAULT_LIMITS, Limits, load_score

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
MANIFEST_DIRS = (REPO_ROOT / "corpora", Path(__file__).resolve().parent / "corpora")

#: The built-in corpora, also written out as TOML in ``corpora/``; a TOML manifest of the
#: same name wins. Kept here so the default works from an installed package too.
BUILTIN_MANIFESTS: dict[str, dict] = {
    "bach-chorales": {
        "name": "bach-chorales",
        "title": "J. S. Bach, four-part chorales (music21 corpus)",
        "kind": "music21",
        "composer": "bach",
        "pattern": r"bwv\d+(\.\d+)?(-[a-z0-9]+)?\.(mxl|xml)",
        "max_bwv": 438,
        "meter": None,
        "licence": "public domain scores, encoded for the music21 corpus (BSD)",
    },
    "music21": {
        "name": "music21",
        "title": "The whole music21 corpus: MusicXML, Humdrum, ABC and RomanText pieces",
        "kind": "music21",
        "composer": "",
        "recursive": True,
        "meter": None,
        "licence": "see music21/corpus/license.txt: mostly public domain encodings (BSD)",
    },
    "pop-music-midi": {
        "name": "pop-music-midi",
        "title": "Pop song verses and choruses (MIDI), the training clips of Dubnov 2019",
        "kind": "folder",
        "folder": "pop_music_midi",
        "meter": "4/4",
        "licence": "research use; not redistributed with this package",
    },
    "visions-fugitives": {
        "name": "visions-fugitives",
        "title": "S. Prokofiev, Visions fugitives op. 22 nos. 1-8 (MIDI), the paper's queries",
        "kind": "folder",
        "folder": "visions_fugitives",
        "meter": None,
        "licence": "research use; not redistributed with this package",
    },
}
DEFAULT_CORPUS = "bach-chorales"

#: Folders inside music21's corpus that hold no scores.
_NOT_SCORES = {"_metadataCache", "__pycache__"}


def resolve_data_dir(override: str | os.PathLike | None = None) -> Path:
    """The shared data folder: ``override``, else ``$QBDI_DATA``, else ``../shared/data``."""
    if override:
        return Path(override).expanduser()
    env = os.environ.get("QBDI_DATA")
    if env:
        return Path(env).expanduser()
    return REPO_ROOT.parent / "shared" / "data"


# ------------------------------------------------------------------ manifests


@dataclass(frozen=True)
class CorpusSpec:
    """A named corpus: where its files are and how to read them."""

    name: str
    title: str
    kind: str  # "music21" (bundled corpus), "folder" or "file"
    location: str  # music21 composer ("" = the whole corpus), folder or path
    meter: str | None = "4/4"
    pattern: str | None = None
    max_bwv: int | None = None
    licence: str = ""
    recursive: bool = False  # music21 kind: also the sub-folders of the composer's folder

    def files(self, data: str | os.PathLike | None = None) -> list[Path]:
        """The score files of this corpus, sorted by name."""
        root = self.root(data)
        if self.kind == "music21":
            found = root.rglob("*") if self.recursive else root.iterdir()
            out = []
            for p in found:
                rel = p.relative_to(root).parts
                if not p.is_file() or p.suffix.lower() not in SCORE_SUFFIXES \
                        or _NOT_SCORES.intersection(rel):
                    continue
                if self.pattern and not re.fullmatch(self.pattern, p.name):
                    continue
                if self.max_bwv is not None:
                    num = re.match(r"bwv(\d+)", p.name)
                    if not num or int(num.group(1)) > self.max_bwv:
                        continue  # not a chorale (e.g. bwv846, a prelude)
                out.append(p)
            return sorted(out, key=lambda p: _natural_key(str(p.relative_to(root))))
        if root.is_file():
            return [root]
        if not root.is_dir():
            hint = ("set --data-dir or QBDI_DATA to the folder that holds it"
                    if self.kind == "folder" else "check the path")
            raise InputError(f"corpus {self.name!r}: folder {root} not found; {hint}")
        found = [p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SCORE_SUFFIXES
                 and not any(part.startswith(".") for part in p.relative_to(root).parts)]
        return sorted(found, key=lambda p: _natural_key(str(p.relative_to(root))))

    def root(self, data: str | os.PathLike | None = None) -> Path:
        """The folder (or file) the corpus reads from."""
        if self.kind == "music21":
            from music21.common import getCorpusFilePath

            # music21's corpus keeps each composer in a folder of that name
            base = Path(getCorpusFilePath())
            return base / self.location if self.location else base
        loc = Path(self.location).expanduser()
        if self.kind == "folder" and not loc.is_absolute():
            return resolve_data_dir(data) / loc
        return loc

    def piece_name(self, path: Path, data: str | os.PathLike | None = None, *,
                   corpus_root: Path | None = None) -> str:
        """A piece's name within the corpus: its path below the root, without suffix."""
        root = corpus_root if corpus_root is not None else self.root(data)
        if root.is_dir():
            try:
                return _posix(path.relative_to(root).with_suffix(""))
            except ValueError:
                pass
        return path.stem

    def piece_names(self, files: list[Path], data: str | os.PathLike | None = None, *,
                    corpus_root: Path | None = None) -> dict[Path, str]:
        """Every file's piece name; where one piece is in several formats (``bach/bwv277``
        is ``.mxl`` and ``.krn``), each of them keeps its suffix (``bach/bwv277.krn``)."""
        root = corpus_root if corpus_root is not None else self.root(data)
        names = {p: self.piece_name(p, corpus_root=root) for p in files}
        seen: dict[str, int] = {}
        for name in names.values():
            seen[name] = seen.get(name, 0) + 1
        return {p: (n + p.suffix.lower() if seen[n] > 1 else n) for p, n in names.items()}


def _posix(path: Path) -> str:
    return "/".join(path.parts)


def _natural_key(text: str):
    """Sort 'bwv9' before 'bwv10' and 'vf_no2' before 'vf_no10'."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", text)]


def _spec_from_dict(data: dict, where: str) -> CorpusSpec:
    try:
        name = str(data["name"])
        kind = str(data.get("kind", "folder"))
        if kind == "music21":
            location = str(data["composer"])
        elif kind == "folder":
            location = str(data["folder"])
        else:
            raise InputError(f"{where}: kind {kind!r}; use 'music21' or 'folder'")
    except KeyError as exc:
        raise InputError(f"{where}: the manifest has no {exc.args[0]!r} entry") from None
    meter = data.get("meter", "4/4")
    if meter in ("", "any", "none"):
        meter = None
    return CorpusSpec(name=name, title=str(data.get("title", name)), kind=kind,
                      location=location, meter=meter, pattern=data.get("pattern"),
                      max_bwv=data.get("max_bwv"), licence=str(data.get("licence", "")),
                      recursive=bool(data.get("recursive", False)))


def manifests() -> dict[str, CorpusSpec]:
    """All named corpora: the built-in ones and every ``corpora/*.toml`` manifest."""
    specs = {name: _spec_from_dict(d, f"built-in corpus {name}")
             for name, d in BUILTIN_MANIFESTS.items()}
    try:
        import tomllib
    except ImportError:  # Python 3.10: only the built-in manifests
        log.info("tomllib unavailable; corpus manifests in corpora/ are not read")
        return specs
    for folder in MANIFEST_DIRS:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                log.warning("corpus manifest %s is unreadable (%s); ignored", path, exc)
                continue
            spec = _spec_from_dict(data, str(path))
            specs[spec.name] = spec
    return specs


def get_spec(name_or_path: str | os.PathLike) -> CorpusSpec:
    """The corpus a name or a path stands for; a path is a folder or single-file corpus."""
    text = str(name_or_path)
    specs = manifests()
    if text in specs:
        return specs[text]
    path = Path(text).expanduser()
    if path.is_dir():
        return CorpusSpec(name=path.name or text, title=f"folder {path}", kind="folder",
                          location=str(path.resolve()), meter=None)
    if path.is_file():
        return CorpusSpec(name=path.stem, title=f"file {path}", kind="file",
                          location=str(path.resolve()), meter=None)
    raise InputError(f"no corpus named {text!r} and no such file or folder; the named corpora "
                     f"are {', '.join(sorted(specs))} (see 'qbdi corpus list')")


# ------------------------------------------------------------------ pieces


def find_piece(name: str, piece: str, *, data_dir: str | os.PathLike | None = None) -> Path:
    """The file of one piece of a named corpus: ``find_piece("bach-chorales", "bwv66.6")``.

    A piece is named by its path below the corpus folder, with or without its suffix
    (``beethoven/opus18no1/movement1`` or ``...movement1.krn``), or by its file name alone
    when that is unambiguous. Without a suffix, a piece that exists in several formats is
    read in the first of: MusicXML, MIDI, Humdrum, MEI, ABC, RomanText.
    """
    spec = get_spec(name)
    files = spec.files(data_dir)
    corpus_root = spec.root(data_dir)
    names = spec.piece_names(files, corpus_root=corpus_root)
    wanted = piece.strip().strip("/").lower()
    rank = {s: i for i, s in enumerate(SCORE_SUFFIXES)}

    def best(paths: list[Path]) -> Path | None:
        return min(paths, key=lambda p: rank.get(p.suffix.lower(), 99)) if paths else None

    def plain(p: Path) -> str:
        return spec.piece_name(p, corpus_root=corpus_root).lower()

    hit = best([p for p in files if names[p].lower() == wanted])
    if hit is None and corpus_root.is_dir():
        hit = best([p for p in files if _rel(p, corpus_root) == wanted])
    if hit is None:
        hit = best([p for p in files if plain(p) == wanted])
    if hit is None:
        by_file = [p for p in files if p.name.lower() == wanted]
        by_stem = [p for p in files if p.stem.lower() == wanted]
        for group in (by_file, by_stem):
            if len({p.with_suffix("") for p in group}) == 1:
                hit = best(group)
                break
            if len(group) > 1:
                shown = ", ".join(sorted(names[p] for p in group)[:6])
                raise InputError(f"corpus {name!r}: {piece!r} names {len(group)} pieces "
                                 f"({shown}); give the path, e.g. corpus:{name}/"
                                 f"{names[group[0]]}")
    if hit is None:
        inside = sorted({spec.piece_name(p, corpus_root=corpus_root) for p in files
                         if names[p].lower().startswith(wanted + "/")}, key=_natural_key)
        if inside:
            shown = ", ".join(inside[:6]) + (f", ... (+{len(inside) - 6})"
                                            if len(inside) > 6 else "")
            raise InputError(f"corpus {name!r}: {piece!r} is a folder of {len(inside)} "
                             f"pieces ({shown}); name one, e.g. corpus:{name}/{inside[0]}")
        key = wanted.rsplit("/", 1)[-1][:4]
        near = [names[p] for p in files if key in names[p].lower()][:5]
        raise InputError(f"corpus {name!r} has no piece {piece!r}"
                         + (f"; similar: {', '.join(near)}" if near else "")
                         + f"; list them with 'qbdi corpus info {name} --pieces'")
    return hit


def _rel(path: Path, root: Path) -> str:
    try:
        return _posix(path.relative_to(root)).lower()
    except ValueError:
        return ""


_TUNE = re.compile(r"^(?P<base>.+)#(?P<tune>\d+)$")


def split_tune(query: str) -> tuple[str, int | None]:
    """``"folk.abc#3"`` -> ``("folk.abc", 3)``; a query without ``#N`` -> ``(query, None)``.

    A file whose name really ends in ``#3`` is taken as that file (the caller checks).
    """
    found = _TUNE.match(query)
    if not found:
        return query, None
    return found.group("base"), int(found.group("tune"))


def resolve_query(query: str, *, limits: Limits = DEFAULT_LIMITS, data_dir=None):
    """A score from a query string: ``corpus:NAME/PIECE`` or a file path, maybe ``#N``.

    ``#N`` at the end chooses tune ``X:N`` of an ABC file that holds several tunes (without
    it, the first tune is read and a warning says so).

    Example: ``resolve_query("corpus:bach-chorales/bwv66.6")`` is music21's chorale
    bwv 66.6; ``resolve_query("corpus:music21/beethoven/opus18no3")`` the UTF-16 MusicXML
    of Beethoven's quartet op. 18 no. 3; ``resolve_query("corpus:visions-fugitives/vf_no1")``
    reads ``vf_no1.mid`` from the Visions fugitives folder;
    ``resolve_query("tunes/reels.abc#12")`` reads tune X:12 of a file.
    """
    text = str(query)
    if text.startswith("corpus:"):
        rest, tune = split_tune(text[len("corpus:"):])
        if "/" not in rest:
            raise InputError(f"query {text!r}: write corpus:NAME/PIECE, e.g. "
                             "corpus:bach-chorales/bwv66.6 or corpus:music21/"
                             "beethoven/opus18no3")
        name, piece = rest.split("/", 1)
        path = find_piece(name, piece, data_dir=data_dir)
        return load_score(path, limits=limits, tune=_tune_for(path, tune, text))
    base, tune = split_tune(text)
    if tune is not None and Path(text).exists():
        base, tune = text, None
    return load_score(base, limits=limits, tune=_tune_for(Path(base), tune, text))


def _tune_for(path: Path, tune: int | None, query: str) -> int | None:
    if tune is not None and path.suffix.lower() not in ABC_SUFFIXES:
        raise InputError(f"query {query!r}: #{tune} chooses a tune of an ABC file, but "
                         f"{path.name} is not ABC; leave out the #{tune}")
    return tune
