"""Reproduce the shipped default model ``qbdi_musicology/models/pop-harmony.qbdi``.

Equivalent to the command (see docs/model.md)::

    qbdi train pop-music-midi --preset pop-harmony --threads 1 \\
        --out qbdi_musicology/models/pop-harmony.qbdi

The recipe (model size, harmony part, transposition, steps, seed, held-out songs) is the
``pop-harmony`` preset in ``qbdi_musicology/train.py``. Same seed and thread count give the
same file, byte for byte. Then ``qbdi evaluate --out eval/`` measures it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from qbdi_musicology.cli import main

OUT = Path(__file__).resolve().parents[1] / "qbdi_musicology" / "models" / "pop-harmony.qbdi"

if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else str(OUT)
    sys.exit(main(["train", "pop-music-midi", "--preset", "pop-harmony", "--threads", "1",
                   "--out", out] + sys.argv[2:]))
