"""Roman-numeral analysis with local keys, at the harmonic rhythm.

What an analyst does, and how this module does it:

1. **Units.** The score is read beat by beat (the time signature's beat; quarter notes in
   x/2 meters, where chords often change on the quarter). A chord lasts one unit or more:
   a chord held over three beats is *one* chord, not three.
2. **Chord tones and decorations.** Every note adds its sounding time to its pitch class in
   each unit it sounds in. Notes that look like decorations from their line (left by step,
   a suspension held over the beat, a pedal; see :mod:`.nonchord`) weigh less against a
   chord that does not contain them. Each candidate chord (12 roots x triads, seventh
   chords and the French sixth) gets a fit: chord tones for it, other notes against it,
   a missing root or third against it, its root or third in the bass for it.
3. **Keys and chords together.** One Viterbi search over every unit chooses a (local key,
   chord) pair per unit, maximising: the chord fit; how usual the chord is in the key
   (its scale degree and quality, as counted in human analyses); how well the unit's
   notes fit the key's pitch profile; how usual the progression from the previous chord
   is; minus a cost for changing chord and a larger one for changing key (more for a
   distant key). A modulation is therefore found only where several chords in a row
   are better explained in a new key; a single chromatic chord stays an applied chord
   (V7/V, viio7/ii) in the old key. Three habits of tonal music lean the search: a
   phrase ending (a fermata) on a tonic triad confirms its key, the last chord is the
   tonic of its key, and the piece starts in the key of its final bass note.
4. **Figures.** Each chord becomes the numeral analysts write in its local key: case and
   quality marks (``ii``, ``viio``, ``III+``), inversions (``I6``, ``V65``, ``V43``),
   sevenths, applied dominants and leading-tone chords (``V7/V``, ``viio7/ii``), the
   Neapolitan (``bII6``), augmented sixths (``It6``, ``Fr43``, ``Ger65``) and the
   cadential six-four (``I64`` before ``V``, flagged in the table).

Example::

    from music21 import corpus
    result = analyse_roman(corpus.parse("bach/bwv347"))
    result.chords[["measure", "beat", "key", "roman"]].head()
    result.global_key()          # <music21.key.Key of A major>
"""

from __future__ import annotations

import functools
import json
import logging
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, ParameterError
from . import keys as K
from .scoreparts import FLAT_NAMES, SHARP_NAMES, _as_score, _bar_grid
from .nonchord import VoicedNotes, classify, decoration_likelihood, voiced_notes

log = logging.getLogger(__name__)

PARAMS_FILE = Path(__file__).with_name("roman_params.json")


# ----------------------------------------------------------------------------------------
# chord types


@dataclass(frozen=True)
class ChordType:
    """A chord type: intervals above its root, its triad quality, and its figure marks."""

    name: str
    intervals: tuple[int, ...]
    triad: str           # "major", "minor", "diminished", "augmented" or "other"
    seventh: bool


CHORD_TYPES: tuple[ChordType, ...] = (
    ChordType("major", (0, 4, 7), "major", False),
    ChordType("minor", (0, 3, 7), "minor", False),
    ChordType("diminished", (0, 3, 6), "diminished", False),
    ChordType("augmented", (0, 4, 8), "augmented", False),
    ChordType("dominant-seventh", (0, 4, 7, 10), "major", True),
    ChordType("minor-seventh", (0, 3, 7, 10), "minor", True),
    ChordType("major-seventh", (0, 4, 7, 11), "major", True),
    ChordType("half-diminished-seventh", (0, 3, 6, 10), "diminished", True),
    ChordType("diminished-seventh", (0, 3, 6, 9), "diminished", True),
    # the French sixth, named from its lowest note in root position: Ab-C-D-F# in C
    ChordType("french-sixth", (0, 4, 6, 10), "other", True),
)
N_TYPES = len(CHORD_TYPES)
N_CHORDS = 12 * N_TYPES
TRIADS = ("major", "minor", "diminished", "augmented", "other")
N_CLASSES = 12 * len(TRIADS)   # scale degree of the root x triad quality


def _chord_tables():
    member = np.zeros((N_CHORDS, 12))
    root = np.zeros(N_CHORDS, dtype=int)
    third = np.full(N_CHORDS, -1)
    fifth = np.full(N_CHORDS, -1)
    seventh = np.full(N_CHORDS, -1)
    triad = np.zeros(N_CHORDS, dtype=int)
    ctype = np.zeros(N_CHORDS, dtype=int)
    for t, ct in enumerate(CHORD_TYPES):
        for r in range(12):
            c = t * 12 + r
            for i in ct.intervals:
                member[c, (r + i) % 12] = 1.0
            root[c] = r
            ctype[c] = t
            third[c] = (r + ct.intervals[1]) % 12
            fifth[c] = (r + ct.intervals[2]) % 12
            if ct.seventh:
                seventh[c] = (r + ct.intervals[3]) % 12
            triad[c] = TRIADS.index(ct.triad)
    return member, root, third, fifth, seventh, triad, ctype


MEMBER, ROOT, THIRD, FIFTH, SEVENTH, TRIAD, CTYPE = _chord_tables()


def chord_class(chord: int | np.ndarray, key: int | np.ndarray):
    """Class of a chord in a key: ``degree of its root * 5 + triad quality`` (0-59)."""
    tonic = np.asarray(key) % 12
    return ((ROOT[chord] - tonic) % 12) * len(TRIADS) + TRIAD[chord]


# ----------------------------------------------------------------------------------------
# parameters


@dataclass(frozen=True)
class RomanSettings:
    """The weights of the search; hand-set, then checked on the development analyses.

    Fit of a chord in a unit (per quarter note of sounding time):
    ``chord_tone`` for each chord tone, ``-foreign`` for each other note, reduced to
    ``-foreign_decoration`` as far as the note looks like a decoration; ``-missing_root``,
    ``-missing_third`` when those are silent; ``bass_root`` / ``bass_third`` when they are
    the lowest note, ``-bass_foreign`` when the bass is no chord tone; ``-seventh_cost``
    for a seventh chord (a triad is the simpler reading of the same notes).

    The search adds, per unit, ``fit_weight`` x fit, ``chord_in_key`` x log P(chord class
    | mode), ``key_profile`` x the notes' log-likelihood in the key, and per change
    ``progression`` x log P(next class | class, mode) - ``change_cost``, or at a new key
    ``-key_change - key_distance`` x (circle-of-fifths steps beyond the next one).
    """

    chord_tone: float = 1.0
    foreign: float = 1.0
    foreign_decoration: float = 0.15
    missing_root: float = 0.5
    missing_third: float = 0.35
    missing_fifth: float = 0.1
    bass_root: float = 0.35
    bass_third: float = 0.12
    bass_fifth: float = 0.0
    bass_foreign: float = 0.5
    seventh_cost: float = 0.5
    #: a note that looks like a decoration counts this much (0-1) as a chord tone: a
    #: chord should not be built on passing notes and suspensions
    decoration_credit: float = 1.0
    #: a seventh that only passes (its sounding time that looks decorative) counts against
    #: the seventh chord: V - V7 over a passing seventh is V on the beat
    seventh_decoration: float = 1.0
    #: weight of the fit against the other terms
    fit_weight: float = 4.0
    #: weight of log P(chord class | mode)
    chord_in_key: float = 1.0
    #: weight of the notes' fit to the key profile (per unit)
    key_profile: float = 1.0
    #: weight of log P(next class | class, mode)
    progression: float = 1.0
    #: cost of a new chord (the harmonic rhythm: a held chord is one chord)
    change_cost: float = 0.5
    #: cost of a new key, plus ``key_distance`` per step on the circle of fifths
    key_change: float = 8.0
    key_distance: float = 2.0
    #: a phrase ending (a fermata) on the tonic triad of a key confirms that key: bonus
    cadence_tonic: float = 2.0
    #: a piece ends on the tonic of its last key (a Picardy third included)
    final_tonic: float = 3.0
    #: a piece starts in the key it ends in: bonus at the start for the keys whose tonic
    #: is the last bass note (the final is the tonic); a modulation at once still wins
    #: when the music asks for it
    home_key: float = 4.0
    #: candidate chords kept per unit (the best fits)
    candidates: int = 10
    #: additive smoothing of the learned counts
    smoothing: float = 0.5


DEFAULT_SETTINGS = RomanSettings()


@functools.lru_cache(maxsize=4)
def _learned(path: str = str(PARAMS_FILE), smoothing: float = 0.5):
    """log P(class | mode) and log P(class' | class, mode) from the shipped counts.

    Without the counts file every class is equally likely (the search still works, on fit
    and key profile alone)."""
    uni = np.ones((2, N_CLASSES))
    bi = np.ones((2, N_CLASSES, N_CLASSES))
    p = Path(path)
    if p.exists():
        data = json.loads(p.read_text())
        uni = np.asarray(data["class_counts"], dtype=float) + smoothing
        bi = np.asarray(data["transition_counts"], dtype=float)
        # back off to the unigram for rare previous classes
        bi = bi + smoothing * 10 * (uni / uni.sum(axis=1, keepdims=True))[:, None, :]
    else:
        log.warning("%s missing: chord classes are taken as equally likely", p)
    log_uni = np.log(uni / uni.sum(axis=1, keepdims=True))
    log_bi = np.log(bi / bi.sum(axis=2, keepdims=True))
    # The Neapolitan and the augmented sixths are rare in the sample (a few dozen among
    # thousands of chords) but are what an analyst looks for: never rarer than NAMED_FLOOR
    for cls in _NAMED_CLASSES:
        log_uni[:, cls] = np.maximum(log_uni[:, cls], math.log(NAMED_FLOOR))
        log_bi[:, :, cls] = np.maximum(log_bi[:, :, cls], math.log(NAMED_FLOOR))
    return log_uni, log_bi


#: Probability floor of the named chromatic chords (see :func:`_learned`).
NAMED_FLOOR = 1 / 100
#: Classes of the Neapolitan (major triad on the lowered second degree) and of the
#: augmented sixths (an "other" sonority on the lowered sixth degree).
_NAMED_CLASSES = (1 * len(TRIADS) + TRIADS.index("major"),
                  8 * len(TRIADS) + TRIADS.index("other"))


# ----------------------------------------------------------------------------------------
# units


@dataclass
class Units:
    """The analysis grid: where each unit starts and ends, and its bar and beat."""

    start: np.ndarray
    end: np.ndarray
    measure: np.ndarray
    beat: np.ndarray           # in the time signature's beats, 1 = downbeat
    beat_ql: np.ndarray        # the time signature's beat, in quarter notes
    time_signature: list[str]

    def __len__(self) -> int:
        return len(self.start)


def analysis_units(score, notes: VoicedNotes | None = None) -> Units:
    """Beats of the score (quarters in x/2 meters), pickup bar included."""
    bars = _bar_grid(score)
    if not bars:
        from music21 import meter
        total = float(notes.end.max()) if notes is not None and len(notes) else 4.0
        ts = meter.TimeSignature("4/4")
        bars = [(i + 1, 4.0 * i, 4.0 * (i + 1), 0.0, ts)
                for i in range(max(1, math.ceil(total / 4.0 - 1e-9)))]
    start, end, measure, beat, beat_ql, tsig = [], [], [], [], [], []
    for number, b0, b1, padding, ts in bars:
        bq = float(ts.beatDuration.quarterLength)
        step = bq if bq <= 1.5 + 1e-9 else 1.0
        virtual = b0 - padding
        k = 0
        while True:
            s = virtual + k * step
            k += 1
            if s >= b1 - 1e-9:
                break
            e = min(s + step, b1)
            s = max(s, b0)
            if e - s <= 1e-9:
                continue
            start.append(s)
            end.append(e)
            measure.append(number)
            beat.append(round(1.0 + (s - virtual) / bq, 4))
            beat_ql.append(bq)
            tsig.append(ts.ratioString)
    return Units(np.asarray(start), np.asarray(end), np.asarray(measure, dtype=int),
                 np.asarray(beat), np.asarray(beat_ql), tsig)


# ----------------------------------------------------------------------------------------
# evidence


@dataclass
class _Evidence:
    weight: np.ndarray        # (U, 12) sounding time per pitch class, per unit length
    decor: np.ndarray         # (U, 12) the part of it that looks decorative
    bass: np.ndarray          # (U,) pitch class of the bass, -1 if silent
    fit: np.ndarray           # (U, N_CHORDS)
    key_fit: np.ndarray       # (U, 24)
    cadence: np.ndarray       # (U,) True where a phrase ends (a fermata starts there)
    spelling: list[dict[int, str]]


def _evidence(notes: VoicedNotes, units: Units, s: RomanSettings) -> _Evidence:
    n_units = len(units)
    like = decoration_likelihood(notes, units.start)
    overlap = np.clip(np.minimum(notes.end[:, None], units.end[None, :])
                      - np.maximum(notes.start[:, None], units.start[None, :]), 0.0, None)
    length = units.end - units.start
    onehot = np.zeros((len(notes), 12))
    onehot[np.arange(len(notes)), notes.pc] = 1.0
    weight = (overlap.T @ onehot) / length[:, None]
    decor = (overlap.T @ (onehot * like[:, None])) / length[:, None]
    sounding = overlap > 1e-9
    # the bass: the lowest note sounding at the unit's start, else the lowest in it
    at_start = (notes.start[:, None] <= units.start[None, :] + 1e-9) & sounding
    big = 10_000
    low_start = np.where(at_start, notes.midi[:, None], big).min(axis=0) if len(notes) \
        else np.full(n_units, big)
    low_any = np.where(sounding, notes.midi[:, None], big).min(axis=0) if len(notes) \
        else np.full(n_units, big)
    low = np.where(low_start < big, low_start, low_any)
    bass = np.where(low < big, low % 12, -1)

    present = weight > 1e-9
    cost = (weight - decor) * s.foreign + decor * s.foreign_decoration
    credit = weight - (1.0 - s.decoration_credit) * decor
    fit = s.chord_tone * (credit @ MEMBER.T) - cost @ (1.0 - MEMBER).T
    fit -= s.missing_root * ~present[:, ROOT]
    fit -= s.missing_third * ~present[:, THIRD]
    has_fifth = present[:, FIFTH]
    fit -= s.missing_fifth * ~has_fifth
    is7 = SEVENTH >= 0
    fit -= s.seventh_cost * is7[None, :]
    # a seventh chord must sound its seventh; otherwise it is the triad
    fit -= 5.0 * (is7[None, :] & ~present[:, np.maximum(SEVENTH, 0)])
    fit -= s.seventh_decoration * is7[None, :] * decor[:, np.maximum(SEVENTH, 0)]
    # the French sixth is told from the Italian by its added fourth (D in Ab-C-D-F#)
    french = CTYPE == [t.name for t in CHORD_TYPES].index("french-sixth")
    fit -= 5.0 * (french[None, :] & ~present[:, FIFTH])
    b = bass[:, None]
    fit += s.bass_root * (b == ROOT[None, :])
    fit += s.bass_third * (b == THIRD[None, :])
    fit += s.bass_fifth * (b == FIFTH[None, :])
    in_chord = MEMBER[:, np.maximum(bass, 0)].T > 0
    fit -= s.bass_foreign * ((bass[:, None] >= 0) & ~in_chord)
    silent = weight.sum(axis=1) <= 1e-9
    fit[silent] = 0.0

    prof = K.log_profiles()
    total = weight.sum(axis=1, keepdims=True)
    key_fit = (weight / np.where(total > 0, total, 1.0)) @ prof.T
    key_fit -= key_fit.max(axis=1, keepdims=True)

    spelling: list[dict[int, str]] = []
    for j in range(n_units):
        idx = np.nonzero(sounding[:, j])[0]
        tally: dict[tuple[int, str], float] = {}
        for i in idx:
            key_ = (int(notes.pc[i]), notes.names[i])
            tally[key_] = tally.get(key_, 0.0) + float(overlap[i, j])
        per_pc: dict[int, str] = {}
        for (pc, name), _ in sorted(tally.items(), key=lambda kv: -kv[1]):
            per_pc.setdefault(pc, name)
        spelling.append(per_pc)
    return _Evidence(weight, decor, bass.astype(int), fit, key_fit,
                     np.zeros(n_units, dtype=bool), spelling)


# ----------------------------------------------------------------------------------------
# the search


def _viterbi(ev: _Evidence, s: RomanSettings) -> tuple[np.ndarray, np.ndarray]:
    """The best (key, chord) per unit; returns two (U,) integer arrays."""
    log_uni, log_bi = _learned(str(PARAMS_FILE), s.smoothing)
    n_units = ev.fit.shape[0]
    n_cand = min(s.candidates, N_CHORDS)
    cand = np.argsort(-ev.fit, axis=1, kind="stable")[:, :n_cand]          # (U, C)
    keys = np.arange(K.N_KEYS)
    mode = (keys >= 12).astype(int)                                        # (24,)
    relation = K.relation_cost() * s.key_distance + s.key_change
    np.fill_diagonal(relation, 0.0)

    def classes(j):
        return chord_class(cand[j][None, :], keys[:, None])               # (24, C)

    def emission(j, cls):
        fit = ev.fit[j, cand[j]][None, :] * s.fit_weight
        out = fit + s.chord_in_key * log_uni[mode[:, None], cls] \
            + s.key_profile * ev.key_fit[j][:, None]
        bonus = (s.cadence_tonic if ev.cadence[j] else 0.0) + \
            (s.final_tonic if j == last else 0.0)
        if bonus:
            # the class of a tonic triad is degree 0: major in a major key, minor (or the
            # Picardy third, major) in a minor key
            degree0 = cls // len(TRIADS) == 0
            out = out + bonus * degree0
        return out

    sounding = np.nonzero(ev.bass >= 0)[0]
    last = int(sounding[-1]) if len(sounding) else -1
    cls_prev = classes(0)
    score = emission(0, cls_prev)
    if len(sounding) and s.home_key:
        final = int(ev.bass[sounding[-1]])
        score = score + s.home_key * (keys % 12 == final)[:, None]
    back_key = np.zeros((n_units, K.N_KEYS, n_cand), dtype=int)
    back_cand = np.zeros((n_units, K.N_KEYS, n_cand), dtype=int)
    for j in range(1, n_units):
        cls = classes(j)
        same = cand[j - 1][:, None] == cand[j][None, :]                     # (C', C)
        # within a key: the progression, or the same chord held
        prog = s.progression * log_bi[mode[:, None, None], cls_prev[:, :, None],
                                      cls[:, None, :]] - s.change_cost   # (24, C', C)
        prog = np.where(same[None, :, :], 0.0, prog)
        within = score[:, :, None] + prog
        best_prev = within.argmax(axis=1)                                  # (24, C)
        best_within = np.take_along_axis(within, best_prev[:, None, :], axis=1)[:, 0, :]
        # into a new key: from the best state of any other key
        top_cand = score.argmax(axis=1)                                    # (24,)
        top = score.max(axis=1)
        via = top[:, None] - relation                                      # (24 from, 24 to)
        np.fill_diagonal(via, -np.inf)
        from_key = via.argmax(axis=0)
        enter = via.max(axis=0)[:, None] + s.progression * log_uni[mode[:, None], cls] \
            - s.change_cost                                                # (24, C)
        use_new = enter > best_within
        total = np.where(use_new, enter, best_within)
        back_key[j] = np.where(use_new, from_key[:, None], keys[:, None])
        back_cand[j] = np.where(use_new, top_cand[from_key][:, None], best_prev)
        score = total + emission(j, cls)
        cls_prev = cls
    k, c = np.unravel_index(int(score.argmax()), score.shape)
    out_key = np.zeros(n_units, dtype=int)
    out_chord = np.zeros(n_units, dtype=int)
    for j in range(n_units - 1, -1, -1):
        out_key[j] = k
        out_chord[j] = cand[j, c]
        if j:
            k, c = back_key[j, k, c], back_cand[j, k, c]
    return out_key, out_chord


# ----------------------------------------------------------------------------------------
# figures

_MAJOR_NUMERALS = {0: "I", 1: "bII", 2: "II", 3: "bIII", 4: "III", 5: "IV", 6: "#IV",
                   7: "V", 8: "bVI", 9: "VI", 10: "bVII", 11: "VII"}
# In minor, music21 (and RomanText) read vi/vii in lower case as the raised degrees
# (F#, G# in A minor) and VI/VII in upper case as the natural ones (F, G).
_MINOR_NUMERALS = {0: "I", 1: "bII", 2: "II", 3: "III", 4: "#III", 5: "IV", 6: "#IV",
                   7: "V", 8: "VI", 9: "VI", 10: "VII", 11: "VII"}
_MAJOR_SCALE = {0, 2, 4, 5, 7, 9, 11}
_MINOR_SCALE = {0, 2, 3, 5, 7, 8, 9, 10, 11}   # natural, harmonic and melodic together
#: Degrees a chord can be applied to (its consonant diatonic triads, not the tonic).
_TARGETS = {"major": {2: "ii", 4: "iii", 5: "IV", 7: "V", 9: "vi"},
            "minor": {3: "III", 5: "iv", 7: "V", 8: "VI", 10: "VII"}}


def _numeral(degree: int, triad: str, mode: str) -> str:
    base = (_MAJOR_NUMERALS if mode == "major" else _MINOR_NUMERALS)[degree]
    if mode == "minor" and triad in ("major", "augmented") and degree in (9, 11):
        base = "#" + base  # a major chord on the raised sixth or seventh degree
    acc = base.rstrip("IV")
    letters = base[len(acc):]
    letters = letters if triad in ("major", "augmented", "other") else letters.lower()
    mark = {"diminished": "o", "augmented": "+"}.get(triad, "")
    return acc + letters + mark


def _inversion(chord: int, bass: int) -> str:
    ct = CHORD_TYPES[CTYPE[chord]]
    if bass < 0:
        return "7" if ct.seventh else ""
    interval = (bass - ROOT[chord]) % 12
    pos = {ct.intervals[i] % 12: i for i in range(len(ct.intervals))}.get(interval, 0)
    if ct.seventh:
        return ("7", "65", "43", "42")[pos]
    return ("", "6", "64")[pos]


def figure(chord: int, bass: int, key: int, sounding: set[int] | None = None,
           next_bass: int | None = None) -> str:
    """The Roman numeral of ``chord`` (index into the chord table) in ``key`` (0-23).

    Diatonic chords (in minor: natural, harmonic and melodic scales) get a plain numeral;
    a chromatic major triad or dominant seventh whose root is a fifth above a diatonic
    triad is its applied dominant (``V7/V``); a chromatic diminished chord a semitone below
    one is its leading-tone chord (``viio7/ii``); a major triad on the lowered second degree
    is the Neapolitan (``bII6``); a dominant-seventh sound on the lowered sixth degree with
    that degree in the bass is a German sixth (``Ger65``), without its fifth an Italian
    sixth (``It6``); the French sixth is ``Fr43``.

    ``sounding`` (pitch classes heard with the chord) tells a German sixth from an Italian
    one, which lacks the fifth above the bass. ``next_bass`` (the pitch class of the next
    chord's bass, if known) must be the dominant for an augmented sixth: the lowered sixth
    degree falls to it; otherwise the sonority is the plain chord it sounds like (``bVI7``).

    Example: D-F#-A-C over C in C major (key 0) is ``V42/V``.
    """
    tonic, mode = K.key_tonic_mode(key)
    ct = CHORD_TYPES[CTYPE[chord]]
    root = int(ROOT[chord])
    degree = (root - tonic) % 12
    pcs = {(root + i) % 12 for i in ct.intervals}
    rel = {(p - tonic) % 12 for p in pcs}
    inv = _inversion(chord, bass)
    scale = _MAJOR_SCALE if mode == "major" else _MINOR_SCALE
    resolves = next_bass is None or (next_bass - tonic) % 12 == 7
    if ct.name == "french-sixth" and resolves:
        return "Fr43"
    if degree == 8 and ct.name == "dominant-seventh" and bass == root and resolves:
        if sounding is not None and int(FIFTH[chord]) not in sounding:
            return "It6"
        return "Ger65"
    diatonic = rel <= scale
    if mode == "major" and ct.name == "diminished-seventh" and degree == 11:
        diatonic = True  # viio7 in major borrows the minor sixth degree: analysts write viio7
    if ct.name == "dominant-seventh" and (degree == 0 or (mode == "minor" and degree == 10)):
        # a seventh added to the tonic (C-E-G-Bb in C) leads to IV, the subtonic's
        # dominant seventh in minor (G-B-D-F in A minor) to III: analysts write V7/IV, V7/III
        return "V" + inv + "/" + _TARGETS[mode][(degree + 5) % 12]
    if diatonic or degree == 0:
        return _plain(ct, degree, mode, inv)
    if degree == 1 and ct.triad == "major":
        return "bII" + inv                                  # the Neapolitan
    if ct.triad == "major" and ct.name in ("major", "dominant-seventh"):
        target = (degree - 7) % 12
        if target in _TARGETS[mode]:
            return "V" + inv + "/" + _TARGETS[mode][target]
    if ct.triad == "diminished":
        target = (degree + 1) % 12
        if target in _TARGETS[mode]:
            mark = "ø" if ct.name == "half-diminished-seventh" else "o"
            return "vii" + mark + inv + "/" + _TARGETS[mode][target]
    return _plain(ct, degree, mode, inv)


def _plain(ct: ChordType, degree: int, mode: str, inv: str) -> str:
    numeral = _numeral(degree, ct.triad, mode)
    if ct.name == "half-diminished-seventh":
        numeral = numeral[:-1] + "ø"
    return numeral + inv


# ----------------------------------------------------------------------------------------
# the result


#: Columns of :attr:`RomanAnalysis.chords`, one row per chord change.
COLUMNS = ("measure", "beat", "offset", "duration", "time_signature", "key", "key_change",
           "roman", "root", "root_pc", "quality", "triad", "bass_pc", "cadential_64",
           "nonchord_tones")


@dataclass
class RomanAnalysis:
    """A Roman-numeral analysis: one row per chord (``chords``) and the score's key
    signature (``sharps``). Keys are written ``'A'`` (major) or ``'f#'`` (minor)."""

    chords: pd.DataFrame
    sharps: int | None = None
    title: str = ""
    meta: dict = field(default_factory=dict)

    def keys(self) -> pd.DataFrame:
        """The local keys in order: where each starts, how long it holds, its name."""
        c = self.chords
        rows = c[c["key_change"]]
        ends = list(rows["offset"].iloc[1:]) + [float((c["offset"] + c["duration"]).max())]
        return pd.DataFrame({"measure": rows["measure"].to_numpy(),
                             "beat": rows["beat"].to_numpy(),
                             "offset": rows["offset"].to_numpy(),
                             "duration": np.asarray(ends) - rows["offset"].to_numpy(),
                             "key": rows["key"].to_numpy()})

    def global_key(self):
        """The piece's key: the local key holding longest, opening and closing counted
        twice (a music21 ``Key``)."""
        from music21 import key as m21key
        regions = self.keys()
        if regions.empty:
            return None
        weight: dict[str, float] = {}
        for i, r in enumerate(regions.itertuples()):
            w = float(r.duration) * (2.0 if i in (0, len(regions) - 1) else 1.0)
            weight[r.key] = weight.get(r.key, 0.0) + w
        best = max(weight, key=lambda k: (weight[k], k == regions["key"].iloc[0]))
        return m21key.Key(best)


def analyse_roman(score, *, settings: RomanSettings | None = None) -> RomanAnalysis:
    """Roman numerals with local keys for ``score``, one row per chord change.

    Columns of ``.chords``: ``measure``, ``beat`` (in the time signature's beats, 1 = the
    downbeat), ``offset``/``duration`` (quarter notes), ``key`` (``'A'``, ``'f#'``),
    ``key_change`` (a new local key starts here), ``roman`` (``V65``, ``V7/V``,
    ``viio7/ii``, ``I64``...), ``root`` (spelled), ``root_pc``, ``quality`` (``major``,
    ``dominant-seventh``...), ``triad`` (``major``, ``minor``, ``diminished``,
    ``augmented``, ``other``), ``bass_pc``, ``cadential_64`` (a tonic six-four resolving
    to V) and ``nonchord_tones`` (e.g. ``"D5 passing; F4 suspension"``).

    Example: bwv347 starts ``A: I`` and reaches ``E: V7 I`` in bar 2.
    """
    s = settings or DEFAULT_SETTINGS
    if s.candidates < 1:
        raise ParameterError(f"candidates={s.candidates}: keep at least one chord per unit")
    score = _as_score(score)
    notes = voiced_notes(score)
    if len(notes) == 0:
        raise InputError("the score has no sounding notes to analyse; check that it is not "
                         "empty or made only of rests and chord symbols")
    units = analysis_units(score, notes)
    ev = _evidence(notes, units, s)
    ev.cadence = _fermata_units(score, units)
    sounding = np.nonzero(ev.bass >= 0)[0]
    if len(sounding):
        ev.cadence[sounding[-1]] = True  # the last chord closes the piece
    key_of, chord_of = _viterbi(ev, s)
    sharps = _signature(score)
    return RomanAnalysis(_table(score, notes, units, ev, key_of, chord_of, sharps), sharps,
                         _title(score))


def _fermata_units(score, units: Units) -> np.ndarray:
    """Units in which a fermata'd note starts: the phrase endings of a chorale."""
    from music21 import expressions, stream

    from .nonchord import _measure_starts, _timed_notes
    out = np.zeros(len(units), dtype=bool)
    parts = list(score.parts) if isinstance(score, stream.Score) and score.parts else [score]
    reference = _measure_starts(parts[0])
    for part in parts:
        for start, n in _timed_notes(part, reference):
            if any(isinstance(e, expressions.Fermata) for e in n.expressions):
                j = int(np.searchsorted(units.start, start + 1e-6)) - 1
                if 0 <= j < len(units):
                    out[j] = True
    return out


def _signature(score) -> int | None:
    from music21 import key as m21key
    for ks in score.recurse().getElementsByClass(m21key.KeySignature):
        return int(ks.sharps)
    return None


def _title(score) -> str:
    md = getattr(score, "metadata", None)
    if md is None:
        return ""
    return str(md.title or md.movementName or "")


def _table(score, notes, units, ev, key_of, chord_of, sharps) -> pd.DataFrame:
    # a chord runs while (key, chord) stays; silent units join the chord before them. As
    # analysts write I - I6, a new chord tone struck in the bass on a beat starts a new row
    silent = ev.weight.sum(axis=1) <= 1e-9
    starts = []
    for j in range(len(units)):
        if j == 0:
            starts.append(j)
            continue
        if silent[j]:
            continue
        # compared with the row running now (a silent unit in between changes nothing)
        r = starts[-1]
        changed = key_of[j] != key_of[r] or chord_of[j] != chord_of[r]
        b, last = int(ev.bass[j]), int(ev.bass[r])
        inverted = b >= 0 and last >= 0 and b != last and MEMBER[chord_of[j], b] > 0 \
            and MEMBER[chord_of[j], last] > 0 \
            and bool(np.any(np.abs(notes.start - units.start[j]) < 1e-6))
        if changed or inverted:
            starts.append(j)
    spans = [(a, (starts[i + 1] if i + 1 < len(starts) else len(units)))
             for i, a in enumerate(starts)]
    key_objs: dict[int, object] = {}
    rows: dict[str, list] = {c: [] for c in COLUMNS}
    prev_key = None
    chords = [int(chord_of[a]) for a, _ in spans]
    for i, (a, b) in enumerate(spans):
        kidx, c = int(key_of[a]), chords[i]
        if kidx not in key_objs:
            key_objs[kidx] = K.key_music21(kidx, _near_sharps(kidx, sharps))
        kobj = key_objs[kidx]
        nxt = chords[i + 1] if i + 1 < len(spans) else None
        bass = int(ev.bass[a])
        heard = {int(p) for p in np.nonzero(ev.weight[a:b].sum(axis=0) > 1e-9)[0]}
        next_bass = int(ev.bass[spans[i + 1][0]]) if i + 1 < len(spans) else -1
        fig = figure(c, bass, kidx, heard, next_bass)
        tonic, _ = K.key_tonic_mode(kidx)
        cad = (CHORD_TYPES[CTYPE[c]].name == "major" and int(ROOT[c]) == tonic
               and bass == (tonic + 7) % 12 and nxt is not None
               and int(ROOT[nxt]) == (tonic + 7) % 12 and int(key_of[spans[i + 1][0]]) == kidx)
        rows["measure"].append(int(units.measure[a]))
        rows["beat"].append(float(units.beat[a]))
        rows["offset"].append(float(units.start[a]))
        rows["duration"].append(float(units.end[b - 1] - units.start[a]))
        rows["time_signature"].append(units.time_signature[a])
        rows["key"].append(K.key_label(kobj))
        rows["key_change"].append(kidx != prev_key)
        rows["roman"].append(fig)
        root_pc, root = int(ROOT[c]), _root_name(int(ROOT[c]), ev.spelling[a], kobj)
        triad = CHORD_TYPES[CTYPE[c]].triad
        if fig.startswith(("It", "Ger", "Fr")):
            # an augmented sixth is no triad; its root is named as music21 and the human
            # analyses name it (the raised fourth degree, the second for the French sixth)
            from music21 import roman as m21roman
            r = m21roman.RomanNumeral(fig, kobj).root()
            root_pc, root, triad = r.pitchClass, r.name.replace("-", "b"), "other"
        rows["root"].append(root)
        rows["root_pc"].append(root_pc)
        rows["quality"].append(CHORD_TYPES[CTYPE[c]].name)
        rows["triad"].append(triad)
        rows["bass_pc"].append(bass)
        rows["cadential_64"].append(bool(cad))
        rows["nonchord_tones"].append(_decorations(notes, units, a, b, c, nxt))
        prev_key = kidx
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _near_sharps(kidx: int, sharps: int | None) -> int | None:
    """Spell a local key near the piece's signature (a sharp-key piece modulates to C#
    minor, not D-flat minor)."""
    if sharps is None:
        return None
    own = K.signature_sharps(kidx)
    alt = own - 12 if own > 0 else own + 12
    return own if abs(own - sharps) <= abs(alt - sharps) else alt


def _root_name(pc: int, spelling: dict[int, str], k) -> str:
    if pc in spelling:
        return spelling[pc]
    for p in k.pitches:
        if p.pitchClass == pc:
            return p.name.replace("-", "b")
    return (SHARP_NAMES if k.sharps >= 0 else FLAT_NAMES)[pc]


def _decorations(notes: VoicedNotes, units: Units, a: int, b: int, chord: int,
                 nxt: int | None) -> str:
    t0, t1 = float(units.start[a]), float(units.end[b - 1])
    here = {int(p) for p in np.nonzero(MEMBER[chord])[0]}
    there = None if nxt is None else {int(p) for p in np.nonzero(MEMBER[nxt])[0]}
    found = []
    sel = np.nonzero((notes.start < t1 - 1e-9) & (notes.end > t0 + 1e-9))[0]
    for i in sel:
        if int(notes.pc[i]) in here:
            continue
        onset = float(notes.start[i])
        if onset < t0 - 1e-9:
            # sounding on from before this chord: a suspension if it then falls by step
            nm, m = int(notes.next_midi[i]), int(notes.midi[i])
            kind = "suspension" if nm >= 0 and 1 <= m - nm <= 2 else (
                "pedal" if notes.end[i] - onset >= 3.0 - 1e-9 else "other")
        else:
            on_beat = bool(np.any(np.abs(units.start - onset) < 1e-6))
            kind = classify(notes, int(i), here, there, on_beat)
        if kind:
            octave = int(notes.midi[i]) // 12 - 1
            found.append(f"{notes.names[i]}{octave} {kind}")
    return "; ".join(found)


def analyse_roman_settings(**changes) -> RomanSettings:
    """The default settings with some changed: ``analyse_roman_settings(key_change=6.0)``."""
    try:
        return replace(DEFAULT_SETTINGS, **changes)
    except TypeError as exc:
        raise ParameterError(f"unknown setting in {sorted(changes)}; see RomanSettings") \
            from exc


# ----------------------------------------------------------------------------------------
# the key of a piece


def global_key(score_or_analysis, key_signature_sharps: int | None = None):
    """The key of a whole piece, derived from its local keys (a music21 ``Key``).

    Each local key counts with the time it holds; the opening and the closing key count
    twice, since a tonal piece states its key at the start and returns to it at the end.
    Takes a score (analysed with :func:`analyse_roman`) or
    an analysis already made. Example: bwv347 (A major, with passages in E major and B minor)
    gives A major.
    """
    analysis = score_or_analysis if isinstance(score_or_analysis, RomanAnalysis) \
        else analyse_roman(score_or_analysis)
    return analysis.global_key()


#: Where :func:`score_key` keeps a score's key on the score itself (found once per score).
KEY_MARK = "_qbdi_key"


def score_key(score):
    """The one key of a score for the whole package: :func:`global_key` of its metric bars.

    Found once and kept on the score (the query's metric score, which the sweep, the
    annotated scores, the drift table and ``qbdi evaluate`` all share), so every step names
    the same tonic. Example: bwv66.6 gives F-sharp minor.
    """
    from ..bars import metric_score

    metric = metric_score(score)
    found = getattr(metric, KEY_MARK, None)
    if found is None:
        found = global_key(metric)
        setattr(metric, KEY_MARK, found)
    return found
