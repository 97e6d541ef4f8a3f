"""The time/pitch grid that bars of piano-roll live on.

The defaults follow the paper: a 4/4 bar of 16 sixteenth-note steps, MIDI pitches 24-101
(C1-F7, 78 pitches), two planes per cell (``play``: the pitch sounds in this step;
``articulate``: the pitch starts in this step). A bar array therefore has shape
``(steps, pitches, 2)`` and a flattened model input has ``16 * 78 * 2 = 2496`` values.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from fractions import Fraction

from .errors import ParameterError

PLAY = 0
ARTICULATE = 1


@dataclass(frozen=True)
class Grid:
    """A bar grid.

    Example: ``Grid()`` is the paper's grid (4/4, sixteenths, MIDI 24-101);
    ``Grid(beats=3, steps_per_beat=4)`` is a 3/4 grid of sixteenths.
    """

    beats: int = 4
    beat_type: int = 4
    steps_per_beat: int = 4
    low_pitch: int = 24
    high_pitch: int = 101  # inclusive

    def __post_init__(self) -> None:
        if not (1 <= self.beats <= 32):
            raise ParameterError(f"grid beats={self.beats}: must be 1-32")
        if self.beat_type not in (1, 2, 4, 8, 16, 32):
            raise ParameterError(f"grid beat_type={self.beat_type}: must be a power of two 1-32")
        if not (1 <= self.steps_per_beat <= 48):
            raise ParameterError(f"grid steps_per_beat={self.steps_per_beat}: must be 1-48")
        if not (0 <= self.low_pitch <= self.high_pitch <= 127):
            raise ParameterError(
                f"grid pitches {self.low_pitch}-{self.high_pitch}: need 0 <= low <= high <= 127")

    @property
    def steps(self) -> int:
        """Steps per bar (16 for the paper's grid)."""
        return self.beats * self.steps_per_beat

    @property
    def pitches(self) -> int:
        """Number of pitch rows (78 for the paper's grid)."""
        return self.high_pitch - self.low_pitch + 1

    @property
    def input_size(self) -> int:
        """Length of one flattened bar: steps x pitches x 2 (2496 for the paper's grid)."""
        return self.steps * self.pitches * 2

    @property
    def time_signature(self) -> str:
        """The meter as music21 writes it, e.g. ``'4/4'``."""
        return f"{self.beats}/{self.beat_type}"

    @property
    def step_quarter_length(self) -> Fraction:
        """Length of one step in quarter notes (1/4 for sixteenths in 4/4)."""
        return Fraction(4, self.beat_type) / self.steps_per_beat

    @property
    def bar_quarter_length(self) -> Fraction:
        """Length of one bar in quarter notes (4 for 4/4)."""
        return Fraction(4 * self.beats, self.beat_type)

    def to_dict(self) -> dict:
        """Plain dict for JSON headers and metadata."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Grid":
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ParameterError(f"unknown grid fields {sorted(unknown)}; known: {sorted(known)}")
        return cls(**data)


DEFAULT_GRID = Grid()
