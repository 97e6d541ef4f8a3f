"""``qbdi corpus list`` and ``qbdi corpus info NAME``: the corpora and what they hold.

``list`` shows the named corpora (built-in and ``corpora/*.toml``) and where their files are.
``info`` reads a corpus (through the parse cache) and prints piece and bar counts, how many
files of each format are usable, what was changed while reading (notes moved to the grid or
into range), and every skipped file with its reason. ``--sample N`` reads N files drawn at
random, for a quick count of a big corpus (``qbdi corpus info music21 --sample 200``).
"""

from __future__ import annotations

import argparse
import logging
from collections import Counter, defaultdict

from .common import add_command

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    parser = add_command(
        subparsers, "corpus",
        help="list the named corpora, or count the pieces and bars of one",
        example="qbdi corpus info bach-chorales --transpose common")
    sub = parser.add_subparsers(dest="corpus_command", metavar="ACTION")
    lst = add_command(sub, "list", help="the named corpora and where their files are",
                      example="qbdi corpus list --data-dir ../shared/data")
    _data_arg(lst)
    lst.set_defaults(func=run_list)
    info = add_command(
        sub, "info",
        help="read a corpus (named, a folder or a file): pieces, bars, skipped files",
        example="qbdi corpus info pop-music-midi --data-dir ../shared/data --pieces")
    info.add_argument("name", help="a corpus name from 'qbdi corpus list', a folder or a file")
    _data_arg(info)
    info.add_argument("--meter", default=None,
                      help="read only pieces in this time signature (default: the corpus's, "
                           "else 'any': every piece, each bar one model bar); 'rebar' cuts "
                           "every piece into 4/4 bars")
    info.add_argument("--parts", default=None,
                      help="comma-separated part names or numbers from 0 (default: all "
                           "pitched parts merged)")
    info.add_argument("--transpose", choices=("none", "common", "all12"), default="none",
                      help="keys: as written, each piece to C major/A minor, or all 12 keys")
    info.add_argument("--limit", type=int, default=None, help="stop after this many pieces")
    info.add_argument("--sample", type=int, default=None, metavar="N",
                      help="read only N pieces drawn at random (see --seed): a quick count "
                           "of a big corpus, e.g. 'qbdi corpus info music21 --sample 200'")
    info.add_argument("--seed", type=int, default=0, help="seed of --sample (default 0)")
    info.add_argument("--abc-tunes", choices=("all", "first"), default="all",
                      help="ABC files of several tunes: every tune is a piece (NAME#N, N its "
                           "X: number; default), or only the first tune of each file")
    info.add_argument("--cache-dir", default=None,
                      help="parse cache folder (default $QBDI_CACHE or ~/.cache/qbdi-musicology)")
    info.add_argument("--no-cache", action="store_true", help="parse every file again")
    info.add_argument("--jobs", type=int, default=None,
                      help="processes for parsing files not yet cached (default: one per "
                           "core; 1 parses in this process)")
    info.add_argument("--pieces", action="store_true", help="list every piece with its bars")
    info.add_argument("--all-skipped", action="store_true",
                      help="list every skipped file (default: grouped by reason)")
    info.set_defaults(func=run_info)
    parser.set_defaults(func=lambda args: _usage(parser))


def _data_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default=None,
                        help="folder holding pop_music_midi/ and visions_fugitives/ "
                             "(default $QBDI_DATA, else ../shared/data next to the repository)")


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def run_list(args) -> int:
    from ..corpus import DEFAULT_CORPUS, manifests
    from ..errors import QbdiError

    rows = []
    for spec in manifests().values():
        try:
            files = spec.files(args.data_dir)
            where = f"{spec.root(args.data_dir)} ({len(files)} files)"
        except QbdiError:
            where = f"{spec.root(args.data_dir)} (not found: use --data-dir or QBDI_DATA)"
        default = "  [default]" if spec.name == DEFAULT_CORPUS else ""
        rows.append((spec.name, f"{spec.title}{default}", f"meter {spec.meter or 'any'}", where))
    width = max(len(r[0]) for r in rows)
    for name, title, meter, where in rows:
        print(f"{name:<{width}}  {title}")
        print(f"{'':<{width}}  {meter}; {where}")
    print("\nany folder or score file is a corpus too: qbdi corpus info path/to/folder")
    return 0


def run_info(args) -> int:
    from ..corpus import get_spec, load_corpus
    from ..workers import resolve_jobs

    parts = None
    if args.parts:
        parts = [int(p) if p.strip().isdigit() else p.strip() for p in args.parts.split(",")]
    spec = get_spec(args.name)
    result = load_corpus(
        args.name, meter=args.meter, parts=parts,
        transpose=None if args.transpose == "none" else args.transpose, limit=args.limit,
        progress=True, cache_dir=args.cache_dir, use_cache=not args.no_cache,
        data_dir=args.data_dir, workers=resolve_jobs(args.jobs), sample=args.sample, seed=args.seed,
        abc_tunes=args.abc_tunes)
    grid = result.grid
    print(f"{result.name}: {spec.title}")
    print(f"source: {spec.root(args.data_dir)}")
    print(f"grid: {grid.time_signature}, {grid.steps} steps x {grid.pitches} pitches "
          f"(MIDI {grid.low_pitch}-{grid.high_pitch}); meter filter {result.settings['meter']}; "
          f"parts {', '.join(map(str, parts)) if parts else 'all pitched, merged'}; "
          f"transpose {args.transpose}")
    if args.sample is not None and args.sample < result.corpus_pieces:
        print(f"read: a sample of {args.sample} of {result.corpus_pieces} pieces "
              f"(seed {args.seed})")
    if result.formats:
        print("formats: " + ", ".join(
            f"{suffix} {usable} of {read} usable"
            for suffix, (read, usable) in sorted(result.formats.items(),
                                                 key=lambda kv: -kv[1][0])))
    per_piece = Counter(result.piece.tolist())
    copies = len(set(result.transposition.tolist())) or 1
    mean = result.n_bars / max(1, result.n_pieces) / copies
    print(f"pieces: {result.n_pieces}   bars: {result.n_bars}"
          + (f" ({copies} keys)" if copies > 1 else "") + f"   bars per piece: {mean:.1f}")
    totals = Counter()
    for report in result.reports:
        for key in ("notes_read", "notes_folded", "notes_dropped", "onsets_snapped",
                    "durations_snapped", "grace_notes_skipped", "unpitched_skipped"):
            totals[key] += int(report.get(key, 0))
    changes = [f"{totals[k]} {label}" for k, label in (
        ("notes_folded", "notes folded into range"), ("notes_dropped", "notes dropped"),
        ("onsets_snapped", "onsets moved to the grid"),
        ("durations_snapped", "note ends moved to the grid"),
        ("grace_notes_skipped", "grace notes left out"),
        ("unpitched_skipped", "unpitched notes left out")) if totals[k]]
    print(f"notes: {totals['notes_read']}" + (f" ({'; '.join(changes)})" if changes else
                                                " (all read exactly)"))
    if args.pieces:
        for i, name in enumerate(result.pieces):
            print(f"  {name}  {per_piece[i] // copies} bars")
    if result.skipped:
        print(f"skipped: {len(result.skipped)} file(s)")
        if args.all_skipped:
            for name, reason in result.skipped:
                print(f"  {name}: {reason}")
        else:
            groups: dict[str, list[str]] = defaultdict(list)
            for name, reason in result.skipped:
                groups[reason].append(name)
            for reason, names in sorted(groups.items(), key=lambda kv: -len(kv[1])):
                shown = ", ".join(names[:4]) + (f", ... (+{len(names) - 4})" if len(names) > 4
                                                else "")
                print(f"  {len(names)} x {reason}: {shown}")
            if len(groups) and any(len(n) > 4 for n in groups.values()):
                print("  (--all-skipped lists them all)")
    print(f"fingerprint: {result.fingerprint}")
    print(f"read in {result.seconds:.2f} s ({result.cache_hits} file(s) from the cache)")
    return 0
