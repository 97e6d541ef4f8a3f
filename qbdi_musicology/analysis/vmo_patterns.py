"""Repeated patterns (motifs) in a Variable Markov Oracle.

:func:`repeated_patterns` is the pattern finder of ``vmo`` (``find_repeated_patterns`` in
``vmo/analysis/analysis.py``) rewritten over this package's :class:`Oracle` arrays; it
returns the same patterns in the same order. :func:`motifs` turns them into musical motifs:
each with a length in frames and the frames where its statements start.

How the finder reads the oracle: walking back from the last frame, a frame whose suffix
link points to an earlier frame with a long enough repeated suffix (LRS) ends a repetition
of something heard before; the frames that share that suffix link (reverse suffix links)
are the other statements of the same pattern, and the shortest common LRS is its length.

Example: in a chorale whose first two phrases end with the same cadence, the cadence is a
pattern with two end frames and a length of a few beats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from string import ascii_uppercase

from ..errors import ParameterError
from .vmo_engine import Oracle


def repeated_patterns(oracle: Oracle, lower: int = 1) -> list[tuple[list[int], int]]:
    """vmo's patterns: ``[(end states, length), ...]`` with length mostly above ``lower``.

    End states are oracle states (state ``s`` is frame ``s - 1``), listed as vmo lists them
    (not sorted, possibly repeated). Identical to
    ``vmo.analysis.find_repeated_patterns(vmo_oracle, lower)`` for the same oracle.
    """
    lower = max(int(lower), 0)
    sfx, lrs = oracle.sfx, oracle.lrs
    patterns: list[list] = []
    prev_sfx = -1
    for i in range(oracle.n_frames, lower + 1, -1):
        s = int(sfx[i])
        rsfx = oracle.reverse_suffixes(i).tolist()
        found = False
        if s != 0 and lrs[i] > lower:
            for p in patterns:
                ends, length = p
                # a state strictly inside one of the pattern's statements cannot start another
                if any(e - length < i < e for e in ends):
                    continue
                if s in ends:
                    ends.append(i)
                    p[1] = min(length, int(lrs[i]))
                    found = True
                    break
                found = False
            if prev_sfx - s != 1 and not found:
                if rsfx:
                    ends = rsfx + [i, s]
                    length = min(int(lrs[e]) for e in ends[:-1])
                    if i - length + 1 < s:
                        length = i - s
                    if length > lower:
                        patterns.append([ends, length])
                else:
                    if i - lrs[i] + 1 < s:
                        patterns.append([[i, s], i - s])
                    else:
                        patterns.append([[i, s], int(lrs[i])])
            prev_sfx = s
        else:
            prev_sfx = -1
    return [(ends, int(length)) for ends, length in patterns]


@dataclass(frozen=True)
class Occurrence:
    """One statement of a motif: frames ``start`` .. ``start + length - 1`` (0-based)."""

    label: str
    start: int
    length: int

    @property
    def stop(self) -> int:
        """One past the last frame."""
        return self.start + self.length


@dataclass
class Motif:
    """A motif: a label ("A"), a length in frames and its statements in time order."""

    label: str
    length: int
    occurrences: list[Occurrence] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.occurrences)


def motif_label(index: int) -> str:
    """``0 -> 'A'``, ``25 -> 'Z'``, ``26 -> 'AA'``: spreadsheet-style motif names."""
    label = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        label = ascii_uppercase[rem] + label
    return label


def motifs(oracle: Oracle, min_length: int = 2, min_repeats: int = 2) -> list[Motif]:
    """Motifs of at least ``min_length`` frames stated at least ``min_repeats`` times.

    vmo's patterns (``lower = min_length - 1``) with their end states made unique and
    turned into start frames; motifs are named A, B, C... in order of first statement and
    statements A1, A2... in time order. Statements of one motif may overlap (a sequence
    that repeats a bar-long figure three times in a row has overlapping statements of the
    two-bar pattern): they are kept, as vmo reports them.

    Example: ``motifs(oracle, min_length=4, min_repeats=2)`` on beat chroma lists the
    harmonic patterns of at least one 4/4 bar that come back.
    """
    if min_length < 1:
        raise ParameterError(f"min_length={min_length}: a motif is at least 1 frame long")
    if min_repeats < 2:
        raise ParameterError(f"min_repeats={min_repeats}: a motif repeats, so at least 2")
    found = []
    for ends, length in repeated_patterns(oracle, lower=min_length - 1):
        if length < min_length:
            continue
        starts = sorted({int(e) - length for e in ends if int(e) - length >= 0})
        if len(starts) >= min_repeats:
            found.append((starts, length))
    found.sort(key=lambda item: (item[0][0], -item[1]))
    result = []
    for k, (starts, length) in enumerate(found):
        label = motif_label(k)
        result.append(Motif(label, length, [Occurrence(f"{label}{n + 1}", s, length)
                                            for n, s in enumerate(starts)]))
    return result
