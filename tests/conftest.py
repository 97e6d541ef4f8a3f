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


@pytest.fixture(scope="module")
def torch_one_thread():
    """Torch on one thread for a module's tiny models: fastest, and no fight for cores.

    Use with ``pytestmark = pytest.mark.usefixtures("torch_one_thread")``.
    """
    from tiny_models import one_torch_thread

    with one_torch_thread():
        yield


@pytest.fixture(scope="session")
def chord_model(tmp_path_factory):
    """The tiny block-chord model of ``tests/tiny_models.py``, trained once per test run."""
    from tiny_models import one_torch_thread, tiny_chord_model

    with one_torch_thread():
        return tiny_chord_model(tmp_path_factory.mktemp("chord-model"))


@pytest.fixture
def analysis_calls(monkeypatch):
    """The names (``query``, ``improvisation at rate 8.0``...) of every chord analysis made.

    Every module that analyses a score gets a counting ``analyse_score``, so a test can
    check that each score is analysed once.
    """
    from qbdi_musicology.analysis import collisions, drift
    from qbdi_musicology.annotate import harmony

    calls: list = []
    original = collisions.analyse_score

    def counting(score, *args, **kwargs):
        calls.append(kwargs.get("name"))
        return original(score, *args, **kwargs)

    for module in (collisions, drift, harmony):
        monkeypatch.setattr(module, "analyse_score", counting)
    return calls
