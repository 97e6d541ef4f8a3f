#!/usr/bin/env python3
"""Classroom demonstration: one Bach chorale through the channel at several rates.

From the shipped model and a chorale that ships with music21 (no data to download), this
writes into one folder everything a lesson needs:

* ``query.mid`` and ``rate-*.mid``: the chorale and the improvisation at each rate, to play
  (and ``.wav`` files where ``fluidsynth`` and a General MIDI soundfont are installed);
* ``rate-*.musicxml`` and ``overview.musicxml``: the annotated scores for MuseScore;
* ``report/``: the figures, ``report.html`` (with the engraved scores and a player for each
  rate) and ``summary.md``;
* ``report/lesson.html``: the classroom page, a rate slider that switches the score, the
  sound and the numbers (works offline, from a USB stick, on a projector);
* ``lesson.txt``: what to say in class, step by step, with the numbers measured on this
  piece (also printed at the end). ``docs/teaching.md`` explains how to use it.

Example::

    python analyses/teaching_demo.py --out out/lesson
    python analyses/teaching_demo.py --piece bwv1.6 --rates inf,64,8,0 --out out/lesson2

It runs in well under five minutes on a laptop CPU; a second run reuses what exists.
"""

from __future__ import annotations

import argparse
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path


def find_soundfont() -> str | None:
    """A General MIDI soundfont: ``$QBDI_SOUNDFONT`` or a usual place, else None."""
    from qbdi_musicology.report.audio import find_soundfont as find

    found = find()
    return str(found) if found is not None else None


def midi_to_wav(midi: Path, wav: Path, soundfont: str) -> bool:
    """Render ``midi`` to ``wav`` with fluidsynth (no sound card needed); True on success."""
    binary = shutil.which("fluidsynth")
    if binary is None:
        return False
    from qbdi_musicology.fileio import atomic_path

    with atomic_path(wav) as tmp:
        proc = subprocess.run([binary, "-ni", "-g", "0.8", "-r", "44100", "-F", str(tmp),
                               soundfont, str(midi)], capture_output=True, timeout=300)
        if proc.returncode != 0 or tmp.stat().st_size == 0:
            raise RuntimeError(f"fluidsynth failed on {midi}: "
                               f"{proc.stderr.decode(errors='replace')[-300:]}")
    return True


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="teaching_demo.py",
        description="A Bach chorale through the channel at several rates, ready for class.",
        epilog="example:\n  python analyses/teaching_demo.py --out out/lesson",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="out/lesson", help="output folder")
    parser.add_argument("--piece", default="bwv66.6",
                        help="a chorale of music21's corpus (default: %(default)s)")
    parser.add_argument("--rates", default="inf,256,32,8,0",
                        help="bits per bar, 'inf' = full rate (default: %(default)s)")
    parser.add_argument("--model", default=None, help="model file (default: the shipped one)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-wav", action="store_true", help="do not render WAV files")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    from qbdi_musicology import batch
    from qbdi_musicology.rates import rate_file_name
    from qbdi_musicology.cli.common import parse_rates
    from qbdi_musicology.errors import QbdiError
    from qbdi_musicology.fileio import write_text_atomic
    from qbdi_musicology.musicxml import write_midi
    from qbdi_musicology.report.drift_report import teaching_script
    from qbdi_musicology.pieces import resolve_query

    started = time.perf_counter()
    out = Path(args.out)
    spec = f"corpus:bach-chorales/{args.piece}"
    try:
        rates = parse_rates(args.rates)
        summary = batch.run_batch([spec], out, rates=rates, model=args.model, seed=args.seed,
                                  options={"midi": True}, progress=False)
        if summary.failed:
            print(f"teaching_demo: error: {summary.failed[0].error}", file=sys.stderr)
            return 2
        record = summary.records[0]
        folder = batch.query_dir(out, record.query_id)
        query_mid = folder / "query.mid"
        if not query_mid.exists():
            write_midi(resolve_query(spec), query_mid)
    except QbdiError as exc:
        print(f"teaching_demo: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2

    listen = {rate: rate_file_name(rate, ".mid") for rate in rates}
    soundfont = None if args.no_wav else find_soundfont()
    wav_note = ""
    if args.no_wav:
        wav_note = "WAV not asked for (--no-wav)."
    elif shutil.which("fluidsynth") is None or soundfont is None:
        wav_note = ("No WAV files: install fluidsynth and a General MIDI soundfont "
                    "(Debian: apt-get install fluidsynth timgm6mb-soundfont) or play the MIDI "
                    "files in MuseScore.")
    else:
        for name in ["query.mid"] + [listen[r] for r in rates]:
            wav = (folder / name).with_suffix(".wav")
            if not wav.exists():
                midi_to_wav(folder / name, wav, soundfont)
        listen = {rate: Path(name).with_suffix(".wav").name for rate, name in listen.items()}
        wav_note = f"WAV files rendered with fluidsynth ({Path(soundfont).name})."

    rows = summary.table[summary.table["query_id"] == record.query_id]
    query_file = "query.wav" if (folder / "query.wav").exists() else "query.mid"
    lesson = teaching_script(rows, str(record.info.get("title", args.piece)), listen=listen,
                             query_file=query_file)
    write_text_atomic(folder / "lesson.txt", lesson)
    elapsed = time.perf_counter() - started

    print(f"Teaching demo for {spec}, rates "
          f"{', '.join('full' if math.isinf(r) else f'{r:g}' for r in rates)} bits/bar:")
    print(f"  sounds and scores: {folder}")
    print(f"  drift overview:    {folder / 'overview.musicxml'}"
          if (folder / "overview.musicxml").exists() else
          "  drift overview:    (not available in this installation)")
    print(f"  figures and page:  {summary.report_files.get('html')}")
    if "lesson" in summary.report_files:
        print(f"  classroom page:    {summary.report_files['lesson']}")
    if "overview" in summary.report_files:
        print(f"  overview picture:  {summary.report_files['overview']}")
    print(f"  {wav_note}")
    print(f"  done in {elapsed:.0f} s\n")
    print("What to say in class (also in lesson.txt):\n")
    print(lesson)
    return 0


if __name__ == "__main__":
    from qbdi_musicology.cli.common import configure_script_logging

    configure_script_logging()
    sys.exit(main())
