"""Pictures and sounds of one query, gathered beside the report for its pages.

For one analysed query this writes, under ``<report>/media/<query_id>/``:

* ``rate-008-1.svg``, ``rate-008-2.svg``...: each rate's annotated score (the query's
  staves over the improvisation, chord symbols, Roman numerals, red clashes), engraved by
  :mod:`.engrave`, page by page; ``overview-1.svg``...: the drift overview score;
* ``query.mp3`` and ``rate-008.mp3``...: the query and each rate's improvisation, rendered
  by :mod:`.audio` from the MIDI files the batch wrote (option ``midi``), where FluidSynth
  and a soundfont are installed.

:class:`QueryMedia` says what exists, with paths relative to the report folder, and what
is missing and why (one sentence each); :func:`media_html` is the block the report shows.
``sources.json`` in the folder records what each file was made from, so that a rerun
reuses what is up to date.

Example::

    media = build_query_media(record, rates=[inf, 8.0, 0.0],
                              queries_root=Path("out/queries"), report_dir=Path("out/report"))
    media.view(8.0).pages     # ['media/bach-chorales_bwv66.6/rate-008-1.svg', ...-2.svg]
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import math
import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from ..rates import OVERVIEW_FILE, rate_file_name
from ..errors import QbdiError
from ..fileio import write_bytes_atomic, write_text_atomic
from . import audio, engrave

log = logging.getLogger(__name__)

MEDIA_FOLDER = "media"


def rate_words(rate: float) -> str:
    """A rate as a heading: ``inf -> 'full rate'``, ``8.0 -> '8 bits per bar'``."""
    if math.isinf(rate):
        return "full rate"
    return f"{rate:g} bit per bar" if rate == 1 else f"{rate:g} bits per bar"


@dataclass
class ScoreView:
    """One engraved score and the sound that goes with it (paths relative to the report).

    For a rate: ``pages`` are the pages of the query over the improvisation at that rate
    and ``audio`` is the improvisation alone. For the overview, ``audio`` is None.
    """

    key: str
    label: str
    rate: float | None
    pages: list[str] = field(default_factory=list)
    audio: str | None = None


@dataclass
class QueryMedia:
    """Everything one query shows and plays, and one-line notes on what is missing."""

    query_id: str
    title: str
    query_audio: str | None = None
    views: list[ScoreView] = field(default_factory=list)
    overview: ScoreView | None = None
    notes: list[str] = field(default_factory=list)

    def view(self, rate: float) -> ScoreView | None:
        """The view of one rate, or None."""
        return next((v for v in self.views if v.rate == rate), None)

    def paths(self) -> list[str]:
        """Every media file the pages refer to, relative to the report folder."""
        found = [self.query_audio] if self.query_audio else []
        for view in self.views + ([self.overview] if self.overview else []):
            found += view.pages + ([view.audio] if view.audio else [])
        return found


def _rel(path: Path, report_dir: Path) -> str:
    return Path(os.path.relpath(path, report_dir)).as_posix()


def build_query_media(record: Any, *, rates: Sequence[float], queries_root: Path,
                      report_dir: Path, sound: bool = True, workers: Any = None
                      ) -> QueryMedia:
    """Engrave and render one query's scores into ``<report_dir>/media/<query_id>/``.

    ``record`` is the batch's record of the query (``query_id``, ``files``, ``info``);
    ``rates`` the rates to show, highest first on the pages. A score or a sound that fails
    is left out with a note; the report is written all the same. A rerun reuses every
    picture and sound whose source (and engraving or synthesis settings) did not change.
    ``workers`` (a :class:`~qbdi_musicology.workers.Workers`) engraves the scores; by
    default they are engraved here.
    """
    pending = PendingMedia(record, rates=rates, queries_root=queries_root,
                           report_dir=report_dir, sound=sound, workers=workers)
    try:
        return pending.finish()
    finally:
        pending.close()


class PendingMedia:
    """One query's media under way: the scores are sent to be engraved and the sounds
    start at once (FluidSynth runs as its own process, two at a time); :meth:`finish`
    gathers everything and writes it.

    Starting early lets the pictures and sounds be made while the caller does other work
    (the batch runs its last pieces, the report draws its figures). The engraving runs on
    ``workers`` (the batch's worker processes or Dask cluster; by default here, during
    :meth:`finish`): each gets the score's text and returns its pages, so a worker needs
    no access to this folder. :meth:`close` waits for what is still running.
    """

    def __init__(self, record: Any, *, rates: Sequence[float], queries_root: Path,
                 report_dir: Path, sound: bool = True, workers: Any = None) -> None:
        from ..workers import Workers

        self.folder = Path(queries_root) / record.query_id
        self.report_dir = Path(report_dir)
        self.target = self.report_dir / MEDIA_FOLDER / record.query_id
        self.media = QueryMedia(record.query_id,
                                str(record.info.get("title", record.query_id)))
        self.sources = _Sources(self.target)
        self.rates = sorted({float(r) for r in rates}, reverse=True)
        self.jobs: dict[str, tuple[Future, str]] = {}
        problem = audio.audio_problem() if sound else "No audio was asked for."
        self.pool = ThreadPoolExecutor(max_workers=2) if problem is None else None
        if self.pool is not None:
            midis = {"query": self.folder / "query.mid"}
            midis.update({rate_file_name(r, ""): self.folder / rate_file_name(r, ".mid")
                          for r in self.rates})
            self.jobs = _start_sounds(midis, self.target, self.sources, self.pool)
            if not self.jobs:
                self.media.notes.append("No audio: no MIDI files were written for this "
                                        "query (qbdi demo and analyses/teaching_demo.py "
                                        "write them).")
        elif sound:
            self.media.notes.append(problem)
        workers = workers if workers is not None else Workers(jobs=1)
        scores = [(rate_file_name(rate, ""), self.folder / rate_file_name(rate))
                  for rate in self.rates] + [("overview", self.folder / OVERVIEW_FILE)]
        self.pictures = {stem: _start_engraving(source, stem, self.sources, workers)
                         for stem, source in scores}

    def finish(self) -> QueryMedia:
        """Gather the engraved scores and the sounds, tidy the folder; what the pages show."""
        media, target, sources = self.media, self.target, self.sources
        if engrave.engraver_version() is None:
            media.notes.append("No score pictures: verovio is not installed "
                               "(pip install verovio).")
        for rate in self.rates:
            key = rate_file_name(rate, "")
            view = ScoreView(key, rate_words(rate), rate)
            view.pages = _finish_engraving(self.pictures.get(key), target, key, media,
                                           sources, self.report_dir)
            media.views.append(view)
        if (self.folder / OVERVIEW_FILE).is_file():
            media.overview = ScoreView("overview", "drift overview", None)
            media.overview.pages = _finish_engraving(self.pictures.get("overview"), target,
                                                     "overview", media, sources,
                                                     self.report_dir)
        for key, (job, digest) in self.jobs.items():
            try:
                path = job.result()
            except QbdiError as exc:
                log.warning("%s", exc)
                media.notes.append(f"No audio for {key}: {' '.join(str(exc).split())[:200]}")
                continue
            sources.record(f"sound {key}", digest, [path])
            if key == "query":
                media.query_audio = _rel(path, self.report_dir)
            else:
                view = next(v for v in media.views if v.key == key)
                view.audio = _rel(path, self.report_dir)
        _remove_stale(target, sources.written())
        sources.save()
        return media

    def close(self) -> None:
        """Wait for the sounds still being rendered (after :meth:`finish`: nothing)."""
        if self.pool is not None:
            self.pool.shutdown(wait=True)


class _Sources:
    """What each picture and sound was made from (``sources.json``), for reruns."""

    NAME = "sources.json"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        try:
            self.old = json.loads((folder / self.NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.old = {}
        self.new: dict[str, dict[str, Any]] = {}

    def reusable(self, name: str, digest: str) -> list[Path] | None:
        """The files made earlier from the same source, if they are all still there."""
        entry = self.old.get(name, {})
        if entry.get("digest") != digest or not entry.get("files"):
            return None
        files = [self.folder / f for f in entry["files"]]
        return files if all(f.is_file() for f in files) else None

    def record(self, name: str, digest: str, files: Sequence[Path]) -> None:
        """Note the files made (or reused) from ``digest`` under ``name``."""
        self.new[name] = {"digest": digest, "files": [Path(f).name for f in files]}

    def written(self) -> set[Path]:
        return {self.folder / f for entry in self.new.values() for f in entry["files"]}

    def save(self) -> None:
        if self.new or (self.folder / self.NAME).exists():
            write_text_atomic(self.folder / self.NAME,
                              json.dumps(self.new, indent=1, sort_keys=True) + "\n")


def _digest(data: bytes, *settings: Any) -> str:
    return hashlib.sha256(data + repr(settings).encode()).hexdigest()


def _start_sounds(midis: dict[str, Path], target: Path, sources: _Sources,
                  pool: ThreadPoolExecutor) -> dict[str, tuple[Future, str]]:
    """Start rendering each MIDI file that has no up-to-date sound; key -> (job, digest)."""
    font = audio.find_soundfont()
    settings = (str(font), audio.SAMPLE_RATE, audio.CHANNELS, audio.GAIN, audio.PEAK)
    jobs: dict[str, tuple[Future, str]] = {}
    first_of: dict[str, Future] = {}  # equal MIDI files (e.g. 256 and full rate) once
    for key, midi in midis.items():
        if not midi.is_file():
            continue
        digest = _digest(midi.read_bytes(), *settings)
        mp3 = target / f"{key}{audio.AUDIO_SUFFIX}"
        if sources.reusable(f"sound {key}", digest) == [mp3]:
            job: Future = Future()
            job.set_result(mp3)
        elif digest in first_of:
            job = pool.submit(_copy_when_done, first_of[digest], mp3)
        else:
            job = first_of[digest] = pool.submit(audio.render_midi, midi, mp3)
        jobs[key] = (job, digest)
    return jobs


def _copy_when_done(job: Future, target: Path) -> Path:
    """Copy the sound another job renders from the same MIDI bytes."""
    return write_bytes_atomic(target, Path(job.result()).read_bytes())


@dataclass
class _Engraving:
    """One score's pictures: reused from an earlier run, or under way on a worker."""

    source: Path
    digest: str
    pages: list[Path] | None = None  # reused
    job: Any = None                  # a future of the pages' SVG texts


def _start_engraving(source: Path, stem: str, sources: _Sources, workers: Any
                     ) -> _Engraving | None:
    """Reuse the pictures of an unchanged score, or send its text to be engraved."""
    if not source.is_file() or engrave.engraver_version() is None:
        return None
    data = source.read_bytes()
    digest = _digest(data, engrave.engraver_version(), engrave.DEFAULT_LAYOUT)
    found = _Engraving(source, digest, pages=sources.reusable(f"score {stem}", digest))
    if found.pages is None:
        found.job = workers.submit(engrave.engrave_text, data.decode("utf-8"),
                                   engrave.DEFAULT_LAYOUT, source.name)
    return found


def _finish_engraving(found: _Engraving | None, target: Path, stem: str, media: QueryMedia,
                      sources: _Sources, report_dir: Path) -> list[str]:
    if found is None:
        return []
    pages = found.pages
    if pages is None:
        try:
            pages = engrave.write_pages(found.job.result(), target, stem)
        except QbdiError as exc:
            log.warning("%s", exc)
            media.notes.append(f"No picture of {found.source.name}: "
                               f"{' '.join(str(exc).split())[:200]}")
            return []
    sources.record(f"score {stem}", found.digest, pages)
    return [_rel(p, report_dir) for p in pages]


def _remove_stale(target: Path, written: set[Path]) -> None:
    """Delete pictures and sounds an earlier run left that this run did not write."""
    if not target.is_dir():
        return
    for path in target.iterdir():
        if path.suffix in (".svg", audio.AUDIO_SUFFIX) and path not in written:
            path.unlink()


# --------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------

def audio_html(src: str | None, label: str) -> str:
    """An ``<audio>`` player for ``src`` (relative path) with its label, or '' if no sound."""
    if not src:
        return ""
    esc = html.escape
    return (f"<div class='player'><span>{esc(label)}</span>"
            f"<audio controls preload='metadata' src='{esc(src)}'></audio></div>")


def pages_html(view: ScoreView, alt: str) -> str:
    """The engraved pages of a view, one ``<img>`` each, full width."""
    esc = html.escape
    return "".join(f"<img class='page' alt='{esc(alt)}, page {n}' src='{esc(src)}'>"
                   for n, src in enumerate(view.pages, start=1))


MEDIA_CSS = """
.media-rate{margin:1rem 0 2rem}
.players{display:flex;flex-wrap:wrap;gap:.4rem 1.5rem;align-items:center;margin:.3rem 0}
.player{display:flex;align-items:center;gap:.5rem;font-family:Helvetica,Arial,sans-serif}
.player span{font-size:.9rem;color:#163d6b}
img.page{display:block;width:100%;max-width:60rem;background:#fff;border:1px solid #ddd;
margin:.4rem 0}
.media-note{font-size:.9rem;color:#7a4b00}
"""


def shared_notes(medias: Sequence[QueryMedia]) -> list[str]:
    """The notes every query has (e.g. no FluidSynth here): the report says them once."""
    if len(medias) < 2:
        return []
    common = set(medias[0].notes).intersection(*(m.notes for m in medias[1:]))
    return [note for note in medias[0].notes if note in common]


def notes_html(notes: Sequence[str]) -> str:
    """One paragraph per note."""
    return "".join(f"<p class='media-note'>{html.escape(note)}</p>" for note in notes)


def media_html(media: QueryMedia, said: Sequence[str] = ()) -> str:
    """The report's block for one query: per rate, the players and the engraved pages.

    ``said``: notes the page has already said once for all queries.
    """
    esc = html.escape
    parts = [notes_html([note for note in media.notes if note not in said])]
    if not any(v.pages for v in media.views) and not media.query_audio:
        return "".join(parts)
    parts.append("<p>Each score shows the query's staves over the improvisation, with the "
                 "chord symbols above, the Roman numerals below and the notes that clash "
                 "with the query's chord in red.</p>")
    for view in media.views:
        parts.append(f"<div class='media-rate' id='{esc(media.query_id)}-{esc(view.key)}'>"
                     f"<h4>{esc(view.label)}</h4><div class='players'>"
                     + audio_html(media.query_audio, "query")
                     + audio_html(view.audio, f"improvisation, {view.label}")
                     + "</div>" + pages_html(view, f"{media.title}, {view.label}") + "</div>")
    return "".join(parts)
