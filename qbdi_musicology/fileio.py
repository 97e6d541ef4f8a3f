"""Atomic file output: write to a temporary file in the target folder, then rename.

A crash or Ctrl-C never leaves a half-written file under the final name, and an existing
file is replaced in one step. The temporary name carries the writer's process id, so the
next write to the same file removes what a killed writer left behind (``kill -9`` gives no
chance to clean up) without touching a temporary file that a running process still writes.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import OutputError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # someone else's process, or not a pid we can judge: leave it
    return True


def _remove_orphans(target: Path) -> None:
    """Delete temporary files of ``target`` whose writing process no longer exists."""
    prefix = f".{target.name}.pid"
    with contextlib.suppress(OSError):
        for entry in os.scandir(target.parent):
            name = entry.name
            if not (name.startswith(prefix) and ".part" in name):
                continue
            pid_text = name[len(prefix):].split(".", 1)[0]
            if pid_text.isdigit() and not _alive(int(pid_text)):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it to ``target`` on success.

    Example::

        with atomic_path("out/bwv66.musicxml") as tmp:
            score.write("musicxml", fp=tmp)
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create folder {target.parent}: {exc.strerror}") from exc
    _remove_orphans(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.pid{os.getpid()}.",
                               suffix=".part" + target.suffix, dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp makes owner-only files; outputs should be readable like any other file.
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()


def write_bytes_atomic(target: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically and return the final path."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def write_text_atomic(target: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``target`` atomically and return the final path."""
    return write_bytes_atomic(target, text.encode(encoding))


_CODE_FINGERPRINT: list[str] = []


def code_fingerprint() -> str:
    """sha256 (first 16 hex digits) of the package's Python files and shipped data.

    Caches and resumable results carry it, so that nothing made by other code is reused:
    after an upgrade (or any edit of the package) a corpus is parsed again and a batch's
    pieces analysed again, rather than read back as the old code made them.
    """
    if not _CODE_FINGERPRINT:
        import hashlib

        digest = hashlib.sha256()
        root = Path(__file__).resolve().parent
        for path in sorted(root.rglob("*")):
            if path.suffix in (".py", ".json") and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(root)).encode())
                digest.update(path.read_bytes())
        _CODE_FINGERPRINT.append(digest.hexdigest()[:16])
    return _CODE_FINGERPRINT[0]

