"""Property tests (hypothesis) for the three promises the rest of the package leans on.

1. **Piano-roll round trip through files**: any bar array, written as a score to MusicXML
   (the project's writer) or MIDI and read back through the safe loader, gives back its
   canonical form -- every onset, every duration, every tie over a barline.
2. **Channel invariants** for any latents (tiny, huge, constant, one bar): bits are never
   negative and add up to the rate, the output is finite and of the input's shape, rate 0
   sends the channel mean and rate inf the latents themselves, the same seed gives the
   same numbers and a sweep equals its single rates.
3. **Chord labeller**: for any bar of notes, rests, clusters, ties and meters, it never
   crashes and gives every bar exactly one label; a bar without notes is ``N.C.``, a bar
   with notes never is.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from qbdi_musicology.grid import ARTICULATE, DEFAULT_GRID, PLAY, Grid

def slow_ok(max_examples: int) -> settings:
    """Settings for examples that each build and parse a score (no per-example deadline)."""
    return settings(max_examples=max_examples, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])


# ------------------------------------------------------------------------ 1. piano roll


@st.composite
def note_bars(draw, grid: Grid = DEFAULT_GRID, max_bars: int = 2, max_notes: int = 12):
    """A bar array of a few notes: (start step, length in steps, pitch row) each."""
    n_bars = draw(st.integers(1, max_bars))
    total = n_bars * grid.steps
    roll = np.zeros((total, grid.pitches, 2), dtype=bool)
    notes = draw(st.lists(st.tuples(st.integers(0, total - 1), st.integers(1, 2 * grid.steps),
                                     st.integers(0, grid.pitches - 1)), max_size=max_notes))
    for start, length, row in notes:
        roll[start:start + length, row, PLAY] = True
        roll[start, row, ARTICULATE] = True
    return roll.reshape(n_bars, grid.steps, grid.pitches, 2)


@pytest.mark.parametrize("suffix", [".musicxml", ".mxl", ".mid"])
@slow_ok(12)
@given(bars=note_bars(), staves=st.sampled_from(["grand", "one"]))
def test_piano_roll_round_trip_through_files(tmp_path_factory, suffix, bars, staves):
    from qbdi_musicology.musicxml import write_midi, write_musicxml
    from qbdi_musicology.pianoroll import bars_to_score, canonical_bars, score_to_bars
    from qbdi_musicology.scoreio import load_score

    folder = tmp_path_factory.mktemp("roundtrip")
    assume(bars[..., PLAY].any())  # a file of rests only is refused by the loader, rightly
    score = bars_to_score(bars, staves=staves, title="Round trip")
    path = folder / f"piece{suffix}"
    if suffix == ".mid":
        write_midi(score, path)
    else:
        write_musicxml(score, path)
    back = score_to_bars(load_score(path))
    expected = canonical_bars(bars)
    # MIDI has no bar lines: silent bars at the end of the piece are not in the file.
    assert back.shape[0] <= expected.shape[0]
    assert (back == expected[: back.shape[0]]).all(), (
        f"written (bar, step, row, plane): {np.argwhere(expected).tolist()}; "
        f"read back: {np.argwhere(back).tolist()}")
    assert not expected[back.shape[0]:, :, :, PLAY].any()
    if suffix != ".mid":
        assert back.shape == expected.shape


# ------------------------------------------------------------------------ 2. channel


finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@st.composite
def latents(draw):
    n_bars = draw(st.integers(1, 10))
    d = draw(st.integers(1, 12))
    mu = np.array(draw(st.lists(finite, min_size=n_bars * d, max_size=n_bars * d)),
                  dtype=float).reshape(n_bars, d)
    if draw(st.booleans()):  # a collapsed dimension: the same value in every bar
        mu[:, draw(st.integers(0, d - 1))] = draw(finite)
    logvar = np.array(draw(st.lists(st.floats(-12, 8), min_size=n_bars * d,
                                    max_size=n_bars * d)), dtype=float).reshape(n_bars, d)
    return mu, logvar


@slow_ok(150)
@given(z=latents(), rate=st.one_of(st.floats(0, 300), st.just(math.inf)),
       seed=st.integers(0, 2**31 - 1), variance=st.sampled_from(["query", "posterior", "prior"]),
       mean=st.sampled_from(["query", "posterior", "prior"]))
def test_channel_invariants(z, rate, seed, variance, mean):
    from qbdi_musicology.channel import ChannelOptions, allocate_bits, transmit, transmit_many

    mu, logvar = z
    options = ChannelOptions(variance=variance, mean=mean)
    result = transmit(mu, logvar, rate, seed=seed, options=options)
    assert result.z_hat.shape == mu.shape
    assert np.isfinite(result.z_hat).all()
    bits = result.bits
    assert (bits >= 0).all()
    if math.isinf(rate):
        assert np.array_equal(result.z_hat, result.z)
    else:
        if (result.source_variance > 0).any():
            assert math.isclose(bits.sum(), rate, rel_tol=1e-9, abs_tol=1e-9)
        else:
            assert bits.sum() == 0
        unsent = bits == 0
        assert np.array_equal(result.z_hat[:, unsent],
                              np.broadcast_to(result.channel_mean, mu.shape)[:, unsent])
        # Distortion per dimension follows D_i = s_i^2 * 4^(-b_i).
        assert np.allclose(result.distortion, result.source_variance * np.exp2(-2 * bits))
    if rate == 0:
        assert np.array_equal(result.z_hat, np.broadcast_to(result.channel_mean, mu.shape))
    again = transmit(mu, logvar, rate, seed=seed, options=options)
    assert np.array_equal(again.z_hat, result.z_hat)
    many = transmit_many(mu, logvar, [0.0, rate, math.inf], seed=seed, options=options)
    assert np.array_equal(many[1].z_hat, result.z_hat)
    # More bits never take bits away from a dimension.
    if not math.isinf(rate):
        more = allocate_bits(result.source_variance, rate + 1.5)
        assert (more >= bits - 1e-12).all()


# ------------------------------------------------------------------------ 3. chord labeller


PITCH_NAMES = ["C", "C#", "D", "E-", "E", "F", "F#", "G", "A-", "A", "B-", "B"]
METERS = ["4/4", "3/4", "2/4", "6/8", "5/4", "7/8", "2/2"]


@st.composite
def scores(draw):
    """A one- or two-part score: bars of chords, single notes, rests, ties and microtones."""
    from music21 import chord, meter, note, pitch, stream

    ts = draw(st.sampled_from(METERS))
    bar_ql = meter.TimeSignature(ts).barDuration.quarterLength
    n_bars = draw(st.integers(1, 4))
    score = stream.Score()
    sounding: list[set[int]] = [set() for _ in range(n_bars)]
    for _ in range(draw(st.integers(1, 2))):
        part = stream.Part()
        for b in range(n_bars):
            m = stream.Measure(number=b + 1)
            if b == 0:
                m.insert(0, meter.TimeSignature(ts))
            filled = 0.0
            while filled < bar_ql:
                ql = min(draw(st.sampled_from([0.25, 0.5, 1.0, 1.5, 2.0, 3.0])),
                         bar_ql - filled)
                kind = draw(st.sampled_from(["rest", "note", "chord", "cluster"]))
                if kind == "rest":
                    el = note.Rest(quarterLength=ql)
                else:
                    size = {"note": 1, "chord": 3, "cluster": 7}[kind]
                    pcs = draw(st.lists(st.integers(0, 11), min_size=size, max_size=size))
                    octaves = draw(st.lists(st.integers(1, 7), min_size=size, max_size=size))
                    heads = []
                    for pc, octave in zip(pcs, octaves):
                        p = pitch.Pitch(f"{PITCH_NAMES[pc]}{octave}")
                        if draw(st.integers(0, 9)) == 0:
                            p.microtone = 25  # a quarter-tone-ish inflection
                        heads.append(p)
                        sounding[b].add(pc)
                    el = note.Note(heads[0], quarterLength=ql) if size == 1 else \
                        chord.Chord(heads, quarterLength=ql)
                m.append(el)
                filled += ql
            part.append(m)
        score.insert(0, part)
    return score, sounding


@slow_ok(60)
@given(made=scores(), per=st.sampled_from(["bar", "beat"]),
       key=st.sampled_from([None, "C", "a", "F# minor"]))
def test_chord_labeller_never_crashes_and_always_labels(made, per, key):
    from qbdi_musicology.analysis.chords import label_chords

    score, sounding = made
    table = label_chords(score, per=per, key=key)
    assert len(table) >= len(sounding)
    assert table["chord_symbol"].map(lambda s: isinstance(s, str) and s != "").all()
    assert table["root_pc"].between(-1, 11).all()
    if per == "bar":
        assert list(table["bar"]) == list(range(1, len(sounding) + 1))
        for (_, row), pcs in zip(table.iterrows(), sounding):
            if pcs:
                assert row["chord_symbol"] != "N.C.", (row.to_dict(), pcs)
            else:
                assert row["chord_symbol"] == "N.C."
                assert row["root_pc"] == -1
