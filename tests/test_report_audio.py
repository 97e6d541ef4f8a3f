"""The demo's sound: as long as the score at its tempo, different per rate, small."""

from __future__ import annotations

import pytest

from qbdi_musicology.report.audio import audio_problem


@pytest.mark.skipif(audio_problem() is not None, reason="FluidSynth or a soundfont is missing")
def test_demo_audio_lasts_as_long_as_the_score_and_differs_by_rate(tmp_path):
    import soundfile
    from music21 import tempo

    from qbdi_musicology import bar_structure, load
    from qbdi_musicology.cli.cmd_demo import run_demo

    run_demo(tmp_path / "demo", rates=(float("inf"), 8.0, 0.0))
    media = tmp_path / "demo" / "report" / "media" / "bach-chorales_bwv66.6"
    chorale = load("corpus:bach-chorales/bwv66.6")
    bpm = next(iter(chorale.recurse().getElementsByClass(tempo.MetronomeMark))).getQuarterBPM()
    seconds = float(bar_structure(chorale).length) * 60.0 / bpm  # 36 quarters at 96: 22.5 s
    files = sorted(media.glob("*.mp3"))
    assert [f.name for f in files] == ["query.mp3", "rate-000.mp3", "rate-008.mp3",
                                       "rate-inf.mp3"]
    for path in files:
        duration = soundfile.info(str(path)).duration
        assert abs(duration - seconds) <= 0.05 * seconds, (path.name, duration, seconds)
    zero, full = (soundfile.read(str(media / name))[0] for name in
                  ("rate-000.mp3", "rate-inf.mp3"))
    assert zero.shape != full.shape or abs(zero - full).max() > 0.01  # other music
    assert sum(f.stat().st_size for f in files) < 5 * 1024 * 1024
