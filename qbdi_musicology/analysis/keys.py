"""Keys for Roman-numeral analysis: the 24 keys, their note profiles and relations.

The local keys themselves are found together with the chords in
:mod:`qbdi_musicology.analysis.roman` (one search over keys and chords); this module holds
what that search needs to know about keys. The key of a whole piece, derived from its
local keys, is :func:`qbdi_musicology.analysis.roman.global_key`, and the one key of a
query for the whole package :func:`qbdi_musicology.analysis.roman.score_key`.

Keys are numbered 0-23: ``tonic pitch class + 12 * minor`` (0 = C major, 21 = A minor).
"""

from __future__ import annotations

import functools

import numpy as np

from .scoreparts import _spelled_key

N_KEYS = 24
#: Position of each major key's tonic on the circle of fifths (C = 0, G = 1, F = -1 ...).
_FIFTHS = np.array([(7 * pc + 6) % 12 - 6 for pc in range(12)])


def key_index(tonic_pc: int, mode: str) -> int:
    """Index 0-23 of a key: ``key_index(9, 'minor') -> 21`` (A minor)."""
    return int(tonic_pc) % 12 + (12 if mode == "minor" else 0)


def key_tonic_mode(index: int) -> tuple[int, str]:
    """Inverse of :func:`key_index`: ``21 -> (9, 'minor')``."""
    return index % 12, ("minor" if index >= 12 else "major")


def key_music21(index: int, sharps: int | None = None):
    """The music21 ``Key`` of an index, its tonic spelled near the key signature ``sharps``.

    Example: ``key_music21(6, sharps=-5)`` is G-flat major, ``key_music21(6)`` F-sharp major.
    """
    tonic, mode = key_tonic_mode(index)
    return _spelled_key(tonic, mode, sharps)


def key_label(k) -> str:
    """The RomanText/CSV key name: upper case major, lower case minor, ``-`` for flat
    (``'A'``, ``'f#'``, ``'B-'``)."""
    name = k.tonic.name
    return name if k.mode == "major" else name.lower()


def signature_sharps(index: int) -> int:
    """Sharps (negative: flats) of a key's signature, the enharmonic choice nearest 0."""
    tonic, mode = key_tonic_mode(index)
    major_tonic = (tonic + 3) % 12 if mode == "minor" else tonic
    return int(_FIFTHS[major_tonic])


@functools.lru_cache(maxsize=1)
def log_profiles() -> np.ndarray:
    """``(24, 12)`` log-probabilities of each pitch class in each key.

    The Temperley-Kostka-Payne profiles (music21's ``TemperleyKostkaPayne``: how often each
    scale degree sounds in textbook excerpts), normalised to sum to one and rotated to
    every tonic. A C in C major is likely (log ~ -1.9), a C# rare (~ -4.5).
    """
    from music21.analysis.discrete import TemperleyKostkaPayne
    weights = TemperleyKostkaPayne()
    out = np.zeros((N_KEYS, 12))
    for m, mode in enumerate(("major", "minor")):
        base = np.asarray(weights.getWeights(mode), dtype=float)
        base = base / base.sum()
        for tonic in range(12):
            out[tonic + 12 * m] = np.log(np.roll(base, tonic))
    return out


@functools.lru_cache(maxsize=1)
def relation_cost() -> np.ndarray:
    """``(24, 24)`` extra cost of moving from one key to another, 0 on the diagonal.

    A modulation to a closely related key (the relative key, or one accidental apart) is
    the common case and costs nothing extra; beyond that the cost grows with the distance
    of the key signatures on the circle of fifths (plus a half step for leaving the
    related keys), so that a far key needs more evidence. Parallel keys (A major / A
    minor, three accidentals apart) cost 2.5.
    """
    out = np.zeros((N_KEYS, N_KEYS))
    for a in range(N_KEYS):
        for b in range(N_KEYS):
            if a == b:
                continue
            d = abs(signature_sharps(a) - signature_sharps(b))
            d = min(d, 12 - d)
            out[a, b] = max(d - 1, 0) + (0.0 if d <= 1 else 0.5)
    return out
