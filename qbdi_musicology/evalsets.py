"""Named evaluation sets: the pieces a bar model is queried with, grouped by style.

This module is the one place where evaluation queries are named. A set is a tuple of
:class:`SetPiece` (style, query spec, whether to sound the chord symbols); ``qbdi evaluate
--set NAME`` reads it and reports every measure per style and overall.

* ``standard``: the 23 queries the shipped model was first measured on (*Visions
  fugitives* 1-8, ten 4/4 chorales, five held-out pop clips).
* ``broad``: 55 pieces in 7 styles that no shipped model trained on: classical string
  quartets and a sonata (Haydn, Mozart, Beethoven, whole movements as they are, in 4/4,
  3/4, 6/8, 3/8, 2/4, 9/8), romantic piano and song (Clara and Robert Schumann, Schubert,
  Chopin, Beach), baroque (Corelli, Handel, C. P. E. and J. S. Bach, Monteverdi's fifth
  book), chorales other than the standard ten, songs and dances (Nottingham folk tunes and
  lead sheets with their chord symbols sounding, Joplin's *Maple Leaf Rag*, hymn and song),
  *Visions fugitives* 1-8, and every clip of the five pop songs the pop models hold out.

Pieces of the shared data folder (pop clips, *Visions fugitives*) are skipped, with a
message, where the folder is absent; the rest comes with music21.

Reading a piece (parse, metric bars, the one key of :func:`~qbdi_musicology.analysis.roman.
score_key`) takes up to a few seconds for a quartet movement; the result (bars, bar
structure, key) is cached on disk, keyed by the file's content, the grid and the code that
reads scores (not the model code: training a new model does not re-read the set).

Example::

    queries, skipped = load_evaluation_set("broad")
    sorted({q.group for q in queries})   # ['baroque', 'chorales', 'classical', ...]
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import InputError, ParameterError, QbdiError
from .grid import DEFAULT_GRID, Grid

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SetPiece:
    """One piece of an evaluation set.

    ``style``: the group it is reported in; ``spec``: a query string (``corpus:NAME/PIECE``,
    see :func:`qbdi_musicology.pieces.resolve_query`); ``chords``: the piece is a tune with
    chord symbols (a lead sheet, a folk tune in ABC) and the symbols are sounded as a block
    chord accompaniment (:func:`sounding_chord_symbols`), as a player would; without them a
    bar of a tune is a few melody notes whose triad is guesswork.
    """

    style: str
    spec: str
    chords: bool = False

    @property
    def name(self) -> str:
        """Short name for tables: the spec's last path element (``bwv66.6``, ``movement1``
        becomes ``opus74no1/movement1``)."""
        rest = self.spec.split(":", 1)[-1]
        parts = rest.split("/")
        tail = parts[-1]
        if tail.startswith("movement") and len(parts) > 1:
            tail = f"{parts[-2]}/{tail}"
        return tail


#: The five pop songs the shipped pop models leave out of training (all their clips).
HELD_OUT_POP_SONGS = ("Clocks", "Dancing Queen", "Rolling In The Deep", "Viva La Vida",
                      "Someone Like You")
#: One clip per held-out song: the standard set's in-style queries.
HELD_OUT_POP_CLIPS = ("Clocks - Verse", "Dancing Queen - Chorus", "Rolling In The Deep - Chorus",
                      "Viva La Vida - Verse", "Someone Like You - Chorus")
#: Every clip of the held-out songs in the shared data.
HELD_OUT_POP_ALL_CLIPS = ("Clocks - Intro", "Clocks - Verse", "Dancing Queen - Chorus",
                          "Dancing Queen - Verse", "Rolling In The Deep - Chorus",
                          "Rolling In The Deep - Pre Chorus", "Someone Like You - Chorus",
                          "Someone Like You - Verse", "Viva La Vida - Verse")
#: Ten 4/4 chorales (music21's corpus), the first ten 4/4 four-part chorales by BWV number.
CHORALES = ("bwv10.7", "bwv101.7", "bwv102.7", "bwv103.6", "bwv104.6", "bwv108.6",
            "bwv110.7", "bwv111.6", "bwv112.5", "bwv113.8")


def _pieces(style: str, specs: Sequence[str], chords: bool = False) -> tuple[SetPiece, ...]:
    return tuple(SetPiece(style, s, chords) for s in specs)


_VISIONS = [f"corpus:visions-fugitives/vf_no{i}" for i in range(1, 9)]
_M21 = "corpus:music21/"

EVALUATION_SETS: dict[str, tuple[SetPiece, ...]] = {
    "standard": (_pieces("visions-fugitives", _VISIONS)
                 + _pieces("bach-chorales", [f"corpus:bach-chorales/{c}" for c in CHORALES])
                 + _pieces("pop-held-out", [f"corpus:pop-music-midi/{c}"
                                            for c in HELD_OUT_POP_CLIPS])),
    "broad": (
        _pieces("classical", [_M21 + p for p in (
            "haydn/opus1no1/movement1", "haydn/opus1no1/movement3",
            "haydn/opus74no1/movement1", "haydn/opus74no1/movement3",
            "mozart/k80/movement1", "mozart/k155/movement1", "mozart/k458/movement3",
            "mozart/k545/movement1_exposition", "beethoven/opus18no1/movement3")])
        + _pieces("romantic", [_M21 + p for p in (
            "schumann_clara/polonaise_op1n1", "schumann_clara/polonaise_op1n2",
            "schumann_clara/polonaise_op1n3", "schumann_clara/opus17/movement3",
            "schumann_robert/dichterliebe_no2", "schubert/Lindenbaum",
            "chopin/mazurka06-2", "beach/prayer_of_a_tired_child",
            "liliuokalani/aloha_oe")])
        + _pieces("baroque", [_M21 + p for p in (
            "corelli/opus3no1/1grave", "handel/rinaldo/Lascia_chio_pianga",
            "cpebach/h186", "bach/bwv846", "monteverdi/madrigal.5.3",
            "monteverdi/madrigal.5.8")])
        + _pieces("chorales", [f"corpus:bach-chorales/{c}" for c in (
            "bwv26.6", "bwv40.8", "bwv57.8", "bwv66.6", "bwv140.7", "bwv180.7", "bwv269",
            "bwv347")])
        + _pieces("song-and-dance", [_M21 + p for p in (
            "nottingham-dataset/reelsa-c#80", "nottingham-dataset/reelsa-c#81",
            "leadSheet/fosterBrownHair", "leadSheet/berlinAlexandersRagtime")], chords=True)
        + _pieces("song-and-dance", [_M21 + p for p in (
            "joplin/maple_leaf_rag", "johnson_j_r/lift_every_voice")])
        + _pieces("visions-fugitives", _VISIONS)
        + _pieces("pop-held-out", [f"corpus:pop-music-midi/{c}"
                                   for c in HELD_OUT_POP_ALL_CLIPS])
    ),
}
DEFAULT_SET = "standard"


def set_names() -> list[str]:
    """The names of the evaluation sets, e.g. ``['standard', 'broad']``."""
    return list(EVALUATION_SETS)


def set_pieces(name: str) -> tuple[SetPiece, ...]:
    """The pieces of a named set (:class:`ParameterError` for an unknown name)."""
    if name not in EVALUATION_SETS:
        raise ParameterError(f"no evaluation set {name!r}; choose one of "
                             f"{', '.join(EVALUATION_SETS)}")
    return EVALUATION_SETS[name]


@dataclass
class Query:
    """One query of an evaluation set: its name, style group, bars and tonic triad.

    ``structure`` (the metric bars) and ``key`` ((tonic pitch class, mode)) are the query as
    the sweep reads it; when both are known the score itself is not needed again
    (:func:`~qbdi_musicology.evaluate.evaluate_model` encodes ``bars`` directly), which is how the cached sets of
    :mod:`qbdi_musicology.evalsets` are evaluated.
    """

    name: str
    group: str
    score: object
    bars: np.ndarray
    tonic_triad: int
    structure: object = None
    key: tuple | None = None
    spec: str = ""



# ------------------------------------------------------------------ chord symbols


def sounding_chord_symbols(score):
    """A copy of ``score`` with one more part that sounds its chord symbols as block chords.

    Each chord symbol lasts until the next one (or the end of the piece) and is voiced as
    a keyboard player would comp it: the root in the bass octave (C3-B3), the chord's other
    tones in close position from middle C up. The melody and its bars are untouched; a
    score without chord symbols is returned as it is. Example: a reel whose bar is marked
    "D" then "A7" gets D3 under D4-F#4-A4 for the first half and A3 under C#4-E4-G4 (and
    A4) for the second.
    """
    import copy

    from music21 import chord, harmony, stream

    symbols = []
    source = score.parts[0] if score.parts else score
    for cs in source.flatten().getElementsByClass(harmony.ChordSymbol):
        if isinstance(cs, harmony.NoChord) or not cs.pitches:
            continue
        symbols.append((Fraction(cs.offset).limit_denominator(96), cs))
    if not symbols:
        return score
    out = copy.deepcopy(score)
    end = Fraction(score.highestTime).limit_denominator(96)
    part = stream.Part()
    part.partName = "Chord symbols"
    part.id = "chord-symbols"
    for i, (start, cs) in enumerate(symbols):
        stop = symbols[i + 1][0] if i + 1 < len(symbols) else end
        if stop <= start:
            continue
        root = cs.root().pitchClass
        upper = sorted({p.pitchClass for p in cs.pitches})
        pitches = [48 + root] + [60 + pc for pc in upper]
        block = chord.Chord(pitches)
        block.quarterLength = float(stop - start)
        part.insert(float(start), block)
    out.insert(0, part)
    return out


# ------------------------------------------------------------------ reading, with a cache


#: Modules whose code decides nothing about how a score is read: editing them (a new model,
#: a new loss) keeps the evaluation-set cache valid.
_MODEL_SIDE = ("model.py", "train.py", "channel.py", "generate.py", "checkpoint.py",
               "evaluate.py")


def reading_fingerprint() -> str:
    """sha256 (16 hex digits) of the package's code that reads and keys a score.

    Every Python file of the package except the model, training, channel, generation and
    measuring code and the command line (see ``_MODEL_SIDE``).
    """
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parent
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if "__pycache__" in rel.parts or rel.parts[0] == "cli" or path.name in _MODEL_SIDE:
            continue
        digest.update(str(rel).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _piece_path(spec: str, data_dir) -> Path:
    from .pieces import find_piece, split_tune

    rest, _ = split_tune(spec[len("corpus:"):]) if spec.startswith("corpus:") else (spec, None)
    if spec.startswith("corpus:"):
        name, piece = rest.split("/", 1)
        return find_piece(name, piece, data_dir=data_dir)
    return Path(split_tune(spec)[0])


def _structure_to_json(structure) -> list[dict]:
    return [{"number": b.number, "offset": str(b.offset), "length": str(b.length),
             "full": str(b.full), "meter": b.meter, "kind": b.kind,
             "measures": list(b.measures), "symbol": b.symbol} for b in structure.bars]


def _structure_from_json(rows: list[dict]):
    from .bars import Bar, BarStructure

    return BarStructure(tuple(Bar(number=r["number"], offset=Fraction(r["offset"]),
                                  length=Fraction(r["length"]), full=Fraction(r["full"]),
                                  meter=r["meter"], kind=r["kind"],
                                  measures=tuple(r["measures"]), symbol=r["symbol"])
                              for r in rows))


def read_piece(piece: SetPiece, *, grid: Grid = DEFAULT_GRID, data_dir=None,
               meter_map: str = "scale", cache_dir=None, cache: bool = True):
    """One piece as an evaluation :class:`~qbdi_musicology.evaluate.Query` (cached on disk).

    The score is read through the package's reader (:func:`~qbdi_musicology.pieces.
    resolve_query`), its chord symbols sounded if the piece says so, written on its metric
    bars, converted to model bars (every bar one model bar, in any meter) and given its one
    key. Raises :class:`InputError` if the file cannot be found or read. ``cache=False``
    reads the score every time and keeps it on the query (``query.score``, for analyses
    that need the music21 score too); a cached query has ``score=None``.
    """
    from .corpus import _file_digest, resolve_cache_dir

    if not cache:
        return _read_uncached(piece, grid=grid, data_dir=data_dir, meter_map=meter_map)
    path = _piece_path(piece.spec, data_dir)
    key_text = json.dumps({"spec": piece.spec, "chords": piece.chords, "grid": grid.to_dict(),
                           "meter_map": meter_map, "file": _file_digest(path),
                           "code": reading_fingerprint()}, sort_keys=True)
    digest = hashlib.sha256(key_text.encode()).hexdigest()
    entry = resolve_cache_dir(cache_dir) / "evalsets" / digest[:2] / f"{digest}.npz"
    if entry.exists():
        try:
            with np.load(entry, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                bars = data["bars"].astype(bool)
            return Query(name=piece.name, group=piece.style, score=None, bars=bars,
                         tonic_triad=int(meta["tonic_triad"]),
                         structure=_structure_from_json(meta["structure"]),
                         key=(int(meta["key"][0]), str(meta["key"][1])),
                         spec=piece.spec)
        except (OSError, ValueError, KeyError) as exc:
            log.warning("evaluation cache entry %s unreadable (%s); reading %s again",
                        entry, exc, piece.spec)
    query = _read_uncached(piece, grid=grid, data_dir=data_dir, meter_map=meter_map)
    meta = {"tonic_triad": query.tonic_triad, "key": list(query.key),
            "structure": _structure_to_json(query.structure), "spec": piece.spec}
    from .fileio import atomic_path

    try:
        with atomic_path(entry) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, bars=query.bars, meta=np.array(json.dumps(meta)))
    except (OSError, QbdiError) as exc:  # a read-only cache only costs time
        log.info("evaluation cache not written (%s)", exc)
    return query


def _read_uncached(piece: SetPiece, *, grid: Grid, data_dir, meter_map: str):
    from .analysis.roman import score_key
    from .analysis.chroma import tonic_triad_index
    from .bars import metric_score
    from .pianoroll import convert_score
    from .pieces import resolve_query

    score = resolve_query(piece.spec, data_dir=data_dir)
    if piece.chords:
        score = sounding_chord_symbols(score)
    score = metric_score(score, grid=grid, where=piece.spec)
    conversion = convert_score(score, grid, source=piece.spec, meter_map=meter_map)
    found = score_key(score)
    mode = "minor" if found.mode == "minor" else "major"
    tonic = tonic_triad_index(found.tonic.pitchClass, mode)
    return Query(name=piece.name, group=piece.style, score=score, bars=conversion.bars,
                 tonic_triad=tonic, structure=conversion.structure,
                 key=(found.tonic.pitchClass, mode), spec=piece.spec)


def load_evaluation_set(name: str = DEFAULT_SET, *, grid: Grid = DEFAULT_GRID, data_dir=None,
                        meter_map: str = "scale", cache_dir=None,
                        progress: bool = False) -> tuple[list, list[tuple[str, str]]]:
    """The queries of a named set, and the pieces skipped with the reason.

    A piece whose file cannot be found (the shared data folder absent) or read is skipped
    and listed with the reason in the second return value (:func:`skipped_summary` words
    it for people); the rest is evaluated.
    Example: ``queries, skipped = load_evaluation_set("broad")``.
    """
    pieces = set_pieces(name)
    queries, skipped = [], []
    iterator = pieces
    if progress:
        from tqdm.auto import tqdm
        iterator = tqdm(pieces, desc=f"reading set {name}", unit="piece", leave=False)
    for piece in iterator:
        try:
            queries.append(read_piece(piece, grid=grid, data_dir=data_dir,
                                      meter_map=meter_map, cache_dir=cache_dir))
        except InputError as exc:
            log.info("%s skipped: %s", piece.spec, exc)
            skipped.append((piece.spec, str(exc)))
    return queries, skipped


def skipped_summary(skipped: list[tuple[str, str]]) -> list[str]:
    """One line per reason for the skipped pieces of a set, e.g. ``"skipped 8 pieces
    (corpus:visions-fugitives/vf_no1, ...): corpus 'visions-fugitives': folder ... not
    found; set --data-dir ..."``."""
    by_reason: dict[str, list[str]] = {}
    for spec, reason in skipped:
        by_reason.setdefault(reason, []).append(spec)
    lines = []
    for reason, specs in by_reason.items():
        shown = ", ".join(specs[:2]) + (", ..." if len(specs) > 2 else "")
        lines.append(f"skipped {len(specs)} piece{'s' if len(specs) > 1 else ''} ({shown}): "
                     f"{reason}")
    return lines
