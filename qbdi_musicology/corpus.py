"""Named corpora of scores, read into bar arrays, with a parse cache.

A *corpus* is a set of score files: music21's bundled Bach chorales (``bach-chorales``,
the embedded default), the folders of the shared data (``pop-music-midi``,
``visions-fugitives``), or any folder or single MIDI/MusicXML file. Each named corpus has a
manifest, ``corpora/<name>.toml``; a manifest dropped there adds a corpus.

:func:`load_corpus` reads a corpus into one bar array for training or analysis. Bad files
are skipped and reported with the reason, never fatal. Parsing is slow (music21 needs about
0.1 s per chorale), so each file's bars are cached on disk, keyed by the file's content and
the settings; the second load of a corpus only reads the cache.

Example::

    chorales = load_corpus("bach-chorales", transpose="common")
    chorales.bars.shape        # (n_bars, 16, 78, 2): every 4/4 chorale, in C major / A minor
    chorales.skipped[:1]       # [('bwv11.6', 'time signature 3/4, not the corpus meter 4/4')]
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import InputError, ParameterError, QbdiError
from .fileio import atomic_path
from .grid import DEFAULT_GRID, PLAY, Grid
from .pianoroll import convert_score, estimate_key, transpose_bars
from .scoreio import DEFAULT_LIMITS, SCORE_SUFFIXES, Limits, load_score

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
MANIFEST_DIRS = (REPO_ROOT / "corpora", Path(__file__).resolve().parent / "corpora")
#: Bump when the cached content or its meaning changes; old entries are then ignored.
CACHE_VERSION = 1
TRANSPOSE_CHOICES = (None, "common", "all12")
#: Semitone shifts of the 12-key augmentation: a tritone down to a fourth up, so that no
#: copy moves more than 6 semitones (fewer notes fold at the edges of the grid).
ALL12_SHIFTS = tuple(range(-6, 6))

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


# ------------------------------------------------------------------ places


def resolve_data_dir(override: str | os.PathLike | None = None) -> Path:
    """The shared data folder: ``override``, else ``$QBDI_DATA``, else ``../shared/data``."""
    if override:
        return Path(override).expanduser()
    env = os.environ.get("QBDI_DATA")
    if env:
        return Path(env).expanduser()
    return REPO_ROOT.parent / "shared" / "data"


def resolve_cache_dir(override: str | os.PathLike | None = None) -> Path:
    """The parse cache: ``override``, else ``$QBDI_CACHE``, else ``~/.cache/qbdi-musicology``."""
    if override:
        return Path(override).expanduser()
    env = os.environ.get("QBDI_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "qbdi-musicology"


# ------------------------------------------------------------------ manifests


@dataclass(frozen=True)
class CorpusSpec:
    """A named corpus: where its files are and how to read them."""

    name: str
    title: str
    kind: str  # "music21" (bundled corpus), "folder" or "file"
    location: str  # music21 composer, folder (relative to the data folder) or path
    meter: str | None = "4/4"
    pattern: str | None = None
    max_bwv: int | None = None
    licence: str = ""

    def files(self, data: str | os.PathLike | None = None) -> list[Path]:
        """The score files of this corpus, sorted by name."""
        if self.kind == "music21":
            out = []
            for p in self.root(data).iterdir():
                if self.pattern and not re.fullmatch(self.pattern, p.name):
                    continue
                if self.max_bwv is not None:
                    num = re.match(r"bwv(\d+)", p.name)
                    if not num or int(num.group(1)) > self.max_bwv:
                        continue  # not a chorale (e.g. bwv846, a prelude)
                out.append(p)
            return sorted(out, key=lambda p: _natural_key(p.name))
        root = self.root(data)
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
            return Path(getCorpusFilePath()) / self.location
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
                return str(path.relative_to(root).with_suffix(""))
            except ValueError:
                pass
        return path.stem


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
                      max_bwv=data.get("max_bwv"), licence=str(data.get("licence", "")))


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


def find_piece(name: str, piece: str, *, data_dir: str | os.PathLike | None = None) -> Path:
    """The file of one piece of a named corpus: ``find_piece("bach-chorales", "bwv66.6")``."""
    spec = get_spec(name)
    files = spec.files(data_dir)
    corpus_root = spec.root(data_dir)
    names = {p: spec.piece_name(p, corpus_root=corpus_root) for p in files}
    by_name = {names[p].lower(): p for p in files}
    by_name.update({p.name.lower(): p for p in files})
    hit = by_name.get(piece.lower())
    if hit is None:
        stems = {p.stem.lower(): p for p in files}
        hit = stems.get(piece.lower())
    if hit is None:
        near = [names[p] for p in files if piece.lower()[:4] in names[p].lower()][:5]
        raise InputError(f"corpus {name!r} has no piece {piece!r}"
                         + (f"; similar: {', '.join(near)}" if near else "")
                         + f"; list them with 'qbdi corpus info {name} --pieces'")
    return hit


# ------------------------------------------------------------------ result


@dataclass
class CorpusBars:
    """A corpus as bar arrays, with where each bar came from.

    ``bars[i]`` is bar ``bar_numbers[i]`` of piece ``pieces[piece[i]]``, transposed by
    ``transposition[i]`` semitones. Bar numbers follow the score: with an upbeat the first
    (pickup) bar is bar 0, otherwise bar 1.
    """

    name: str
    grid: Grid
    bars: np.ndarray
    piece: np.ndarray
    bar_numbers: np.ndarray
    transposition: np.ndarray
    pieces: list[str]
    files: list[str]
    reports: list[dict]
    fingerprint: str
    skipped: list[tuple[str, str]] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    seconds: float = 0.0
    cache_hits: int = 0

    @property
    def n_bars(self) -> int:
        return int(self.bars.shape[0])

    @property
    def n_pieces(self) -> int:
        return len(self.pieces)

    def piece_bars(self, name_or_index: str | int, transposition: int = 0) -> np.ndarray:
        """The bars of one piece, in order (at one transposition)."""
        idx = name_or_index if isinstance(name_or_index, int) else self.pieces.index(name_or_index)
        mask = (self.piece == idx) & (self.transposition == transposition)
        return self.bars[mask]

    def summary(self) -> str:
        """One line: pieces, bars, skipped files."""
        return (f"{self.name}: {self.n_pieces} piece(s), {self.n_bars} bar(s)"
                + (f", {len(self.skipped)} file(s) skipped" if self.skipped else ""))


# ------------------------------------------------------------------ parsing and cache


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _settings_key(settings: dict) -> str:
    return json.dumps(settings, sort_keys=True, separators=(",", ":"))


def _cache_file(root: Path, digest: str, settings_key: str) -> Path:
    key = hashlib.sha256(f"v{CACHE_VERSION}|{digest}|{settings_key}".encode()).hexdigest()
    return root / f"v{CACHE_VERSION}" / key[:2] / f"{key}.npz"


def _bundle_file(root: Path, settings_key: str, entries: list[tuple[str, str]]) -> Path:
    h = hashlib.sha256(f"v{CACHE_VERSION}|bundle|{settings_key}".encode())
    for name, digest in entries:
        h.update(f"|{name}|{digest}".encode())
    key = h.hexdigest()
    return root / f"v{CACHE_VERSION}" / "corpora" / f"{key}.npz"


def _write_bundle(path: Path, results: list[tuple[np.ndarray | None, dict]]) -> None:
    """All files' results in one cache file: one read instead of one per file."""
    ok = [bars for bars, _ in results if bars is not None]
    bars = np.concatenate(ok) if ok else np.zeros(0, dtype=bool)
    _write_cache(path, bars, {"status": "bundle", "entries": [meta for _, meta in results]})


def _read_bundle(path: Path, grid: Grid, n_files: int):
    """The per-file results stored by :func:`_write_bundle`, or None."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            entries = meta["entries"]
            if meta.get("status") != "bundle" or len(entries) != n_files:
                return None
            total = sum(int(e["n_bars"]) for e in entries if e.get("status") == "ok")
            flat = np.unpackbits(data["bits"], count=total * grid.input_size).astype(bool)
    except Exception as exc:  # a damaged cache entry is a miss, never an error
        log.warning("cache bundle %s unreadable (%s); reading files", path, exc)
        return None
    allbars = flat.reshape(total, grid.steps, grid.pitches, 2)
    out, pos = [], 0
    for e in entries:
        if e.get("status") == "ok":
            n = int(e["n_bars"])
            out.append((allbars[pos:pos + n], e))
            pos += n
        else:
            out.append((None, e))
    return out


def _read_cache(path: Path, grid: Grid):
    """(bars or None, meta) from a cache file; None when missing or unreadable."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("status") != "ok":
                return None, meta
            n = int(meta["n_bars"])
            flat = np.unpackbits(data["bits"], count=n * grid.input_size)
            return flat.astype(bool).reshape(n, grid.steps, grid.pitches, 2), meta
    except Exception as exc:  # a damaged cache entry is a miss, never an error
        log.warning("cache entry %s unreadable (%s); parsing again", path, exc)
        return None


def _write_cache(path: Path, bars: np.ndarray | None, meta: dict) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            bits = np.packbits(bars.reshape(-1)) if bars is not None and bars.size \
                else np.zeros(0, np.uint8)
            np.savez(fh, bits=bits, meta=np.array(json.dumps(meta)))
    except (OSError, QbdiError) as exc:  # a read-only cache only costs speed
        log.warning("cannot write the parse cache %s (%s)", path, exc)


def _meter_of(score) -> set[str]:
    from music21 import meter

    return {ts.ratioString for ts in score.recurse().getElementsByClass(meter.TimeSignature)}


def _check_meter_name(meter: str) -> None:
    from music21 import meter as m21meter

    try:
        m21meter.TimeSignature(meter)
    except Exception:  # music21 raises its own errors for a bad meter
        raise ParameterError(f"meter {meter!r}: give a time signature such as 4/4 or 6/8, "
                             "'any' (every meter) or 'rebar'") from None


def parse_file(path: str | os.PathLike, settings: dict) -> tuple[np.ndarray | None, dict]:
    """Read one file into bars under ``settings``; a bad file gives ``(None, {reason})``.

    ``settings`` holds ``grid`` (a dict), ``meter``, ``parts``, ``out_of_range`` and
    ``limits`` (a dict), as :func:`load_corpus` builds them.
    """
    path = Path(path)
    grid = Grid.from_dict(settings["grid"])
    try:
        score = load_score(path, limits=Limits(**settings["limits"]))
        wanted = settings.get("meter")
        if wanted and wanted not in ("rebar", "any"):
            found = _meter_of(score)
            if found and found != {wanted}:
                raise InputError(f"time signature {', '.join(sorted(found))}, not the corpus "
                                 f"meter {wanted}")
        conv = convert_score(score, grid, parts=settings.get("parts"),
                             out_of_range=settings.get("out_of_range", "fold"),
                             source=path.name,
                             meter="rebar" if wanted == "rebar" else "map")
    except QbdiError as exc:
        return None, {"status": "skip", "reason": _short_reason(str(exc), path)}
    except Exception as exc:  # noqa: BLE001 -- one broken file must not stop a corpus
        # reported in ``skipped`` with the reason; the traceback goes to the log only
        log.info("%s: unexpected %s while reading", path, type(exc).__name__, exc_info=True)
        return None, {"status": "skip", "reason": f"could not be read ({type(exc).__name__}: "
                                                   f"{exc})"}
    if conv.bars.shape[0] == 0 or not conv.bars[..., PLAY].any():
        return None, {"status": "skip", "reason": "no notes on the grid"
                      + (f" ({'; '.join(conv.report.changes())})" if conv.report.changes() else "")}
    report = {k: (list(v) if isinstance(v, tuple) else v)
              for k, v in conv.report.__dict__.items()}
    return conv.bars, {"status": "ok", "n_bars": int(conv.bars.shape[0]), "report": report,
                       "first_bar": 0 if conv.report.pickup_quarters else 1}


def _short_reason(message: str, path: Path) -> str:
    """The error message without the file path it starts with (the table shows the file)."""
    for prefix in (str(path) + ": ", str(path) + " ", path.name + ": "):
        if message.startswith(prefix):
            return message[len(prefix):]
    return message


def _parse_job(args):
    path, settings = args
    return parse_file(path, settings)


# ------------------------------------------------------------------ keys


def shift_to_common_key(tonic: int, mode: str) -> int:
    """Semitones that move a key to C major (or A minor), by the shortest way (-6..+5).

    Example: A major -> -9 is longer than +3, so the answer is +3 (A major up to C major).
    """
    target = 0 if mode == "major" else 9
    return (target - tonic + 6) % 12 - 6


# ------------------------------------------------------------------ loading


def load_corpus(name_or_path: str | os.PathLike = DEFAULT_CORPUS, grid: Grid = DEFAULT_GRID, *,
                meter: str | None = None, parts: Sequence[int | str] | None = None,
                transpose: str | None = None, limit: int | None = None,
                progress: bool = True, cache_dir: str | os.PathLike | None = None,
                use_cache: bool = True, data_dir: str | os.PathLike | None = None,
                out_of_range: str = "fold", limits: Limits = DEFAULT_LIMITS,
                workers: int = 1) -> CorpusBars:
    """Read a corpus into bars, skipping (and reporting) files that cannot be used.

    ``meter``: ``"any"`` reads every piece, each of its bars (in any meter) as one grid bar
    (:mod:`qbdi_musicology.bars`); a time signature such as ``"4/4"`` reads only pieces in
    that meter (others are skipped with the reason); ``"rebar"`` reads every piece and cuts
    it into grid bars whatever its written bars. ``None`` takes the corpus manifest's meter,
    or ``"any"``. ``parts``: part names or numbers to read (default: all pitched parts merged).
    ``transpose``: ``None`` keeps the written keys; ``"common"`` moves each piece to C major
    or A minor (estimated key, shortest shift); ``"all12"`` adds every piece in 12 keys
    (shifts -6..+5). ``limit``: stop after this many pieces. ``workers > 1`` parses
    uncached files in that many processes.

    Example: ``load_corpus("bach-chorales", limit=3).pieces`` is
    ``['bwv1.6', 'bwv2.6', 'bwv3.6']`` (the first three 4/4 chorales by BWV number).
    """
    from tqdm.auto import tqdm

    started = time.perf_counter()
    if transpose not in TRANSPOSE_CHOICES:
        raise ParameterError(f"transpose={transpose!r}: choose none, 'common' or 'all12'")
    if limit is not None and limit < 1:
        raise ParameterError(f"limit={limit}: give a number of pieces >= 1")
    spec = get_spec(name_or_path)
    meter = meter or spec.meter or "any"
    if meter not in ("any", "rebar"):
        _check_meter_name(meter)
    settings = {"grid": grid.to_dict(), "meter": meter,
                "parts": list(parts) if parts is not None else None,
                "out_of_range": out_of_range, "limits": limits.__dict__.copy()}
    files = spec.files(data_dir)
    if not files:
        raise InputError(f"corpus {spec.name!r} ({spec.root(data_dir)}) holds no "
                         f".mid/.midi/.musicxml/.xml/.mxl files")
    corpus_root = spec.root(data_dir)
    names = {p: spec.piece_name(p, corpus_root=corpus_root) for p in files}
    root = resolve_cache_dir(cache_dir)
    settings_key = _settings_key(settings)
    digests: dict[Path, str] = {}
    results: dict[Path, tuple[np.ndarray | None, dict]] = {}
    hits = 0

    def cache_path(path: Path) -> Path:
        return _cache_file(root, digests[path], settings_key)

    def digest(path: Path) -> bool:
        try:
            digests[path] = _file_digest(path)
            return True
        except OSError as exc:
            results[path] = (None, {"status": "skip", "reason": f"unreadable ({exc.strerror})"})
            return False

    def lookup(path: Path):
        nonlocal hits
        if path not in digests and not digest(path):
            return results[path]
        cached = _read_cache(cache_path(path), grid) if use_cache else None
        hits += cached is not None
        return cached

    def store(path: Path, result) -> None:
        results[path] = result
        if use_cache and path in digests:
            _write_cache(cache_path(path), *result)

    # A whole corpus read before with the same files and settings is one cache file (the
    # "bundle"); per-file entries make a corpus with a few changed files cheap as well.
    bundle = None
    from_bundle = False
    if limit is None:
        for path in files:
            digest(path)
        bundle = _bundle_file(root, settings_key, [(names[p], digests.get(p, "-")) for p in files])
        if use_cache:
            loaded = _read_bundle(bundle, grid, len(files))
            if loaded is not None:
                results.update(zip(files, loaded))
                hits = len(files)
                from_bundle = True

    # disable=None: tqdm draws only on a terminal, so logs and pipes stay clean
    bar = tqdm(total=len(files), desc=f"corpus {spec.name}", unit="file",
               disable=None if progress else True, leave=False, initial=len(results))
    try:
        if workers > 1 and limit is None and len(results) < len(files):
            # Cached files first, then the rest in parallel (first load only).
            todo = []
            for path in files:
                if path in results:
                    continue
                cached = lookup(path)
                if cached is None:
                    todo.append(path)
                else:
                    results[path] = cached
                    bar.update(1)
            if todo:
                from concurrent.futures import ProcessPoolExecutor

                with ProcessPoolExecutor(max_workers=workers) as pool:
                    jobs = [(str(p), settings) for p in todo]
                    for path, result in zip(todo, pool.map(_parse_job, jobs, chunksize=4)):
                        store(path, result)
                        bar.update(1)
        else:
            found = sum(r[0] is not None for r in results.values())
            for path in files:
                if limit is not None and found >= limit:
                    break
                if path in results:
                    continue
                cached = lookup(path)
                if cached is None:
                    store(path, parse_file(path, settings))
                else:
                    results[path] = cached
                bar.update(1)
                found += results[path][0] is not None
    finally:
        bar.close()
    if bundle is not None and use_cache and not from_bundle:
        _write_bundle(bundle, [results[p] for p in files])

    pieces, file_names, reports, skipped = [], [], [], []
    chunks, piece_idx, numbers, shifts = [], [], [], []
    fp = hashlib.sha256(f"v{CACHE_VERSION}|{_settings_key(settings)}|{transpose}|{limit}".encode())
    for path in files:
        if path not in results:
            continue
        bars, meta = results[path]
        name = names[path]
        if bars is None:
            skipped.append((name, meta.get("reason", "skipped")))
            continue
        fp.update(f"|{name}|{digests[path]}".encode())
        index = len(pieces)
        pieces.append(name)
        file_names.append(str(path))
        reports.append(meta.get("report", {}))
        first = int(meta.get("first_bar", 1))
        if transpose is None:
            variants = [(0, bars)]
        elif transpose == "common":
            k = shift_to_common_key(*estimate_key(bars, grid))
            variants = [(k, transpose_bars(bars, k, grid))]
        else:
            variants = [(k, transpose_bars(bars, k, grid)) for k in ALL12_SHIFTS]
        for k, b in variants:
            chunks.append(b)
            piece_idx.append(np.full(len(b), index, dtype=np.int32))
            numbers.append(np.arange(first, first + len(b), dtype=np.int32))
            shifts.append(np.full(len(b), k, dtype=np.int8))
    if not pieces:
        reasons = "; ".join(f"{n}: {r}" for n, r in skipped[:3])
        raise InputError(f"corpus {spec.name!r}: no usable piece among {len(files)} file(s)"
                         + (f" ({reasons})" if reasons else "")
                         + "; check the meter filter (--meter) and the files")

    def cat(items, dtype, shape=(0,)):
        return np.concatenate(items) if items else np.zeros(shape, dtype=dtype)

    result = CorpusBars(
        name=spec.name, grid=grid,
        bars=cat(chunks, bool, (0, grid.steps, grid.pitches, 2)),
        piece=cat(piece_idx, np.int32), bar_numbers=cat(numbers, np.int32),
        transposition=cat(shifts, np.int8), pieces=pieces, files=file_names, reports=reports,
        fingerprint=fp.hexdigest(), skipped=skipped,
        settings={**settings, "transpose": transpose, "limit": limit, "corpus": spec.name},
        seconds=time.perf_counter() - started, cache_hits=hits)
    log.info("%s in %.2f s (%d cached)", result.summary(), result.seconds, hits)
    return result
