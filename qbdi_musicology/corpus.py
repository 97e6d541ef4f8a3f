"""Named corpora of scores, read into bar arrays, with a parse cache.

A *corpus* is a set of score files: music21's bundled Bach chorales (``bach-chorales``,
the embedded default), the whole music21 corpus (``music21``), the folders of the shared
data (``pop-music-midi``, ``visions-fugitives``), or any folder or single score file. Each
named corpus has a manifest, ``corpora/<name>.toml``; a manifest dropped there adds a
corpus. Names, manifests and pieces live in :mod:`.pieces` (re-exported here).

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
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import InputError, ParameterError, QbdiError
from .fileio import atomic_path, code_fingerprint
from .formats import ABC_SUFFIXES, SCORE_SUFFIXES
from .formats import abc_tunes as list_abc_tunes
from .grid import DEFAULT_GRID, PLAY, Grid
from .pianoroll import convert_score, estimate_key, transpose_bars
from .pieces import (BUILTIN_MANIFESTS, DEFAULT_CORPUS, MANIFEST_DIRS,  # noqa: F401
                     REPO_ROOT, CorpusSpec, _natural_key, _spec_from_dict, find_piece,
                     get_spec, manifests, resolve_data_dir)
from .scoreio import DEFAULT_LIMITS, Limits, load_score

log = logging.getLogger(__name__)

#: Bump when the cached content or its meaning changes; old entries are then ignored.
CACHE_VERSION = 1
TRANSPOSE_CHOICES = (None, "common", "all12")
#: Semitone shifts of the 12-key augmentation: a tritone down to a fourth up, so that no
#: copy moves more than 6 semitones (fewer notes fold at the edges of the grid).
ALL12_SHIFTS = tuple(range(-6, 6))


def resolve_cache_dir(override: str | os.PathLike | None = None) -> Path:
    """The parse cache: ``override``, else ``$QBDI_CACHE``, else ``~/.cache/qbdi-musicology``."""
    if override:
        return Path(override).expanduser()
    env = os.environ.get("QBDI_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "qbdi-musicology"


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
    #: per file suffix: [pieces read, pieces usable], e.g. {".krn": [120, 118]}
    formats: dict[str, list[int]] = field(default_factory=dict)
    #: pieces in the corpus (a ``sample`` or ``limit`` reads fewer)
    corpus_pieces: int = 0
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
    # the code that read the file is part of the key: another version parses it again
    key = hashlib.sha256(f"v{CACHE_VERSION}|{code_fingerprint()}|{digest}|{settings_key}"
                         .encode()).hexdigest()
    return root / f"v{CACHE_VERSION}" / key[:2] / f"{key}.npz"


def _bundle_file(root: Path, settings_key: str, entries: list[tuple[str, str]]) -> Path:
    h = hashlib.sha256(f"v{CACHE_VERSION}|{code_fingerprint()}|bundle|{settings_key}".encode())
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


def parse_file(path: str | os.PathLike, settings: dict,
               tune: int | None = None) -> tuple[np.ndarray | None, dict]:
    """Read one file into bars under ``settings``; a bad file gives ``(None, {reason})``.

    ``settings`` holds ``grid`` (a dict), ``meter``, ``parts``, ``out_of_range`` and
    ``limits`` (a dict), as :func:`load_corpus` builds them. ``tune``: the ``X:`` number
    of the tune to read from an ABC file of several tunes (default: its first).
    """
    path = Path(path)
    grid = Grid.from_dict(settings["grid"])
    try:
        # without a tune, an ABC file of many tunes is read as its first tune; the log says
        # so at info level (a corpus of folk-song collections would warn for every file)
        score = load_score(path, limits=Limits(**settings["limits"]), tune=tune,
                           announce_tune=False)
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
    path, settings, tune = args
    return parse_file(path, settings, tune=tune)


def _tune_numbers(path: Path) -> list[int | None]:
    """The tunes of a file that are pieces of their own: every ``X:`` number of an ABC file
    of several tunes (a number used twice counts once: ``#N`` reads the first); ``[None]``
    (the file itself) for every other file."""
    if path.suffix.lower() not in ABC_SUFFIXES:
        return [None]
    try:
        tunes = list_abc_tunes(path.read_bytes(), str(path))
    except (OSError, QbdiError):
        return [None]  # reading it again reports what is wrong
    numbers = list(dict.fromkeys(t.number for t in tunes if t.number is not None))
    return numbers if len(tunes) > 1 and numbers else [None]


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
                workers: int = 1, sample: int | None = None, seed: int = 0,
                abc_tunes: str = "all") -> CorpusBars:
    """Read a corpus into bars, skipping (and reporting) files that cannot be used.

    ``meter``: ``"any"`` reads every piece, each of its bars (in any meter) as one grid bar
    (:mod:`qbdi_musicology.bars`); a time signature such as ``"4/4"`` reads only pieces in
    that meter (others are skipped with the reason); ``"rebar"`` reads every piece and cuts
    it into grid bars whatever its written bars. ``None`` takes the corpus manifest's meter,
    or ``"any"``. ``parts``: part names or numbers to read (default: all pitched parts merged).
    ``transpose``: ``None`` keeps the written keys; ``"common"`` moves each piece to C major
    or A minor (estimated key, shortest shift); ``"all12"`` adds every piece in 12 keys
    (shifts -6..+5). ``limit``: stop after this many pieces. ``sample``: read only this
    many pieces, drawn at random (``seed``) - a quick measure of a big corpus such as
    ``music21``. ``abc_tunes``: ``"all"`` makes each tune of an ABC file of several tunes a
    piece of its own (named ``FILE#N``, N its ``X:`` number); ``"first"`` reads only the
    first tune of each file. ``workers > 1`` parses uncached pieces in that many processes.

    Example: ``load_corpus("bach-chorales", limit=3).pieces`` is
    ``['bwv1.6', 'bwv2.6', 'bwv3.6']`` (the first three 4/4 chorales by BWV number).
    """
    from tqdm.auto import tqdm

    started = time.perf_counter()
    if transpose not in TRANSPOSE_CHOICES:
        raise ParameterError(f"transpose={transpose!r}: choose none, 'common' or 'all12'")
    if limit is not None and limit < 1:
        raise ParameterError(f"limit={limit}: give a number of pieces >= 1")
    if sample is not None and sample < 1:
        raise ParameterError(f"sample={sample}: give a number of pieces >= 1")
    if abc_tunes not in ("all", "first"):
        raise ParameterError(f"abc_tunes={abc_tunes!r}: choose 'all' or 'first'")
    spec = get_spec(name_or_path)
    meter = meter or spec.meter or "any"
    if meter not in ("any", "rebar"):
        _check_meter_name(meter)
    settings = {"grid": grid.to_dict(), "meter": meter,
                "parts": list(parts) if parts is not None else None,
                "out_of_range": out_of_range, "limits": limits.__dict__.copy()}
    files = spec.files(data_dir)
    if not files:
        raise InputError(f"corpus {spec.name!r} ({spec.root(data_dir)}) holds no score files "
                         f"({', '.join(SCORE_SUFFIXES)})")
    corpus_root = spec.root(data_dir)
    file_names_of = spec.piece_names(files, corpus_root=corpus_root)
    # A piece is a file, or one tune of an ABC file that holds several.
    sources: list[tuple[Path, int | None]] = []
    names: dict[tuple[Path, int | None], str] = {}
    for path in files:
        for tune in (_tune_numbers(path) if abc_tunes == "all" else [None]):
            sources.append((path, tune))
            names[(path, tune)] = file_names_of[path] + (f"#{tune}" if tune is not None else "")
    corpus_pieces = len(sources)
    if sample is not None and sample < len(sources):
        import random

        sources = sorted(random.Random(seed).sample(sources, sample),
                         key=lambda s: _natural_key(names[s]))
    root = resolve_cache_dir(cache_dir)
    settings_key = _settings_key(settings)
    digests: dict[Path, str] = {}
    results: dict[tuple[Path, int | None], tuple[np.ndarray | None, dict]] = {}
    hits = 0

    def cache_path(src) -> Path:
        path, tune = src
        # the suffix says how the bytes are read: the same bytes as .musicxml and as .mei
        # are two different files (one a score, the other refused)
        return _cache_file(root, digests[path],
                           settings_key + f"|{path.suffix.lower()}"
                           + (f"|tune={tune}" if tune is not None else ""))

    def digest(src) -> bool:
        path = src[0]
        if path in digests:
            return True
        try:
            digests[path] = _file_digest(path)
            return True
        except OSError as exc:
            results[src] = (None, {"status": "skip", "reason": f"unreadable ({exc.strerror})"})
            return False

    def lookup(src):
        nonlocal hits
        if not digest(src):
            return results[src]
        cached = _read_cache(cache_path(src), grid) if use_cache else None
        hits += cached is not None
        return cached

    def store(src, result) -> None:
        results[src] = result
        if use_cache and src[0] in digests:
            _write_cache(cache_path(src), *result)

    # A whole corpus read before with the same files and settings is one cache file (the
    # "bundle"); per-file entries make a corpus with a few changed files cheap as well.
    bundle = None
    from_bundle = False
    if limit is None:
        for src in sources:
            digest(src)
        bundle = _bundle_file(root, settings_key,
                              [(f"{names[s]}{s[0].suffix.lower()}", digests.get(s[0], "-"))
                               for s in sources])
        if use_cache:
            loaded = _read_bundle(bundle, grid, len(sources))
            if loaded is not None:
                results.update(zip(sources, loaded))
                hits = len(sources)
                from_bundle = True

    # disable=None: tqdm draws only on a terminal, so logs and pipes stay clean
    bar = tqdm(total=len(sources), desc=f"corpus {spec.name}", unit="piece",
               disable=None if progress else True, leave=False, initial=len(results))
    try:
        if workers > 1 and limit is None and len(results) < len(sources):
            # Cached pieces first, then the rest in parallel (first load only).
            todo = []
            for src in sources:
                if src in results:
                    continue
                cached = lookup(src)
                if cached is None:
                    todo.append(src)
                else:
                    results[src] = cached
                    bar.update(1)
            if todo:
                from concurrent.futures import ProcessPoolExecutor

                with ProcessPoolExecutor(max_workers=workers) as pool:
                    jobs = [(str(p), settings, t) for p, t in todo]
                    for src, result in zip(todo, pool.map(_parse_job, jobs, chunksize=4)):
                        store(src, result)
                        bar.update(1)
        else:
            found = sum(r[0] is not None for r in results.values())
            for src in sources:
                if limit is not None and found >= limit:
                    break
                if src in results:
                    continue
                cached = lookup(src)
                if cached is None:
                    store(src, parse_file(src[0], settings, tune=src[1]))
                else:
                    results[src] = cached
                bar.update(1)
                found += results[src][0] is not None
    finally:
        bar.close()
    if bundle is not None and use_cache and not from_bundle:
        _write_bundle(bundle, [results[s] for s in sources])

    formats: dict[str, list[int]] = {}
    for src in sources:
        if src in results:
            counts = formats.setdefault(src[0].suffix.lower(), [0, 0])
            counts[0] += 1
            counts[1] += results[src][0] is not None
    pieces, file_names, reports, skipped = [], [], [], []
    chunks, piece_idx, numbers, shifts = [], [], [], []
    fp = hashlib.sha256(f"v{CACHE_VERSION}|{_settings_key(settings)}|{transpose}|{limit}".encode())
    for src in sources:
        if src not in results:
            continue
        bars, meta = results[src]
        name = names[src]
        if bars is None:
            skipped.append((name, meta.get("reason", "skipped")))
            continue
        fp.update(f"|{name}|{digests[src[0]]}".encode())
        index = len(pieces)
        pieces.append(name)
        file_names.append(str(src[0]) + (f"#{src[1]}" if src[1] is not None else ""))
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
        raise InputError(f"corpus {spec.name!r}: no usable piece among {len(sources)} "
                         "piece(s)"
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
        settings={**settings, "transpose": transpose, "limit": limit, "corpus": spec.name,
                  "sample": sample, "seed": seed if sample is not None else None,
                  "abc_tunes": abc_tunes},
        seconds=time.perf_counter() - started, cache_hits=hits, formats=formats,
        corpus_pieces=corpus_pieces)
    log.info("%s in %.2f s (%d cached)", result.summary(), result.seconds, hits)
    return result
