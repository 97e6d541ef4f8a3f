"""The package in a few calls, as music21 would have it: streams in, streams out.

Everything here is a thin, documented door onto the modules that do the work; the
functions are exported by ``qbdi_musicology`` itself::

    import qbdi_musicology as q
    chorale = q.load("corpus:bach-chorales/bwv66.6")
    improvisations = q.sweep(chorale, rates=[float("inf"), 8, 0], seed=1)
    q.annotate_pair(chorale, improvisations[8], rate=8).write("musicxml", "rate-8.musicxml")
    q.drift_table(chorale, improvisations)[["rate", "triad_agreement", "tonic_share"]]

No function changes its input score; every score returned is a new music21 ``Score``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Sequence

__all__ = ["load", "load_model", "bar_structure", "metric_score", "improvise", "sweep",
           "add_chord_labels", "chord_labels", "annotate_pair", "drift_table", "write"]


def load(query: str | Path, **options):
    """A score from a file (MusicXML, MIDI...) or a corpus name, checked before parsing.

    Example: ``load("corpus:bach-chorales/bwv66.6")`` is Bach's chorale in F-sharp minor;
    ``load("my_piece.mid")`` reads a file. Damaged or hostile files raise a ``QbdiError``
    that says what is wrong.
    """
    from .pieces import resolve_query

    return resolve_query(str(query), **options)


def load_model(name_or_path: str | Path | None = None):
    """The shipped model (``None``), a shipped model by name, or a model file.

    Example: ``load_model()`` is ``pop-harmony``, trained on the paper's pop clips.
    """
    from .checkpoint import load_model as _load

    return _load(name_or_path)


def bar_structure(score):
    """The score's metric bars (split bars joined, pickup and final bar kept).

    Example: ``bar_structure(load("corpus:bach-chorales/bwv13.6")).describe()`` is
    ``'13 bar(s) in 4/4; a pickup of 1 quarter(s); a final bar of 3 quarter(s); 2 split
    bar(s) joined'``.
    """
    from .bars import bar_structure as _structure

    return _structure(score)


def metric_score(score):
    """The score written again on its metric bars, the bars every analysis counts."""
    from .bars import metric_score as _metric

    return _metric(score)


def _model(model):
    return load_model() if model is None else (
        load_model(model) if isinstance(model, (str, Path)) else model)


def improvise(score, rate: float = math.inf, *, model=None, seed: int = 0, **options):
    """Improvise on ``score`` bar by bar through a channel of ``rate`` bits per bar.

    ``rate=inf`` keeps what the model can of every bar; ``rate=0`` sends nothing bar by bar
    (the shipped model then plays the tonic chord). The improvisation has the query's bars
    and meter. Example: ``improvise(chorale, 8, seed=1)``.
    """
    from .generate import query

    return query(score, _model(model), rate=float(rate), seed=seed, **options)


def sweep(score, rates: Sequence[float] = (math.inf, 32.0, 8.0, 0.0), *, model=None,
          seed: int = 0, **options) -> dict[float, Any]:
    """The improvisations of ``score`` at several rates, as ``{rate: Score}``.

    The query is encoded once and the channel noise shared, so the scores differ by the
    rate alone. Example: ``sweep(chorale, [float("inf"), 8, 0])[0.0]`` is the rate-0 score.
    """
    from .generate import sweep as _sweep

    return {float(rate): improv
            for rate, improv, _ in _sweep(score, _model(model), list(rates), seed=seed,
                                          **options)}


def chord_labels(score, *, per: str = "bar", key=None):
    """The chord labels of a score as a table: one row per bar (or beat).

    Columns include ``chord_symbol`` (``G``, ``Am7``), ``roman`` (``V``, ``ii65``),
    ``function`` and ``key``. Example: a bar of G-B-D in C major is ``G``, ``V``, ``D``.
    """
    from .analysis.chords import label_chords

    return label_chords(score, per=per, key=key)


def add_chord_labels(score, *, per: str = "bar", key=None):
    """A new score with its harmony written in: chord symbols and Roman numerals.

    The chord symbols are music21 ``ChordSymbol`` objects above the top staff, at the start
    of each bar (or beat) and wherever the chord changes; the Roman numerals (in the
    score's key) are lyrics under the lowest staff, as MuseScore shows them. The label
    table is kept on the new score as ``score.chord_labels``. The input is not changed.
    Example: ``add_chord_labels(load("corpus:bach-chorales/bwv66.6")).write()`` opens in
    MuseScore with "F#m" and "i" under the first full bar.
    """
    from .annotate.harmony import label_score

    return label_score(score, per=per, key=key)


def annotate_pair(query, improvisation, *, rate: Any = None, per: str = "bar", key=None):
    """The query's staves over the improvisation's, bar over bar, with the harmony written in.

    Chord symbols, Roman numerals (query's key) and collisions (red notes, "G vs D").
    Example: ``annotate_pair(chorale, improvisations[8], rate=8)``.
    """
    from .annotate.harmony import annotate_pair as _pair

    return _pair(query, improvisation, rate=rate, per=per, key=key)


def drift_table(query, improvisations: Mapping[Any, Any], *, per: str = "bar", key=None):
    """One row per rate: how much of the query's harmony each improvisation keeps.

    ``triad_agreement`` is the measure of ``qbdi evaluate`` and the README; ``tonic_share``
    rises as the rate falls. Example: ``drift_table(chorale, sweep(chorale))``.
    """
    from .analysis.drift import drift_table as _table

    return _table(query, improvisations, per=per, key=key)


def write(score, path: str | Path, **options) -> Path:
    """Write a score as MusicXML (``.musicxml``, or ``.mxl`` compressed), atomically.

    The file validates against MusicXML 4.0 and opens in MuseScore. Returns the path.
    """
    from .musicxml import write_musicxml

    return write_musicxml(score, path, **options)
