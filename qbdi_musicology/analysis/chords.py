"""Chord labels per bar or per beat: chord symbol, Roman numeral and harmonic function.

How a segment (a bar, or a beat) is labelled, in musical terms:

1. Every note sounding in the segment adds its sounding time to its pitch class (a half-note
   C in a bar of 4/4 counts twice as much as a quarter-note D). Tied notes count in each
   segment they sound in. This is the segment's *chroma*.
2. If the set of sounding pitch classes is exactly a triad (major, minor, diminished,
   augmented) or a seventh chord (dominant, major, minor, half-diminished, diminished
   seventh; a dominant seventh may lack its fifth), that chord is the label. Symmetric chords
   (diminished seventh, augmented triad) take the bass note as root where it can.
3. Otherwise (passing or neighbour notes, suspensions, bare intervals) the label is the
   triad or seventh chord whose template best matches the duration-weighted profile (cosine
   similarity), and the row is marked ``is_fallback``. There is therefore never a
   "Cannot Be Identified" label: every segment with a sounding note gets a chord.
4. A segment where nothing sounds is ``N.C.`` (no chord).

The Roman numeral is the root's degree in the key (given, or found by key-profile
correlation as music21's ``analyze('key')`` does), in case by quality (``V``, ``ii``,
``vii°``, ``III+``), with the seventh and inversion figures (``V7``, ``V65``, ``I6``,
``I64``). The function is T (tonic), S (subdominant/predominant) or D (dominant), from the
degree of the root (see :data:`FUNCTION_MAJOR` and :data:`FUNCTION_MINOR`).

Example::

    from music21 import corpus
    table = label_chords(corpus.parse("bwv66.6"), per="beat")
    table[["bar", "beat", "chord_symbol", "roman", "function"]].head()
"""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError, ParameterError
from .scoreparts import (FLAT_NAMES, SHARP_NAMES, _as_score, _bar_grid,  # noqa: F401
                         _spelled_key)

log = logging.getLogger(__name__)

NO_CHORD = "N.C."


@dataclass(frozen=True)
class Quality:
    """A chord quality: its intervals above the root and how it is written."""

    name: str            # the music21 / MusicXML kind, e.g. "dominant-seventh"
    intervals: tuple[int, ...]
    symbol: str          # chord-symbol suffix: "" (C), "m" (Cm), "7" (C7) ...
    upper: bool          # Roman numeral in upper case (major third) or lower case
    roman_mark: str      # "°", "ø", "+", "M" or ""
    seventh: bool


#: The qualities a label can have, in order of preference when two fit equally well.
QUALITIES: tuple[Quality, ...] = (
    Quality("major", (0, 4, 7), "", True, "", False),
    Quality("minor", (0, 3, 7), "m", False, "", False),
    Quality("dominant-seventh", (0, 4, 7, 10), "7", True, "", True),
    Quality("minor-seventh", (0, 3, 7, 10), "m7", False, "", True),
    Quality("major-seventh", (0, 4, 7, 11), "maj7", True, "M", True),
    Quality("half-diminished-seventh", (0, 3, 6, 10), "m7b5", False, "ø", True),
    Quality("diminished", (0, 3, 6), "dim", False, "°", False),
    Quality("diminished-seventh", (0, 3, 6, 9), "dim7", False, "°", True),
    Quality("augmented", (0, 4, 8), "aug", True, "+", False),
)
QUALITY_BY_NAME = {q.name: q for q in QUALITIES}

#: Display spelling of pitch classes when nothing better is known: ``SHARP_NAMES`` and
#: ``FLAT_NAMES`` (in :mod:`.scoreparts`).

#: Degree of the root above the tonic -> (numeral, function) in a major key.
#: The mediant (iii) and submediant (vi) count as tonic substitutes (Riemann's Tg, Tp);
#: borrowed bII, bVI, bVII and #iv° as predominants.
FUNCTION_MAJOR: dict[int, tuple[str, str]] = {
    0: ("I", "T"), 1: ("bII", "S"), 2: ("II", "S"), 3: ("bIII", "T"), 4: ("III", "T"),
    5: ("IV", "S"), 6: ("#IV", "S"), 7: ("V", "D"), 8: ("bVI", "S"), 9: ("VI", "T"),
    10: ("bVII", "S"), 11: ("VII", "D")}
#: The same for a minor key: VI is the tonic substitute of the deceptive cadence, VII and
#: vii° are dominants (of III, and of i).
FUNCTION_MINOR: dict[int, tuple[str, str]] = {
    0: ("I", "T"), 1: ("bII", "S"), 2: ("II", "S"), 3: ("III", "T"), 4: ("#III", "T"),
    5: ("IV", "S"), 6: ("#IV", "S"), 7: ("V", "D"), 8: ("VI", "T"), 9: ("#VI", "S"),
    10: ("VII", "D"), 11: ("VII", "D")}

#: Columns of :func:`label_chords`, in order.
COLUMNS = ("bar", "beat", "offset", "duration", "chord_symbol", "roman", "function", "root",
           "root_pc", "quality", "bass_pc", "pitch_classes", "is_fallback", "fit", "key")


def _templates() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows, roots, qualities = [], [], []
    for qi, quality in enumerate(QUALITIES):
        for root in range(12):
            row = np.zeros(12)
            row[[(root + i) % 12 for i in quality.intervals]] = 1.0
            rows.append(row)
            roots.append(root)
            qualities.append(qi)
    return np.array(rows), np.array(roots), np.array(qualities)


TEMPLATES, TEMPLATE_ROOTS, TEMPLATE_QUALITIES = _templates()
_TEMPLATES_UNIT = TEMPLATES / np.linalg.norm(TEMPLATES, axis=1, keepdims=True)


def _exact_table() -> dict[int, list[int]]:
    """12-bit pitch-class set -> template indices that it spells exactly."""
    table: dict[int, list[int]] = {}
    for ti in range(len(TEMPLATES)):
        quality = QUALITIES[TEMPLATE_QUALITIES[ti]]
        root = TEMPLATE_ROOTS[ti]
        sets = [quality.intervals]
        if quality.name == "dominant-seventh":
            # a dominant seventh without its fifth (C-E-Bb) is still a dominant seventh; for
            # the other sevenths the three notes left are as likely another chord
            sets.append(tuple(i for i in quality.intervals if i != 7))
        for intervals in sets:
            mask = 0
            for i in intervals:
                mask |= 1 << ((root + i) % 12)
            table.setdefault(mask, []).append(ti)
    return table


_EXACT = _exact_table()


# ----------------------------------------------------------------------------------------
# segments


@dataclass
class Segments:
    """The time segments of a score (bars or beats) and what sounds in each.

    ``chroma`` is ``(n, 12)`` sounding time in quarter notes per pitch class; ``bass_pc`` is
    the pitch class of the lowest sounding note (-1 if none); ``spellings[i]`` maps a pitch
    class to the spelling (``'F#'``, ``'Bb'``) most heard in segment ``i``.
    """

    bar: np.ndarray
    beat: np.ndarray
    start: np.ndarray
    end: np.ndarray
    chroma: np.ndarray
    bass_pc: np.ndarray
    spellings: list[dict[int, str]]
    meter: str

    def __len__(self) -> int:
        return len(self.bar)


def _sounding_notes(score) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Start, end (quarter notes), MIDI pitch and spelled name of every sounding pitch."""
    from music21 import harmony, note, roman
    starts, ends, midis, names = [], [], [], []
    flat = score.flatten()
    for n in flat.notes:
        if isinstance(n, (harmony.Harmony, roman.RomanNumeral, note.Unpitched)):
            continue
        ql = float(n.quarterLength)
        if ql <= 0:
            continue  # grace notes take no time
        start = float(n.offset)
        for p in n.pitches:
            starts.append(start)
            ends.append(start + ql)
            midis.append(int(round(p.ps)))
            names.append(p.name.replace("-", "b"))
    return (np.asarray(starts, dtype=float), np.asarray(ends, dtype=float),
            np.asarray(midis, dtype=int), names)


def score_segments(score, per: str = "bar") -> Segments:
    """Cut ``score`` into bars or beats and measure what sounds in each.

    ``per="beat"`` follows the time signature's beat (a quarter in 4/4, a dotted quarter in
    6/8, a half in 2/2). A pickup bar starts at the beat where its music starts.

    Example: the first beat of bwv66.6 (a pickup) sounds C#, E, A and A: its chroma has
    weight on pitch classes 1, 4 and 9.
    """
    if per not in ("bar", "beat"):
        raise ParameterError(f"per={per!r}: choose 'bar' or 'beat'")
    score = _as_score(score)
    starts, ends, midis, names = _sounding_notes(score)
    bars = _bar_grid(score)
    if not bars:
        # no measures (e.g. a bare stream of notes): bars of 4/4 from the start
        from music21 import meter
        total = float(ends.max()) if len(ends) else 0.0
        n_bars = max(1, math.ceil(total / 4.0 - 1e-9))
        ts = meter.TimeSignature("4/4")
        bars = [(i + 1, 4.0 * i, 4.0 * (i + 1), 0.0, ts) for i in range(n_bars)]
    seg_bar, seg_beat, seg_start, seg_end = [], [], [], []
    for number, start, end, padding, ts in bars:
        if per == "bar":
            seg_bar.append(number)
            seg_beat.append(1.0 + padding / float(ts.beatDuration.quarterLength))
            seg_start.append(start)
            seg_end.append(end)
            continue
        beat_len = float(ts.beatDuration.quarterLength)
        virtual = start - padding  # where the bar would start if it were complete
        k = 0
        while True:
            b0 = virtual + k * beat_len
            b1 = b0 + beat_len
            k += 1
            if b0 >= end - 1e-9:
                break
            s0, s1 = max(b0, start), min(b1, end)
            if s1 - s0 <= 1e-9:
                continue
            seg_bar.append(number)
            seg_beat.append(round(1.0 + (s0 - virtual) / beat_len, 4))
            seg_start.append(s0)
            seg_end.append(s1)
    seg_start_a = np.asarray(seg_start, dtype=float)
    seg_end_a = np.asarray(seg_end, dtype=float)
    # overlap[i, j]: how long note i sounds inside segment j (all segments at once)
    overlap = np.clip(np.minimum(ends[:, None], seg_end_a[None, :])
                      - np.maximum(starts[:, None], seg_start_a[None, :]), 0.0, None)
    pcs = midis % 12
    onehot = np.zeros((len(pcs), 12))
    onehot[np.arange(len(pcs)), pcs] = 1.0
    chroma = overlap.T @ onehot
    sounding = overlap > 1e-9
    low = np.where(sounding, midis[:, None], 10_000).min(axis=0) if len(midis) else \
        np.full(len(seg_start), 10_000)
    bass_pc = np.where(low < 10_000, low % 12, -1)
    spellings: list[dict[int, str]] = []
    for j in range(len(seg_start)):
        idx = np.nonzero(sounding[:, j])[0] if len(midis) else []
        best: dict[int, tuple[float, str]] = {}
        for i in idx:
            pc, w = int(pcs[i]), float(overlap[i, j])
            # a spelling's weight is its total sounding time in the segment
            key_ = (pc, names[i])
            best[key_] = best.get(key_, 0.0) + w  # type: ignore[index]
        per_pc: dict[int, str] = {}
        for (pc, name), w in sorted(best.items(), key=lambda kv: -kv[1]):  # type: ignore
            per_pc.setdefault(pc, name)
        spellings.append(per_pc)
    meter_text = bars[0][4].ratioString if bars else "4/4"
    return Segments(np.asarray(seg_bar, dtype=int), np.asarray(seg_beat, dtype=float),
                    seg_start_a, seg_end_a, chroma, bass_pc.astype(int), spellings, meter_text)


# ----------------------------------------------------------------------------------------
# keys


@functools.lru_cache(maxsize=1)
def _key_profiles() -> tuple[np.ndarray, np.ndarray]:
    from music21.analysis.discrete import AardenEssen
    weights = AardenEssen()
    return (np.asarray(weights.getWeights("major"), dtype=float),
            np.asarray(weights.getWeights("minor"), dtype=float))


def estimate_key(chroma_total: np.ndarray, sharps: int | None = None):
    """The best key for a 12-bin duration profile (music21 ``Key``), or None when silent.

    Pearson correlation with the 24 rotated Aarden-Essen key profiles, the method of
    music21's ``analyze('key')``; the tonic is spelled to suit ``sharps`` (the key
    signature), if given. Example: a profile of C, E, G and some B and D gives C major.
    """
    chroma_total = np.asarray(chroma_total, dtype=float)
    if chroma_total.sum() <= 0:
        return None
    major, minor = _key_profiles()
    best = (-2.0, 0, "major")
    x = chroma_total - chroma_total.mean()
    for mode, profile in (("major", major), ("minor", minor)):
        for tonic in range(12):
            prof = np.roll(profile, tonic)
            y = prof - prof.mean()
            denom = math.sqrt(float((x * x).sum() * (y * y).sum()))
            r = float((x * y).sum() / denom) if denom else 0.0
            if r > best[0] + 1e-12:
                best = (r, tonic, mode)
    _, tonic, mode = best
    return _spelled_key(tonic, mode, sharps)


def resolve_key(key, score=None, chroma_total: np.ndarray | None = None):
    """Turn ``key`` (None, ``'C'``, ``'f#'``, ``'E- major'``, a music21 Key) into a Key.

    ``None`` means: the score's key (:func:`qbdi_musicology.analysis.roman.score_key`, the
    one key estimator of the package, from the Roman-numeral analysis's local keys), or
    without a score the best key profile of ``chroma_total``. Upper case is major and lower
    case minor, as in music21: ``'a'`` is A minor.
    """
    from music21 import key as m21key
    if key is None:
        if score is not None:
            if chroma_total is not None and not np.asarray(chroma_total).any():
                return None  # nothing sounds: no key
            from .roman import score_key
            return score_key(score)  # the one key of the package (local keys, Roman analysis)
        return estimate_key(chroma_total, None)
    if isinstance(key, m21key.Key):
        return key
    if isinstance(key, m21key.KeySignature):
        return key.asKey("major")
    if isinstance(key, str):
        text = key.strip()
        parts = text.split()
        try:
            if len(parts) == 2:
                tonic = parts[0][0] + parts[0][1:].replace("b", "-")
                return m21key.Key(tonic, parts[1].lower())
            tonic = text[0] + text[1:].replace("b", "-")
            return m21key.Key(tonic)
        except Exception as exc:  # music21 raises several types for bad names
            raise ParameterError(f"key {key!r} is not a key name; write e.g. 'C', 'a', "
                                 "'F# minor' or 'Eb major'") from exc
    raise ParameterError(f"key {key!r}: give a key name like 'G' or 'e', or None to estimate")


def key_name(k) -> str:
    """``'C major'``, ``'f# minor'`` (music21's spelling with ``b`` for flats)."""
    if k is None:
        return ""
    tonic = k.tonic.name.replace("-", "b")
    return f"{tonic if k.mode == 'major' else tonic.lower()} {k.mode}"


# ----------------------------------------------------------------------------------------
# labels


def roman_numeral(root_pc: int, quality: str, bass_pc: int, k) -> tuple[str, str]:
    """Roman numeral and function of a chord in key ``k``.

    Example: ``roman_numeral(7, "major", 7, Key("C")) -> ("V", "D")``;
    ``roman_numeral(7, "dominant-seventh", 11, Key("C")) -> ("V65", "D")``;
    ``roman_numeral(8, "diminished", 8, Key("a")) -> ("vii°", "D")`` (G#-B-D in A minor).
    """
    if root_pc < 0 or k is None:
        return "", ""
    q = QUALITY_BY_NAME[quality]
    degree = (root_pc - k.tonic.pitchClass) % 12
    table = FUNCTION_MAJOR if k.mode == "major" else FUNCTION_MINOR
    numeral, function = table[degree]
    if k.mode != "major" and degree == 11 and not q.upper:
        numeral = "VII"  # the leading-tone chord vii° in minor needs no sharp
    elif k.mode != "major" and degree == 11:
        numeral = "#VII"
    accidental = numeral.rstrip("IVX")
    letters = numeral[len(accidental):]
    letters = letters if q.upper else letters.lower()
    inversion = (bass_pc - root_pc) % 12 if bass_pc >= 0 else 0
    if q.seventh:
        figure = {3: "65", 4: "65", 6: "43", 7: "43", 9: "42", 10: "42", 11: "42"}.get(
            inversion, "7")
    else:
        figure = {3: "6", 4: "6", 6: "64", 7: "64", 8: "64"}.get(inversion, "")
    return f"{accidental}{letters}{q.roman_mark}{figure}", function


def _label_segments(seg: Segments, k) -> pd.DataFrame:
    chroma = seg.chroma
    norms = np.linalg.norm(chroma, axis=1)
    unit = chroma / np.where(norms > 0, norms, 1.0)[:, None]
    scores = unit @ _TEMPLATES_UNIT.T  # cosine similarity with every template
    bonus = (TEMPLATE_ROOTS[None, :] == seg.bass_pc[:, None]) * 1e-6  # ties: bass is root
    ranked = scores + bonus - TEMPLATE_QUALITIES[None, :] * 1e-9  # then simpler qualities
    best = ranked.argmax(axis=1)
    present = chroma > 1e-9
    masks = (present * (1 << np.arange(12))).sum(axis=1).astype(int)
    sharp_key = k is None or k.sharps >= 0
    default_names = SHARP_NAMES if sharp_key else FLAT_NAMES
    key_spelling = {}
    if k is not None:
        for p in k.pitches:
            key_spelling[p.pitchClass] = p.name.replace("-", "b")
    rows: dict[str, list] = {c: [] for c in COLUMNS}
    kname = key_name(k)
    for j in range(len(seg)):
        rows["bar"].append(int(seg.bar[j]))
        rows["beat"].append(float(seg.beat[j]))
        rows["offset"].append(float(seg.start[j]))
        rows["duration"].append(float(seg.end[j] - seg.start[j]))
        rows["key"].append(kname)
        if norms[j] == 0:
            for c, v in (("chord_symbol", NO_CHORD), ("roman", ""), ("function", ""),
                         ("root", ""), ("root_pc", -1), ("quality", "none"), ("bass_pc", -1),
                         ("pitch_classes", ()), ("is_fallback", False), ("fit", 0.0)):
                rows[c].append(v)
            continue
        exact = _EXACT.get(int(masks[j]))
        if exact:
            # symmetric chords (dim7, aug) fit several roots: prefer the bass, then weight
            ti = max(exact, key=lambda t: (TEMPLATE_ROOTS[t] == seg.bass_pc[j],
                                           chroma[j, TEMPLATE_ROOTS[t]], -t))
            fallback = False
        else:
            ti = int(best[j])
            fallback = True
        root_pc = int(TEMPLATE_ROOTS[ti])
        quality = QUALITIES[TEMPLATE_QUALITIES[ti]]
        root = seg.spellings[j].get(root_pc) or key_spelling.get(root_pc) \
            or default_names[root_pc]
        roman, function = roman_numeral(root_pc, quality.name, int(seg.bass_pc[j]), k)
        rows["chord_symbol"].append(root + quality.symbol)
        rows["roman"].append(roman)
        rows["function"].append(function)
        rows["root"].append(root)
        rows["root_pc"].append(root_pc)
        rows["quality"].append(quality.name)
        rows["bass_pc"].append(int(seg.bass_pc[j]))
        rows["pitch_classes"].append(tuple(int(p) for p in np.nonzero(present[j])[0]))
        rows["is_fallback"].append(fallback)
        rows["fit"].append(round(float(scores[j, ti]), 4))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def label_chords(score, *, per: str = "bar", key=None) -> pd.DataFrame:
    """One chord label per bar (``per="bar"``) or beat (``per="beat"``) of ``score``.

    Columns: ``bar``, ``beat`` (1-based, in the time signature's beats), ``offset`` and
    ``duration`` (quarter notes), ``chord_symbol`` (``G``, ``Am7``, ``N.C.``), ``roman``
    (``V``, ``ii65``), ``function`` (``T``/``S``/``D``), ``root`` (spelled), ``root_pc``
    (0 = C ... 11 = B, -1 for no chord), ``quality`` (music21 kind name, ``none`` for no
    chord), ``bass_pc``, ``pitch_classes`` (the sounding set), ``is_fallback`` (not an exact
    triad or seventh chord: best-matching template), ``fit`` (cosine similarity of the
    sounding profile with the label, 1 = only chord tones, equally long) and ``key``.

    ``key``: None estimates the key from the whole score; or give ``'C'``, ``'a'``,
    ``'F# minor'`` or a music21 ``Key``.

    Example: a bar of G-B-D in C major gives ``chord_symbol='G'``, ``roman='V'``,
    ``function='D'``.
    """
    score = _as_score(score)
    seg = score_segments(score, per)
    k = resolve_key(key, score, seg.chroma.sum(axis=0)) if key is None else resolve_key(key)
    if k is None:
        log.warning("no key found (the score has no sounding notes); Roman numerals left empty")
    table = _label_segments(seg, k)
    table.attrs["meter"] = seg.meter
    table.attrs["per"] = per
    return table
