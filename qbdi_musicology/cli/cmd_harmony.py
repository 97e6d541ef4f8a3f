"""``qbdi harmony``: Roman-numeral analysis of one score, with local keys.

Written into ``--out`` (named after the piece):

* ``<piece>_roman.musicxml``: the score with the numerals under the bass at each chord
  change and the key at each modulation (``A: I``, ``E: V7``), for MuseScore;
* ``<piece>.rntxt``: the analysis as RomanText (music21 reads it back);
* ``<piece>_roman.csv``: one row per chord change, ``measure, beat, root, quality, roman,
  key`` and more columns (bass, cadential six-four, non-chord tones).

The piece is a MusicXML/MIDI file, ``corpus:NAME/PIECE`` (a corpus of ``qbdi corpus
list``) or a music21 corpus name such as ``bach/bwv347``.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import InputError, OutputError
from .common import add_command


def register(subparsers) -> None:
    parser = add_command(
        subparsers, "harmony",
        help="Roman-numeral analysis of one score with local keys: annotated MusicXML, "
             "RomanText and CSV",
        example="qbdi harmony bach/bwv347 --out harmony/")
    parser.add_argument("piece", help="a MusicXML/MIDI file, corpus:NAME/PIECE, or a music21 "
                                      "corpus name (bach/bwv347)")
    parser.add_argument("--out", required=True, help="output folder (created if needed)")
    parser.set_defaults(func=run)


def load_piece(text: str):
    """A score from a file path, ``corpus:NAME/PIECE`` or a music21 corpus name."""
    from ..pieces import resolve_query
    if text.startswith("corpus:") or Path(text).exists():
        return resolve_query(text)
    from music21 import corpus
    try:
        return corpus.parse(text)
    except Exception as exc:  # music21 raises several types for a name it does not know
        raise InputError(f"{text!r} is neither a file nor a music21 corpus piece; give a "
                         "MusicXML/MIDI path, corpus:NAME/PIECE or e.g. bach/bwv347") from exc


def _stem(text: str) -> str:
    name = Path(text.split(":", 1)[-1]).name
    for suffix in (".musicxml", ".mxl", ".xml", ".midi", ".mid"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name) or "piece"


def run(args) -> int:
    from ..analysis.roman import analyse_roman
    from ..analysis.romantext import to_romantext
    from ..annotate.roman import write_roman_musicxml
    from ..fileio import write_text_atomic

    out_dir = Path(args.out)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"--out {out_dir} is a file; give a folder")
    score = load_piece(args.piece)
    analysis = analyse_roman(score)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = _stem(args.piece)
    source = Path(args.piece).resolve() if Path(args.piece).exists() else None
    targets = {"musicxml": out_dir / f"{stem}_roman.musicxml",
               "rntxt": out_dir / f"{stem}.rntxt",
               "csv": out_dir / f"{stem}_roman.csv"}
    for target in targets.values():
        if source is not None and target.resolve() == source:
            raise OutputError(f"{target} is the input; choose another --out folder")
    write_roman_musicxml(score, analysis, targets["musicxml"])
    write_text_atomic(targets["rntxt"], to_romantext(analysis))
    table = analysis.chords.copy()
    # the six columns of the comparison format first (quality = the triad), then the rest
    extra = table.drop(columns=["measure", "beat", "root", "triad", "roman", "key"])
    frame = table[["measure", "beat", "root", "triad", "roman", "key"]].rename(
        columns={"triad": "quality"}).join(extra.rename(columns={"quality": "chord_type"}))
    write_text_atomic(targets["csv"], frame.to_csv(index=False))
    keys = analysis.keys()
    route = " -> ".join(f"{k.replace('-', 'b')} (m{m} b{b:g})" for m, b, k in
                        zip(keys["measure"], keys["beat"], keys["key"]))
    gk = analysis.global_key()
    print(f"key: {gk.tonic.name.replace('-', 'b')} {gk.mode}; local keys: {route}")
    print(f"{len(analysis.chords)} chords; wrote:")
    for target in targets.values():
        print(f"  {target}")
    return 0
