"""Rebuild ``qbdi_musicology/analysis/roman_params.json`` from public human analyses.

The Roman-numeral analyser (``qbdi_musicology.analysis.roman``) weighs each chord by how
usual it is in its key and after the chord before it. Those two tables are counted here
from RomanText analyses that ship with music21, and nothing else:

* the 48 Monteverdi madrigal analyses (``music21/corpus/monteverdi/*.rntxt``);
* 18 Bach chorale analyses (Riemenschneider 1-20 without 11 and 15, in
  ``music21/corpus/bach/choraleAnalyses``), the development set.

No other chorale analysis is read: other chorale analyses (When-in-Rome among them) are
kept to judge the analyser, never to build it.

Counted per chord, in its local key: the class ``degree of the root above the tonic x
triad quality`` (60 classes per mode), and for each pair of consecutive chords in the same
key the move from one class to the next. Repeated chords (the same numeral again) are one
chord. The file also records how many chords and key changes were seen.

    python analyses/learn_roman_params.py            # rewrites the shipped file
    python analyses/learn_roman_params.py --out x.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qbdi_musicology.analysis.roman import N_CLASSES, PARAMS_FILE, TRIADS  # noqa: E402

#: Riemenschneider numbers of the development chorales (11 and 15 are left out: their
#: analyses do not match the bar structure of music21's scores).
DEV_CHORALES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14, 16, 17, 18, 19, 20)


def analysis_files() -> list[str]:
    """The RomanText files counted, in a fixed order."""
    from music21 import corpus
    base = os.path.dirname(corpus.__file__)
    files = [os.path.join(base, "bach", "choraleAnalyses", f"riemenschneider{n:03d}.rntxt")
             for n in DEV_CHORALES]
    mdir = os.path.join(base, "monteverdi")
    files += [os.path.join(mdir, f) for f in sorted(os.listdir(mdir)) if f.endswith(".rntxt")]
    return files


def chord_sequence(path: str) -> list[tuple[int, int, str]]:
    """(key index, class, figure) of each chord of one analysis, in order."""
    from music21 import converter, roman
    s = converter.parse(path, format="romantext")
    out = []
    for rn in s.recurse().getElementsByClass(roman.RomanNumeral):
        k = rn.key
        if k is None:
            continue
        try:
            root = rn.root().pitchClass
            quality = rn.quality
        except Exception:  # an unreadable figure: skipped, as an analyst would query it
            continue
        triad = quality if quality in TRIADS else "other"
        key = k.tonic.pitchClass + (12 if k.mode == "minor" else 0)
        cls = ((root - k.tonic.pitchClass) % 12) * len(TRIADS) + TRIADS.index(triad)
        out.append((key, cls, rn.figure))
    return out


def count(files: list[str]) -> dict:
    uni = [[0] * N_CLASSES for _ in range(2)]
    bi = [[[0] * N_CLASSES for _ in range(N_CLASSES)] for _ in range(2)]
    chords = changes = 0
    for path in files:
        prev = None
        for key, cls, fig in chord_sequence(path):
            if prev is not None and prev[0] == key and prev[2] == fig:
                continue  # the same chord restated
            mode = 1 if key >= 12 else 0
            uni[mode][cls] += 1
            chords += 1
            if prev is not None and prev[0] == key:
                bi[mode][prev[1]][cls] += 1
            elif prev is not None:
                changes += 1
            prev = (key, cls, fig)
    return dict(
        description="Chord-class counts (degree of root x triad quality, per mode: 0 major, "
                    "1 minor) and class-to-class transition counts within a key, from the "
                    "RomanText analyses listed in 'sources'.",
        classes="index = degree * 5 + triad, triad in " + ", ".join(TRIADS),
        sources=[os.path.relpath(f, os.path.dirname(os.path.dirname(f))) for f in files],
        chords=chords, key_changes=changes,
        class_counts=uni, transition_counts=bi)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(PARAMS_FILE), help="output JSON (default: shipped)")
    a = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    data = count(analysis_files())
    text = json.dumps(data, separators=(",", ":"))
    tmp = Path(a.out).with_suffix(".tmp")
    tmp.write_text(text + "\n")
    os.replace(tmp, a.out)
    print(f"{data['chords']} chords, {data['key_changes']} key changes from "
          f"{len(data['sources'])} analyses -> {a.out} ({len(text) // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
