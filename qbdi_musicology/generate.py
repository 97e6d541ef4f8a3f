"""Improvisation and query as score transformations.

* :func:`improvise` -- a new piece from the model alone: one random latent code per bar.
* :func:`query` -- the paper's query-based improvisation: every bar of a query score is
  encoded, its latent code passes the rate-limited channel
  (:mod:`qbdi_musicology.channel`), and the decoder improvises a bar in the model's style.
  The result keeps the query's bar count, meter and tempo.
* :func:`sweep` -- the same query at several rates, encoded once.

None of them changes its input. Each returns a music21 ``Score`` whose metadata records
what made it (model id and checksum, seed, threshold, rate, channel options, query title)
as custom metadata that :func:`qbdi_musicology.musicxml.write_musicxml` writes as MusicXML
``<miscellaneous-field>`` entries.

Decoding: the decoder gives a probability for every cell of the bar; a cell is on when its
probability exceeds ``threshold`` (the paper uses 0.5-0.7). The *articulate* plane decides
where notes start: a pitch that sounds on from the previous step without a new attack is a
held note (a tie over the barline), not a repeated one.

Key normalisation (models with ``key_normalise``): the query is moved to C major / A minor
before encoding (its key found with music21's rule) and the improvisation moved back, so a
chorale in A major is improvised upon in A major by a model that learned pop songs in C.

Example::

    from qbdi_musicology.checkpoint import load_model
    from music21 import corpus
    model = load_model()
    improv = query(corpus.parse("bach/bwv66.6"), model, seed=1, rate=32)
    improv.metadata.title   # 'Improvisation on bwv66.6 (R = 32 bits/bar)'
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .errors import InputError, ParameterError
from .rates import rate_title
from .grid import ARTICULATE, PLAY, Grid
from .gcpause import without_gc_pauses

log = logging.getLogger(__name__)

GENERATOR = "qbdi-musicology"


@dataclass
class Encoding:
    """A query encoded once: its bars and the posterior of every bar's latent code.

    ``bars``: the query's own bars (its key); ``model_bars``: what the encoder saw (after key
    normalisation, else the same); ``shift``: semitones of that normalisation; ``key``:
    (tonic pitch class, mode) found for the query; ``mu``/``logvar``: ``(n_bars, latent)``.
    ``structure``: the query's metric bars (:mod:`qbdi_musicology.bars`), one per bar of
    ``bars``; ``score``: the query written on those bars (:func:`~qbdi_musicology.bars.
    metric_score`), the score every annotation and analysis of this query uses.
    """

    mu: np.ndarray
    logvar: np.ndarray
    bars: np.ndarray
    model_bars: np.ndarray
    shift: int
    key: tuple[int, str]
    title: str
    tempo: float
    grid: Grid
    parts_read: list[str] = field(default_factory=list)
    structure: Any = None
    meter_map: str = "scale"
    score: Any = None

    @property
    def n_bars(self) -> int:
        return int(self.bars.shape[0])


def _model_parts(model) -> tuple[Any, dict]:
    """The torch module and the provenance of a LoadedModel (or a bare BarVAE)."""
    net = getattr(model, "model", model)
    if not hasattr(net, "encode") or not hasattr(net, "config"):
        raise ParameterError(f"{type(model).__name__} is not a bar model; load one with "
                             f"checkpoint.load_model()")
    provenance = {
        "model": getattr(model, "model_id", "unsaved-model"),
        "model_sha256": getattr(model, "sha256", ""),
    }
    return net, provenance


def _check_threshold(threshold: float) -> float:
    try:
        value = float(threshold)
    except (TypeError, ValueError):
        raise ParameterError(f"threshold {threshold!r} is not a number; give one in (0, 1), "
                             f"e.g. 0.5") from None
    if not (0.0 < value < 1.0):
        raise ParameterError(f"threshold {threshold} must lie strictly between 0 and 1 "
                             f"(the paper uses 0.5-0.7)")
    return value


def _query_title(score) -> str:
    md = getattr(score, "metadata", None)
    for attr in ("title", "movementName", "corpusFilePath"):
        value = getattr(md, attr, None) if md is not None else None
        if value:
            return _strip_suffix(str(value))
    path = getattr(score, "filePath", None)
    if path:
        return _strip_suffix(str(path).rsplit("/", 1)[-1])
    return "query"


def _strip_suffix(name: str) -> str:
    """``'bach/bwv66.6.mxl' -> 'bach/bwv66.6'``: file suffixes are not part of a title."""
    for suffix in (".mxl", ".musicxml", ".xml", ".midi", ".mid", ".krn"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _query_tempo(score) -> float:
    from music21 import tempo

    for mark in score.recurse().getElementsByClass(tempo.MetronomeMark):
        bpm = mark.getQuarterBPM()
        if bpm:
            return float(bpm)
    return 120.0


def decode_bars(net, z: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Bars decoded from latent codes ``z`` (n, latent): cells above ``threshold`` are on.

    A struck cell also sounds (an attack without a sounding note would be lost).
    """
    import torch

    grid = net.config.grid
    with torch.no_grad():
        probs = net.decode(torch.as_tensor(np.asarray(z), dtype=torch.float32)).numpy()
    cells = probs.reshape(len(z), grid.steps, grid.pitches, 2) > threshold
    cells[..., PLAY] |= cells[..., ARTICULATE]
    return cells


def encode_bars(net, bars: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and log-variance (float64 numpy) of each bar."""
    import torch

    x = torch.from_numpy(np.asarray(bars).reshape(len(bars), -1).astype(np.float32))
    with torch.no_grad():
        mu, logvar = net.encode(x)
    return mu.numpy().astype(np.float64), logvar.numpy().astype(np.float64)


def encode(score, model, *, parts: Sequence[int | str] | None = None,
           meter_map: str = "scale", key=None) -> Encoding:
    """Read a query score on the model's grid and encode every bar.

    The query is first written on its metric bars (:func:`qbdi_musicology.bars.metric_score`:
    split bars joined, pickup kept); each of its bars, in any meter, becomes one model bar
    (``meter_map``, see :mod:`qbdi_musicology.bars`). The query's key is found once
    (:func:`qbdi_musicology.analysis.roman.score_key`) unless ``key`` (``'D'``, ``'f#'``, a
    music21 Key) says it; the sweep falls back on its tonic and writes the improvisation in
    it. Raises :class:`InputError` for an empty query or one without a note the grid can
    hold.

    Example: ``encode(corpus.parse("bach/bwv66.6"), model).mu.shape`` -> ``(10, 32)``.
    """
    from .analysis.chroma import bars_chroma
    from .bars import metric_score
    from .model import normalising_shift
    from .pianoroll import convert_score, transpose_bars

    net, _ = _model_parts(model)
    grid = net.config.grid
    title = _query_title(score)
    score = metric_score(score, grid=grid, where=title)
    try:
        conversion = convert_score(score, grid, parts=parts, source=title,
                                   meter_map=meter_map)
    except InputError as exc:
        # A meter clash is as much the model's doing as the query's: name the model too.
        model_path = getattr(model, "path", None)
        if model_path is None or "time signature" not in str(exc):
            raise
        raise InputError(f"model {model_path} works on a {grid.time_signature} grid: {exc}; "
                         f"or give a model trained in the query's meter") from exc
    bars = conversion.bars
    if bars.shape[0] == 0:
        raise InputError(f"query {title!r} has no bars to improvise on; give a score with "
                         f"notes")
    if not bars[..., PLAY].any():
        raise InputError(f"query {title!r} has no note in the model's range (MIDI "
                         f"{grid.low_pitch}-{grid.high_pitch}); give a score with notes")
    if key is None:
        from .analysis.roman import score_key
        found = score_key(score)
    else:
        from .analysis.chords import resolve_key
        found = resolve_key(key)
    key = (found.tonic.pitchClass, "minor" if found.mode == "minor" else "major")
    shift = normalising_shift(*key) if net.config.key_normalise else 0
    model_bars = transpose_bars(bars, shift, grid) if shift else bars
    mu, logvar = encode_bars(net, model_bars)
    parts_read = list(getattr(conversion.report, "parts_read", []) or [])
    return Encoding(mu=mu, logvar=logvar, bars=bars, model_bars=model_bars, shift=shift,
                    key=key, title=title, tempo=_query_tempo(score), grid=grid,
                    parts_read=parts_read, structure=conversion.structure,
                    meter_map=meter_map, score=score)


def tonic_bar(tonic_pc: int, mode: str, grid: Grid) -> np.ndarray:
    """A bar holding the tonic triad: root in the bass (octave 3), close triad above middle C.

    Struck on the downbeat and held for the whole bar, the plainest piano voicing of the
    chord, with no rhythm of its own. Example: ``tonic_bar(7, "major", grid)`` sounds G3
    under G4-B4-D5.
    """
    third = 3 if mode == "minor" else 4
    pc = int(tonic_pc) % 12
    pitches = [48 + pc, 60 + pc, 60 + pc + third, 60 + pc + 7]
    bar = np.zeros((grid.steps, grid.pitches, 2), dtype=bool)
    rows = [p - grid.low_pitch for p in pitches if grid.low_pitch <= p <= grid.high_pitch]
    if not rows:
        raise ParameterError(f"the grid's range (MIDI {grid.low_pitch}-{grid.high_pitch}) holds "
                             f"no note of the tonic triad; use a grid that spans MIDI 48-79")
    bar[:, rows, PLAY] = True
    bar[0, rows, ARTICULATE] = True
    return bar


def tonic_code(net, enc: Encoding) -> np.ndarray:
    """The latent code the channel mean ``"tonic"`` shrinks toward: the query's tonic chord.

    The encoder's code of :func:`tonic_bar` in the query's key (as the encoder sees it, i.e.
    in C major / A minor for a key-normalising model). A single plain chord is used rather
    than the average code of the query's own tonic bars: an average of codes is not the
    code of an average bar, and for the shipped model it decodes to another chord (often
    the relative key's) in some pieces, which is the very failure of the ``"query"`` mean.
    Example: a chorale in B minor shrinks toward the code of B3 under B4-D5-F#5.
    """
    tonic_pc = (enc.key[0] + enc.shift) % 12
    mu, _ = encode_bars(net, tonic_bar(tonic_pc, enc.key[1], enc.grid)[None])
    return mu[0]


def channel_mean_vector(net, enc: Encoding, channel) -> np.ndarray | None:
    """The ``mean_vector`` the channel needs for ``channel`` (None unless mean is "tonic").

    For a model with a harmony part, only the harmony part falls back to the tonic chord's
    code; the other dimensions (the texture) fall back to the piece's average code, as with
    the ``"query"`` mean. At rate 0 every bar is then the tonic chord in the piece's average
    texture, not a plain block chord. A model without a harmony part falls back to the
    tonic bar's whole code.
    """
    if channel.mean != "tonic":
        return None
    code = tonic_code(net, enc).astype(np.float64)
    k = int(getattr(net.config, "harmony_dims", 0))
    if k > 0:
        code[k:] = np.asarray(enc.mu, dtype=np.float64).mean(axis=0)[k:]
    return code


def default_channel(model, *, mean: str | None = None, **options):
    """The channel options a model is meant to be queried with (its ``channel_mean``).

    Models whose recipe falls back to the tonic (``ModelConfig.channel_mean="tonic"``, the
    shipped default) get ``ChannelOptions(mean="tonic")``; older or paper-style models the
    plain defaults. A ``mean`` given by the user wins; other ``ChannelOptions`` fields
    (``variance``, ``sample``) pass through. Example:
    ``default_channel(load_model()).mean == "tonic"``.
    """
    from .channel import ChannelOptions

    net = getattr(model, "model", model)
    return ChannelOptions(mean=mean or getattr(net.config, "channel_mean", "query"), **options)


def _key_signature(key: tuple[int, str] | None):
    """The query's key as a music21 Key, spelled with the fewer accidentals (F# not G-flat).

    An improvisation is written in its query's key, so that a theorist reads it against the
    same signature and the Roman numerals refer to the same tonic.
    """
    if key is None:
        return None
    from music21 import key as m21key
    from music21 import pitch

    from .analysis.chroma import PITCH_NAMES

    tonic = pitch.Pitch(PITCH_NAMES[key[0] % 12])
    names = sorted({tonic.name, tonic.getEnharmonic().name})
    return min((m21key.Key(n, key[1]) for n in names), key=lambda k: abs(k.sharps))


def _improvisation_score(bars: np.ndarray, grid: Grid, *, title: str, tempo: float,
                         fields: dict, query_bars: np.ndarray | None = None,
                         key: tuple[int, str] | None = None, structure=None,
                         meter_map: str = "scale"):
    from .bars import METRIC_MARK
    from .musicxml import set_score_fields
    from .pianoroll import bars_to_score

    signature = _key_signature(key)
    score = bars_to_score(bars, grid, tempo=tempo, instrument="Piano", title=title,
                          key=signature, structure=structure, meter_map=meter_map)
    for part in score.parts:
        part.partName = "Improvisation"
    if query_bars is not None:
        from music21 import layout

        shown = bars_to_score(query_bars, grid, tempo=None, instrument="Piano", title=title,
                              key=signature, structure=structure, meter_map=meter_map)
        query_parts = list(shown.parts)
        for number, part in enumerate(query_parts):
            part.partName = "Query"
            part.id = f"Query-Staff{number + 1}"
            score.insert(0, part)
        score.insert(0, layout.StaffGroup(query_parts, name="Query", symbol="brace",
                                          barTogether=True))
    set_score_fields(score, fields)
    if structure is not None:
        setattr(score, METRIC_MARK, structure)  # written on the query's bars already
    return score


def _decode_transmitted(net, enc: Encoding, z_hat: np.ndarray, threshold: float) -> np.ndarray:
    from .pianoroll import transpose_bars

    bars = decode_bars(net, z_hat, threshold)
    return transpose_bars(bars, -enc.shift, enc.grid) if enc.shift else bars


def _fields(provenance: dict, *, seed: int, threshold: float, enc: Encoding | None,
            rate: float | None = None, channel=None) -> dict:
    fields = {"generator": GENERATOR, **provenance, "seed": int(seed),
              "threshold": float(threshold)}
    if enc is not None:
        from .analysis.chroma import ROOT_NAMES
        fields["query"] = enc.title
        fields["query_key"] = f"{ROOT_NAMES[enc.key[0]]} {enc.key[1]}"
        fields["key_shift"] = int(enc.shift)
    if rate is not None:
        fields["rate"] = float(rate)
        fields["rate_unit"] = "bits per bar"
    if channel is not None:
        fields["channel"] = channel.describe()
    return fields


@without_gc_pauses
def query(score, model, *, seed: int = 0, threshold: float = 0.5, rate: float = math.inf,
          channel=None, include_query: bool = False,
          parts: Sequence[int | str] | None = None, meter_map: str = "scale", key=None):
    """Improvise on ``score`` bar by bar through a channel of ``rate`` bits per bar.

    ``rate=inf`` decodes each bar's own latent code (the paper's query); a finite rate passes
    the codes through the reverse water-filling channel first; ``rate=0`` sends only the
    channel mean, so every bar hears the piece's average. ``include_query`` adds the query
    (as read on the grid) below the improvisation, for side-by-side reading.

    Example: ``query(corpus.parse("bach/bwv66.6"), load_model(), seed=1, rate=8)`` gives a
    10-bar 4/4 piano score titled "Improvisation on bwv66.6 (R = 8 bits/bar)".
    """
    return sweep(score, model, [rate], seed=seed, threshold=threshold, channel=channel,
                 include_query=include_query, parts=parts, meter_map=meter_map,
                 key=key)[0][1]


@without_gc_pauses
def sweep(score, model, rates: Sequence[float], *, seed: int = 0, threshold: float = 0.5,
          channel=None, include_query: bool = False,
          parts: Sequence[int | str] | None = None, meter_map: str = "scale",
          encoding: Encoding | None = None, key=None) -> list[tuple[float, Any, Any]]:
    """The query at several rates, encoded once: a list of ``(rate, Score, ChannelResult)``.

    The channel noise is shared across rates (common random numbers), so the differences
    between the scores come from the rate alone. Every improvisation has the query's bars
    (meters, pickup, final bar). ``encoding``: the query's :func:`encode` result when the
    caller has it already.

    Example: ``[s.metadata.title for _, s, _ in sweep(q, m, [inf, 32, 0])]``.
    """
    from .channel import transmit_many

    threshold = _check_threshold(threshold)
    net, provenance = _model_parts(model)
    channel = channel if channel is not None else default_channel(net)
    enc = encoding if encoding is not None else encode(score, model, parts=parts,
                                                         meter_map=meter_map, key=key)
    results = transmit_many(enc.mu, enc.logvar, list(rates), seed=int(seed), options=channel,
                            mean_vector=channel_mean_vector(net, enc, channel))
    out = []
    for result in results:
        bars = _decode_transmitted(net, enc, result.z_hat, threshold)
        title = f"Improvisation on {enc.title} ({rate_title(result.rate_bits)})"
        fields = _fields(provenance, seed=seed, threshold=threshold, enc=enc,
                         rate=result.rate_bits, channel=channel)
        improv = _improvisation_score(bars, enc.grid, title=title, tempo=enc.tempo,
                                      fields=fields, key=enc.key,
                                      query_bars=enc.bars if include_query else None,
                                      structure=enc.structure, meter_map=enc.meter_map)
        out.append((result.rate_bits, improv, result))
    return out


def improvise(model, n_bars: int, *, seed: int = 0, threshold: float = 0.5,
              tempo: float = 120.0):
    """A new piece of ``n_bars`` bars: each bar decoded from a random latent code ~ N(0, I).

    Example: ``improvise(load_model(), 8, seed=3)`` -> an 8-bar 4/4 piano score.
    """
    if not isinstance(n_bars, (int, np.integer)) or isinstance(n_bars, bool) or n_bars <= 0:
        raise ParameterError(f"n_bars={n_bars!r}: give a whole number of bars >= 1")
    threshold = _check_threshold(threshold)
    net, provenance = _model_parts(model)
    rng = np.random.default_rng(int(seed))
    z = rng.standard_normal((int(n_bars), net.config.latent))
    bars = decode_bars(net, z, threshold)
    fields = _fields(provenance, seed=seed, threshold=threshold, enc=None)
    fields["latent_source"] = "prior (random codes)"
    return _improvisation_score(bars, net.config.grid, title=f"Improvisation ({n_bars} bars)",
                                tempo=tempo, fields=fields)


def score_bars(score, grid: Grid) -> np.ndarray:
    """The bars of a score on ``grid`` (for comparing an improvisation with its query)."""
    from .pianoroll import score_to_bars

    return score_to_bars(score, grid)


def load_query(spec: str):
    """The query score named by ``spec``: a MIDI/MusicXML path or ``corpus:NAME/PIECE``.

    Files are read through :func:`qbdi_musicology.pieces.resolve_query`, which checks them
    before music21 parses them. Example: ``load_query("corpus:bach-chorales/bwv66.6")``.
    """
    from .pieces import resolve_query

    return resolve_query(spec)
