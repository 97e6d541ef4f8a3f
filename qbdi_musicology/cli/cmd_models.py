"""``qbdi models list``: the shipped models (and the models in a folder)."""

from __future__ import annotations

import argparse

from .common import add_command


def register(subparsers) -> None:
    parser = add_command(subparsers, "models", help="list the shipped bar models",
                         example="qbdi models list")
    parser.add_argument("action", choices=["list"], help="what to do (list)")
    parser.add_argument("--folder", default=None, help="list the .qbdi files of this folder")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..checkpoint import list_models

    rows = list_models(args.folder)
    if not rows:
        print("no models found")
        return 0
    for row in rows:
        if "error" in row:
            print(f"{row['name']}: UNREADABLE: {row['error']}")
            continue
        mark = " (default)" if row.get("default") else ""
        print(f"{row['name']}{mark}: corpus {row['corpus']}, latent {row['latent']} "
              f"(harmony {row['harmony_dims']}, active {row['active_dims']}), "
              f"{row['steps']} steps, val loss {row['val_loss'] and round(row['val_loss'], 1)}, "
              f"sha256 {row['sha256']}, {row['size_mb']} MB")
        if row.get("description"):
            print(f"    {row['description']}")
        print(f"    {row['path']}")
    return 0
