"""Shared fixtures: paths to the shared data, MusicXML checks, tiny seeded scores."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("QBDI_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder with pop_music_midi/ and visions_fugitives/; skips where absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def assert_valid_musicxml():
    """A function that fails the test when a file is not valid MusicXML 4.0."""
    from qbdi_musicology.validate import musicxml_errors

    def check(path):
        errors = musicxml_errors(path)
        assert not errors, f"{path} is not valid MusicXML 4.0: {errors[:5]}"

    return check


@pytest.fixture(scope="session")
def musescore():
    """A function that renders a file in MuseScore 3; skips where MuseScore is absent."""
    from qbdi_musicology.validate import mscore_binary, musescore_render

    if mscore_binary() is None:
        pytest.skip("MuseScore 3 (mscore3) not installed")
    return musescore_render
