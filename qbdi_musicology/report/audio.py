"""Sound for the report: MIDI rendered with a General MIDI soundfont to MP3 a browser plays.

The synthesiser is FluidSynth, called as a program (Debian ``fluidsynth``, Homebrew
``fluid-synth``, or a FluidSynth release on Windows), with a General MIDI soundfont (Debian
``timgm6mb-soundfont``: 6 MB; any ``.sf2``/``.sf3`` named by ``$QBDI_SOUNDFONT`` works).
FluidSynth writes a WAV file offline (no sound card); ``soundfile`` (whose wheel carries
libsndfile with an MP3 encoder) turns it into a mono MP3 of about 100 kB for a chorale.
MP3 plays in every current browser, and its bytes depend only on the input, so the same
MIDI file gives the same MP3 (an Ogg stream carries a random serial number).

Without FluidSynth or a soundfont nothing is rendered and :func:`audio_problem` says in
one line what to install.

Example::

    if audio_problem() is None:
        render_midi("query.mid", "media/query.mp3")   # ~0.4 s for a 25-second chorale
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import OutputError
from ..fileio import atomic_path

log = logging.getLogger(__name__)

#: Where the usual installers put a General MIDI soundfont (Debian, Homebrew, MacPorts).
SOUNDFONTS = ("/usr/share/sounds/sf2/default-GM.sf2", "/usr/share/sounds/sf2/TimGM6mb.sf2",
              "/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf3/default-GM.sf3",
              "/usr/share/soundfonts/default.sf2", "/opt/homebrew/share/soundfonts/default.sf2",
              "/usr/local/share/soundfonts/default.sf2",
              "/opt/local/share/sounds/sf2/TimGM6mb.sf2")

#: Output sample rate (Hz) and channels: enough for a piano in a classroom, and it takes a
#: quarter of the encoding time of 44.1 kHz stereo (about 0.1 s for a chorale).
SAMPLE_RATE = 22050
CHANNELS = 1
#: FluidSynth's master gain (below clipping for dense chords); each file is then scaled
#: to the same peak level, a little under full scale, for the classroom's loudspeakers.
GAIN = 0.9
PEAK = 0.89
#: The sound files' suffix.
AUDIO_SUFFIX = ".mp3"


def find_soundfont() -> Path | None:
    """A General MIDI soundfont: ``$QBDI_SOUNDFONT`` if it names a file, else a usual place."""
    candidates = [os.environ.get("QBDI_SOUNDFONT", "")] + list(SOUNDFONTS)
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def find_synthesizer() -> str | None:
    """Path of the ``fluidsynth`` program, or None."""
    return shutil.which("fluidsynth")


def audio_problem() -> str | None:
    """None when sound can be rendered here; else one line saying what to install."""
    missing = []
    if find_synthesizer() is None:
        missing.append("FluidSynth")
    if find_soundfont() is None:
        missing.append("a General MIDI soundfont")
    if not missing:
        return None
    return (f"No audio: {' and '.join(missing)} not found (Debian: apt-get install "
            f"fluidsynth timgm6mb-soundfont; macOS: brew install fluid-synth; see "
            f"docs/teaching.md), so the pages show the scores without players.")


#: Sound kept after the last note ends (the piano's release), in seconds, faded out.
RELEASE_SECONDS = 0.4


def _trim_to_music(samples, rate: int, midi: Path):
    """The rendering cut to the music's length plus a short faded release.

    FluidSynth goes on for seconds after the last note-off (reverb and release); the
    player should last as long as the score at its tempo.
    """
    import mido
    import numpy as np

    try:
        length = float(mido.MidiFile(str(midi)).length)
    except Exception:  # noqa: BLE001 - a file FluidSynth read; keep its whole rendering
        return samples
    keep = int(round((length + RELEASE_SECONDS) * rate))
    if keep >= len(samples):
        return samples
    out = np.array(samples[:keep], copy=True)
    fade = min(len(out), int(RELEASE_SECONDS * rate))
    if fade > 0:
        ramp = np.linspace(1.0, 0.0, fade, dtype=out.dtype)
        out[-fade:] = out[-fade:] * (ramp if out.ndim == 1 else ramp[:, None])
    return out


def render_midi(midi: str | os.PathLike, target: str | os.PathLike, *,
                soundfont: str | os.PathLike | None = None, timeout: float = 120) -> Path:
    """Render ``midi`` to the MP3 file ``target`` (written atomically); return ``target``.

    Example: ``render_midi("rate-008.mid", "rate-008.mp3")`` gives the improvisation at
    8 bits per bar as a piano recording the report's player can play.
    Raises :class:`OutputError` when FluidSynth or the soundfont is missing or fails.
    """
    import soundfile

    midi, target = Path(midi), Path(target)
    binary = find_synthesizer()
    font = Path(soundfont) if soundfont is not None else find_soundfont()
    if binary is None or font is None:
        raise OutputError(f"cannot render {midi.name}: {audio_problem()}")
    with tempfile.TemporaryDirectory(prefix="qbdi-audio-") as work:
        wav = Path(work) / "render.wav"
        # -n no MIDI input, -i no shell, -q quiet; -F renders to a file as fast as it can.
        command = [binary, "-n", "-i", "-q", "-g", f"{GAIN:g}", "-r", str(SAMPLE_RATE),
                   "-F", str(wav), str(font), str(midi)]
        try:
            proc = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise OutputError(f"FluidSynth took longer than {timeout:g} s on {midi}") from exc
        if proc.returncode != 0 or not wav.is_file() or wav.stat().st_size <= 44:
            reason = proc.stderr.decode(errors="replace").strip()[-300:] or "no output"
            raise OutputError(f"FluidSynth could not render {midi}: {reason}")
        samples, rate = soundfile.read(wav, dtype="float32", always_2d=True)
    if CHANNELS == 1:
        samples = samples.mean(axis=1)
    samples = _trim_to_music(samples, rate, midi)
    peak = float(abs(samples).max()) if len(samples) else 0.0
    if peak > 0:
        samples = samples * (PEAK / peak)  # every file equally loud, none clipped
    with atomic_path(target) as tmp:
        soundfile.write(tmp, samples, rate, format="MP3", subtype="MPEG_LAYER_III")
    log.debug("rendered %s -> %s (%.1f s of sound)", midi.name, target.name,
              len(samples) / rate)
    return target
