"""The errors a user can meet.

Every error says what was wrong, where (file, bar, part) and what to do. The command line
prints ``str(error)`` on one line and exits with status 2.
"""

from __future__ import annotations


class QbdiError(Exception):
    """Base class of every error this package raises on purpose."""


class InputError(QbdiError):
    """A score, MIDI file or corpus that cannot be read or does not fit the grid."""


class ParameterError(QbdiError, ValueError):
    """A parameter value outside its allowed range or set."""


class ModelError(QbdiError):
    """A checkpoint that is missing, corrupt, tampered with or of another format/grid."""


class OutputError(QbdiError):
    """An output that cannot be written (existing input in the way, no permission...)."""
