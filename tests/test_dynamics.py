"""Information dynamics of scores: beat/bar chroma, IR sweep, motifs, summaries, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from music21 import chord, corpus, meter, note, stream

from qbdi_musicology.analysis.dynamics import (MIN_FRAMES, Frames, analyse_frames,
                                               analyse_score, chroma_frames, ir_summary)
from qbdi_musicology.errors import InputError, ParameterError


@pytest.fixture(scope="module")
def bwv66():
    return corpus.parse("bach/bwv66.6")


@pytest.fixture(scope="module")
def bwv66_dynamics(bwv66):
    return analyse_score(bwv66, unit="beat", distance="tonnetz")


def _progression(chords, ts="4/4", quarter=1.0):
    """A one-part score of block chords, one per ``quarter`` quarter notes."""
    part = stream.Part()
    part.append(meter.TimeSignature(ts))
    for pitches in chords:
        part.append(chord.Chord(pitches, quarterLength=quarter) if pitches
                    else note.Rest(quarterLength=quarter))
    score = stream.Score([part])
    return score


def test_beat_chroma_of_a_chorale_matches_music21_chordify(bwv66):
    frames = chroma_frames(bwv66, unit="beat")
    # 4/4 with a one-beat pickup: the first frame is the pickup, bar 0, beat 4
    assert (frames.measures[0], frames.beats[0]) == (0, 4.0)
    assert (frames.measures[1], frames.beats[1]) == (1, 1.0)
    assert len(frames) == int(bwv66.highestTime)  # one frame per quarter-note beat
    chords = bwv66.chordify().flatten().notes
    for frame in range(len(frames)):
        start, end = frames.offsets[frame], frames.offsets[frame] + frames.durations[frame]
        sounding = {p.pitchClass for c in chords
                    if c.offset < end and c.offset + c.quarterLength > start for p in c.pitches}
        assert set(np.flatnonzero(frames.values[frame])) == sounding


def test_bar_chroma_is_the_sum_of_its_beats(bwv66):
    beats = chroma_frames(bwv66, unit="beat")
    bars = chroma_frames(bwv66, unit="bar")
    for k, bar in enumerate(bars.measures):
        assert np.allclose(bars.values[k], beats.values[beats.measures == bar].sum(axis=0))
    # four voices sound through the whole chorale: 4 quarter notes of pitch per beat
    assert np.allclose(beats.values.sum(axis=1), 4.0 * beats.durations)


def test_beats_follow_compound_meter():
    score = _progression([["C4", "E4", "G4"], ["G3", "B3", "D4"]] * 2, ts="6/8", quarter=1.5)
    frames = chroma_frames(score, unit="beat")
    assert len(frames) == 4 and np.allclose(frames.durations, 1.5)
    assert list(frames.beats) == [1.0, 2.0, 1.0, 2.0]
    assert frames.values[0, 0] == 1.5 and frames.values[1, 7] == 1.5  # C, then G


def test_chorale_dynamics_reproducible_and_motifs_repeat_harmony(bwv66_dynamics):
    result = bwv66_dynamics
    assert 0.0 < result.best_threshold < 1.0
    assert result.max_ir == result.ir_totals.max() > 0
    assert result.motifs, "bwv66.6 repeats harmonic patterns"
    symbols = result.oracle.symbols[1:]
    for motif in result.motifs:
        assert motif.length >= 4 and motif.count >= 2  # at least a bar, at least twice
        # every statement of a motif is the same sequence of harmonies (oracle symbols)
        assert len({tuple(symbols[o.start:o.stop]) for o in motif.occurrences}) == 1
        assert [o.label for o in motif.occurrences] == [f"{motif.label}{k + 1}"
                                                        for k in range(motif.count)]
    firsts = [m.occurrences[0].start for m in result.motifs]
    assert firsts == sorted(firsts)  # A is heard first


def test_vmo_engine_gives_the_same_analysis(bwv66, bwv66_dynamics):
    pytest.importorskip("vmo")
    slow = analyse_score(bwv66, unit="beat", distance="tonnetz", engine="vmo")
    assert np.array_equal(slow.ir_totals, bwv66_dynamics.ir_totals)
    assert slow.best_threshold == bwv66_dynamics.best_threshold
    assert [(m.label, m.length, [o.start for o in m.occurrences]) for m in slow.motifs] == \
        [(m.label, m.length, [o.start for o in m.occurrences]) for m in bwv66_dynamics.motifs]


def test_summary_and_tables(bwv66_dynamics):
    summary = ir_summary(bwv66_dynamics)
    assert summary["n_frames"] == 36 and summary["unit"] == "beat"
    assert summary["optimal_threshold"] == bwv66_dynamics.best_threshold
    assert summary["n_motifs"] == len(bwv66_dynamics.motifs)
    assert 0 < summary["motif_coverage"] <= 1 and not summary["ir_is_flat"]
    motifs = bwv66_dynamics.motif_table("bwv66.6")
    assert len(motifs) == sum(m.count for m in bwv66_dynamics.motifs)
    first = motifs.iloc[0]
    assert first["start_bar"] == bwv66_dynamics.frames.measures[first["start_frame"]]
    curve = bwv66_dynamics.curve_table("bwv66.6")
    assert len(curve) == 100 and curve["ir"].max() == summary["max_ir"]


def test_external_frames_cosine_latents():
    rng = np.random.default_rng(0)
    phrase = rng.normal(size=(4, 16))  # four bar latents, stated three times with noise
    latents = np.concatenate([phrase + 0.01 * rng.normal(size=phrase.shape) for _ in range(3)])
    result = analyse_frames(latents, distance="cosine", min_length=3)
    assert result.frames.unit == "frame" and len(result.frames) == 12
    assert result.oracle.n_symbols == 4  # the four bars are recognised at the best threshold
    (motif,) = [m for m in result.motifs if m.length >= 4]
    starts = [o.start for o in motif.occurrences]
    assert len(starts) >= 2 and set(starts) <= {0, 4, 8}  # statements of the phrase
    assert ir_summary(latents, distance="cosine")["n_symbols"] == 4


def test_constant_piece_is_flat_and_well_defined():
    score = _progression([["C4", "E4", "G4"]] * 12)
    result = analyse_score(score)
    assert result.ir_is_flat and result.max_ir == 0.0
    assert result.best_threshold == result.thresholds[0] == 0.0
    assert result.motifs == [] or all(m.count >= 2 for m in result.motifs)


def test_silence_counts_as_one_harmony_under_tonnetz():
    score = _progression([["C4", "E4", "G4"], [], ["G3", "B3", "D4"], []] * 3)
    frames = chroma_frames(score)
    assert (frames.values[1] == 0).all()
    result = analyse_score(score)
    symbols = result.oracle.symbols[1:]
    assert symbols[1] == symbols[3] == symbols[5]


def test_bad_input():
    with pytest.raises(InputError, match="at least"):
        analyse_score(_progression([["C4", "E4", "G4"]] * (MIN_FRAMES - 1)))
    with pytest.raises(ParameterError):
        chroma_frames(_progression([["C4"]] * 8), unit="phrase")
    bad = np.ones((8, 12))
    bad[3, 0] = np.nan
    with pytest.raises(InputError, match="frame 3"):
        analyse_frames(bad)
    with pytest.raises(ParameterError, match="empty"):
        analyse_frames(np.eye(12), thresholds=np.arange(0.5, 0.2, 0.1))
    with pytest.raises(ParameterError, match="negative"):
        analyse_frames(np.eye(12), thresholds=[-0.2, 0.1])
    with pytest.raises(ParameterError):
        analyse_frames(np.eye(12), min_repeats=1)
    with pytest.raises(ParameterError):
        analyse_frames(np.eye(12), engine="turbo")
    assert isinstance(Frames(np.eye(12)).where(3), str)


def test_query_staves_beside_an_improvisation_are_not_analysed():
    from qbdi_musicology.annotate.motifs import annotate_motifs
    improv = _progression([["C4", "E4", "G4"], ["F3", "A3", "C4"]] * 4).parts[0]
    improv.partName = "Improvisation"
    query = _progression([["F#4", "A#4", "C#5"]] * 8).parts[0]
    query.partName = "Query"
    score = stream.Score([improv, query])
    frames = chroma_frames(score)
    assert frames.parts == ["Improvisation"]
    assert set(np.flatnonzero(frames.values.sum(axis=0))) == {0, 4, 7, 5, 9}  # C E G F A
    result = analyse_score(score, min_length=2)
    assert result.motifs  # C-F-C-F... repeats
    marked = annotate_motifs(score, result)
    query_notes = marked.parts[1].recurse().notes
    assert all(n.style.color is None for n in query_notes)
    assert any(n.style.color for n in marked.parts[0].recurse().notes)
