"""Start Python code in a process of its own and kill it hard at a chosen moment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def kill_once_written(code: str, marker: Path, *, timeout: float,
                      cwd: Path | None = None) -> str:
    """Run ``python -c code``, SIGKILL its process group once ``marker`` exists; its stderr.

    The kill also comes when the process ends by itself or after ``timeout`` seconds, so a
    caller checks ``marker.exists()`` to know that the kill landed after that point.
    Example: kill a batch right after its first query wrote ``result.json``.
    """
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd)
    deadline = time.monotonic() + timeout
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return proc.stderr.read().decode()
