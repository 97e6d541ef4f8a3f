"""The score <-> piano-roll bridge: musical facts, policies and the exact round trip."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from music21 import chord, clef, corpus, instrument, layout, meter, note, stream

from qbdi_musicology.errors import InputError, ParameterError
from qbdi_musicology.grid import ARTICULATE, DEFAULT_GRID, PLAY, Grid
from qbdi_musicology.pianoroll import (bars_to_score, canonical_bars, convert_score,
                                       empty_bars, estimate_key, score_to_bars,
                                       transpose_bars)

G = DEFAULT_GRID
LO = G.low_pitch


def _part(elements, ts="4/4", name=None, inst=None):
    """A part from (offset, element) pairs, with measures and ties made by music21."""
    p = stream.Part()
    if name:
        p.partName = name
    if inst is not None:
        p.insert(0, inst)
    p.insert(0, meter.TimeSignature(ts))
    for off, el in elements:
        p.insert(off, el)
    measured = p.makeMeasures()
    measured.makeTies(inPlace=True)
    if name:
        measured.partName = name
    return measured


def _score(*parts):
    s = stream.Score()
    for p in parts:
        s.insert(0, p)
    return s


def _on_sixteenth_grid(score):
    """True when every note starts and ends on a sixteenth (music21's own offsets)."""
    return all((float(n.offset) * 4).is_integer() and (float(n.quarterLength) * 4).is_integer()
               for n in score.flatten().notes)


def _chorales_44(limit, on_grid=True):
    """4/4 chorale settings of music21's corpus (by default only those on the 16th grid)."""
    out = []
    for path in corpus.getComposer("bach"):
        if not re.fullmatch(r"bwv\d+\.\d+\.(mxl|xml)", path.name):
            continue
        s = corpus.parse(path)
        sigs = {t.ratioString for t in s.recurse().getElementsByClass(meter.TimeSignature)}
        if sigs == {"4/4"} and (on_grid is None or _on_sixteenth_grid(s) == on_grid):
            out.append((path.name, s))
        if len(out) >= limit:
            break
    return out


# ------------------------------------------------------------------ musical facts


def test_whole_note_c_major_triad():
    s = _score(_part([(0, chord.Chord(["C4", "E4", "G4"], quarterLength=4))]))
    conv = convert_score(s)
    bars = conv.bars
    assert bars.shape == (1, 16, 78, 2) and bars.dtype == bool
    for midi in (60, 64, 67):
        assert bars[0, :, midi - LO, PLAY].all()
        assert bars[0, :, midi - LO, ARTICULATE].tolist() == [True] + [False] * 15
    assert bars[..., PLAY].sum() == 48
    assert conv.report.notes_read == 3 and conv.report.changes() == []


def test_repeated_note_differs_from_held_note():
    held = score_to_bars(_score(_part([(0, note.Note("C4", quarterLength=4))])))
    repeated = score_to_bars(_score(_part([(0, note.Note("C4", quarterLength=2)),
                                           (2, note.Note("C4", quarterLength=2))])))
    assert (held[..., PLAY] == repeated[..., PLAY]).all()
    assert np.nonzero(repeated[0, :, 60 - LO, ARTICULATE])[0].tolist() == [0, 8]
    assert np.nonzero(held[0, :, 60 - LO, ARTICULATE])[0].tolist() == [0]


def test_tie_over_the_barline_is_held_not_struck():
    # A whole-note G4 starting on beat 3: music21 splits it into two tied half notes.
    s = _score(_part([(0, note.Note("C4", quarterLength=2)), (2, note.Note("G4", quarterLength=4))]))
    bars = score_to_bars(s)
    assert bars.shape[0] == 2
    g = 67 - LO
    assert bars[0, 8:, g, PLAY].all() and bars[0, 8, g, ARTICULATE]
    assert bars[1, :8, g, PLAY].all() and not bars[1, :, g, ARTICULATE].any()
    assert not bars[1, 8:, g, PLAY].any()
    # And back: the score has a tie start in bar 1 and a tie stop in bar 2.
    out = bars_to_score(bars, staves="one")
    gs = [n for n in out.recurse().notes if n.pitch.midi == 67]
    assert [n.tie.type for n in gs] == ["start", "stop"]
    assert [n.measureNumber for n in gs] == [1, 2]


def test_written_chords_and_measures():
    bars = empty_bars(2)
    for midi in (60, 64, 67):  # C major half note on beat 1 of bar 1
        bars[0, 0:8, midi - LO, PLAY] = True
        bars[0, 0, midi - LO, ARTICULATE] = True
    bars[1, 4:8, 43 - LO, PLAY] = True  # G2 quarter on beat 2 of bar 2
    bars[1, 4, 43 - LO, ARTICULATE] = True
    score = bars_to_score(bars, tempo=90, title="Test")
    treble, bass = score.parts
    assert isinstance(treble, stream.PartStaff) and isinstance(bass, stream.PartStaff)
    group = score.getElementsByClass(layout.StaffGroup).first()
    assert group.symbol == "brace" and len(group.getSpannedElements()) == 2
    assert isinstance(treble.recurse().getElementsByClass(clef.Clef).first(), clef.TrebleClef)
    assert isinstance(bass.recurse().getElementsByClass(clef.Clef).first(), clef.BassClef)
    m1 = treble.getElementsByClass(stream.Measure).first()
    c = m1.notes.first()
    assert isinstance(c, chord.Chord) and c.commonName == "major triad" and c.root().name == "C"
    assert c.quarterLength == 2 and c.offset == 0
    assert m1.timeSignature.ratioString == "4/4"
    g2 = bass.getElementsByClass(stream.Measure)[1].notes.first()
    assert g2.nameWithOctave == "G2" and g2.offset == 1 and g2.quarterLength == 1
    assert score.metadata.title == "Test"
    assert len(score.recurse().getElementsByClass("MetronomeMark")) == 1
    assert len(treble.getElementsByClass(stream.Measure)) == 2


def test_syncopation_is_split_at_the_beat():
    bars = empty_bars(1)
    bars[0, 1:8, 72 - LO, PLAY] = True  # C5 from the 2nd sixteenth, 7 sixteenths long
    bars[0, 1, 72 - LO, ARTICULATE] = True
    notes = list(bars_to_score(bars).parts[0].recurse().notes)
    assert [n.quarterLength for n in notes] == [0.75, 1.0]
    assert [n.tie.type for n in notes] == ["start", "stop"]


# ------------------------------------------------------------------ round trips


def _bar_arrays(max_bars=3, grid=G):
    note_st = st.tuples(st.integers(0, max_bars * grid.steps - 1), st.integers(1, 24),
                        st.integers(0, grid.pitches - 1))

    @st.composite
    def build(draw):
        n_bars = draw(st.integers(1, max_bars))
        roll = np.zeros((n_bars * grid.steps, grid.pitches, 2), dtype=bool)
        for start, length, row in draw(st.lists(note_st, max_size=30)):
            start %= n_bars * grid.steps
            roll[start:start + length, row, PLAY] = True
            roll[start, row, ARTICULATE] = True
        return roll.reshape(n_bars, grid.steps, grid.pitches, 2)

    return build()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bars=_bar_arrays(), staves=st.sampled_from(["grand", "one"]),
       key=st.sampled_from([None, "auto", "E-", "c#"]))
def test_round_trip_of_generated_bars(bars, staves, key):
    assert (canonical_bars(bars) == bars).all()
    back = score_to_bars(bars_to_score(bars, staves=staves, key=key))
    assert back.shape == bars.shape
    assert (back == bars).all()


@settings(max_examples=20, deadline=None)
@given(bars=_bar_arrays(max_bars=2, grid=Grid(beats=3, steps_per_beat=3)))
def test_round_trip_in_a_triplet_3_4_grid(bars):
    grid = Grid(beats=3, steps_per_beat=3)
    back = score_to_bars(bars_to_score(bars, grid, staves="one"), grid)
    assert (back == bars).all()


@settings(max_examples=30, deadline=None)
@given(bars=st.builds(lambda seed: np.random.default_rng(seed).random((2, 16, 78, 2)) < 0.05,
                      st.integers(0, 2**32 - 1)))
def test_any_array_reads_back_as_its_canonical_form(bars):
    back = score_to_bars(bars_to_score(bars))
    assert (back == canonical_bars(bars)).all()
    assert not (back[..., ARTICULATE] & ~back[..., PLAY]).any()


def _oracle_cells(score, shift_ql):
    """(step, midi) sounding and struck, computed by music21's own tie merging."""
    sounding, struck = set(), set()
    for part in score.parts:
        for n in part.stripTies().flatten().notes:
            on = round((float(n.offset) + shift_ql) * 4)
            end = round((float(n.offset) + shift_ql + float(n.quarterLength)) * 4)
            for p in n.pitches:
                struck.add((on, p.midi))
                sounding.update((s, p.midi) for s in range(on, end))
    return sounding, struck


def _cells(bars, plane):
    idx = np.argwhere(bars[..., plane])
    return {(int(b) * 16 + int(s), int(r) + LO) for b, s, r in idx}


@pytest.fixture(scope="module")
def chorales():
    return _chorales_44(50)


def test_round_trip_of_50_bach_chorales(chorales):
    assert len(chorales) == 50  # 4/4, every note on the sixteenth grid
    for i, (name, score) in enumerate(chorales):
        conv = convert_score(score, source=name)
        shift = conv.report.pickup_shift_steps / 4
        sounding, struck = _oracle_cells(score, shift)
        # Same pitches, onsets and durations as music21 reads them.
        assert _cells(conv.bars, PLAY) == sounding, name
        assert _cells(conv.bars, ARTICULATE) == struck, name
        assert conv.report.notes_folded == conv.report.onsets_snapped == 0, name
        staves = ("grand", "one")[i % 2]  # half the chorales in each layout
        back = score_to_bars(bars_to_score(conv.bars, staves=staves))
        assert back.shape == conv.bars.shape and (back == conv.bars).all(), (name, staves)


@pytest.mark.slow
def test_round_trip_of_all_4_4_bach_chorales():
    chorales = _chorales_44(10_000, on_grid=None)
    assert len(chorales) > 150
    for name, score in chorales:
        conv = convert_score(score)
        bars = conv.bars
        assert (score_to_bars(bars_to_score(bars)) == bars).all(), name
        # snapping is reported exactly when music21 has notes off the sixteenth grid
        assert bool(conv.report.onsets_snapped or conv.report.durations_snapped) == \
            (not _on_sixteenth_grid(score)), name


def test_chorale_with_32nd_notes_is_snapped_and_reported():
    score = corpus.parse("bach/bwv161.6")  # the recorders play 32nd-note figures
    conv = convert_score(score)
    assert conv.report.onsets_snapped > 0 and conv.report.durations_snapped > 0
    assert conv.report.parts_read[0] == "Recorders"
    assert (score_to_bars(bars_to_score(conv.bars)) == conv.bars).all()


def test_round_trip_through_a_musicxml_file(tmp_path, chorales, assert_valid_musicxml):
    from music21 import converter

    name, score = chorales[0]
    bars = score_to_bars(score)
    path = tmp_path / "rt.musicxml"
    bars_to_score(bars, title=name).write("musicxml", fp=path)
    assert_valid_musicxml(path)
    again = converter.parse(path)
    assert (score_to_bars(again) == bars).all()


@pytest.mark.musescore
def test_round_trip_opens_in_musescore(tmp_path, chorales, musescore):
    name, score = chorales[1]
    path = tmp_path / "rt.musicxml"
    bars_to_score(score_to_bars(score), title=name).write("musicxml", fp=path)
    result = musescore(path, tmp_path / "rt.png")
    assert result.ok, result


# ------------------------------------------------------------------ policies


def test_pickup_bar_is_placed_before_the_first_downbeat():
    score = corpus.parse("bach/bwv66.6")  # 4/4 with a one-beat upbeat
    conv = convert_score(score)
    assert conv.report.pickup_quarters == 1.0 and conv.report.pickup_shift_steps == 12
    assert not conv.bars[0, :12, :, PLAY].any() and conv.bars[0, 12, :, ARTICULATE].any()
    # the soprano's first downbeat note (bar 1 of the score) is on step 0 of bar array 1
    sop = score.parts[0].getElementsByClass(stream.Measure)[1].notes.first()
    assert conv.bars[1, 0, sop.pitch.midi - LO, ARTICULATE]
    assert "pickup" in conv.report.summary()


def test_out_of_range_notes_fold_drop_or_fail():
    s = _score(_part([(0, note.Note(108, quarterLength=4)),  # C8, above F7
                      (4, note.Note(12, quarterLength=4))]))  # C0, below C1
    folded = convert_score(s)
    assert folded.report.notes_folded == 2
    # C8 -> C7 (96), C0 -> C1 (24): the pitch class stays C
    assert folded.bars[0, 0, 96 - LO, ARTICULATE] and folded.bars[1, 0, 24 - LO, ARTICULATE]
    dropped = convert_score(s, out_of_range="drop")
    assert dropped.report.notes_dropped == 2 and not dropped.bars.any()
    assert dropped.bars.shape[0] == 2  # the bars themselves are kept, silent
    with pytest.raises(InputError, match="outside the grid"):
        convert_score(s, out_of_range="error")
    with pytest.raises(ParameterError):
        convert_score(s, out_of_range="ignore")


def test_triplets_are_snapped_and_counted():
    trip = [note.Note(p, quarterLength=1 / 3) for p in (60, 62, 64)]
    elements = [(i / 3, n) for i, n in enumerate(trip)] + [(1, note.Note(65, quarterLength=3))]
    conv = convert_score(_score(_part(elements)))
    # 0, 1/3, 2/3 quarters -> steps 0, 1, 3 (nearest sixteenth)
    starts = {int(r) + LO: int(s) for s, r in np.argwhere(conv.bars[0, :, :, ARTICULATE])}
    assert starts == {60: 0, 62: 1, 64: 3, 65: 4}
    assert conv.report.onsets_snapped == 2 and conv.report.durations_snapped >= 2
    assert "off the grid" in conv.report.summary()


def test_parts_are_merged_or_selected():
    sop = _part([(0, note.Note("E5", quarterLength=4))], name="Soprano")
    bass = _part([(0, note.Note("C3", quarterLength=4))], name="Bass")
    s = _score(sop, bass)
    both = convert_score(s)
    assert both.report.parts_read == ("Soprano", "Bass")
    assert both.bars[0, 0, 76 - LO, ARTICULATE] and both.bars[0, 0, 48 - LO, ARTICULATE]
    only_bass = convert_score(s, parts=["bass"])
    assert only_bass.report.parts_read == ("Bass",)
    assert only_bass.report.parts_skipped == (("Soprano", "not selected"),)
    assert not only_bass.bars[..., 76 - LO, :].any()
    assert (convert_score(s, parts=[0]).bars[..., 48 - LO, :] == False).all()  # noqa: E712
    with pytest.raises(InputError, match="no part named 'Tenor'"):
        convert_score(s, parts=["Tenor"])
    with pytest.raises(InputError, match="no part 5"):
        convert_score(s, parts=[5])


def test_drum_parts_are_skipped():
    piano = _part([(0, note.Note("C4", quarterLength=4))], name="Piano")
    kit = _part([(0, note.Unpitched(quarterLength=1)), (1, note.Unpitched(quarterLength=1))],
                name="Drums", inst=instrument.BassDrum())
    conv = convert_score(_score(piano, kit))
    assert conv.report.parts_read == ("Piano",)
    assert conv.report.parts_skipped[0][0] == "Drums" and "drums" in conv.report.parts_skipped[0][1]
    assert conv.bars[..., PLAY].sum() == 16


def test_three_four_maps_onto_the_grid_unless_strict():
    waltz = _score(_part([(0, note.Note("C4", quarterLength=3))], ts="3/4"))
    with pytest.raises(InputError, match="3/4 does not match the 4/4 grid"):
        score_to_bars(waltz, source="waltz.xml", meter="strict")
    # the default: one 3/4 bar is one model bar, its dotted half held over all 16 steps
    conv = convert_score(waltz)
    assert conv.bars.shape == (1, 16, 78, 2) and conv.bars[0, :, 60 - LO, PLAY].all()
    assert conv.report.meters_mapped == ("3/4",) and "one model bar per bar" in \
        conv.report.summary()
    bars = score_to_bars(waltz, Grid(beats=3))
    assert bars.shape == (1, 12, 78, 2) and bars[0, :, 60 - LO, PLAY].all()


def test_rebar_cuts_other_meters_into_grid_bars():
    # four 2/4 bars of quarter notes C D E F G A B C: two 4/4 bars
    pitches = [60, 62, 64, 65, 67, 69, 71, 72]
    march = _score(_part([(i, note.Note(p, quarterLength=1)) for i, p in enumerate(pitches)],
                         ts="2/4"))
    assert convert_score(march).bars.shape[0] == 4  # by default one model bar per 2/4 bar
    conv = convert_score(march, meter="rebar")
    assert conv.bars.shape[0] == 2 and conv.report.meters_rebarred == ("2/4",)
    assert [int(r) + LO for s, r in np.argwhere(conv.bars[1, :, :, ARTICULATE])] == pitches[4:]
    assert "cut into grid bars" in conv.report.summary()
    with pytest.raises(ParameterError):
        convert_score(march, meter="loose")


def test_grand_staff_splits_at_middle_c():
    bars = empty_bars(1)
    for midi in (59, 60):  # B3 below, C4 on the treble staff
        bars[0, :, midi - LO, PLAY] = True
        bars[0, 0, midi - LO, ARTICULATE] = True
    treble, bass = bars_to_score(bars).parts
    assert [n.nameWithOctave for n in treble.recurse().notes] == ["C4"]
    assert [n.nameWithOctave for n in bass.recurse().notes] == ["B3"]
    one = bars_to_score(bars, staves="one")
    assert len(one.parts) == 1 and len(one.recurse().notes) == 1
    with pytest.raises(ParameterError):
        bars_to_score(bars, staves="three")


def test_bad_bar_shapes_are_parameter_errors():
    with pytest.raises(ParameterError, match="does not fit the grid"):
        bars_to_score(np.zeros((1, 12, 78, 2), dtype=bool))


# ------------------------------------------------------------------ transposition


def test_transpose_moves_notes_and_folds_at_the_edges():
    bars = empty_bars(1)
    bars[0, 0:4, 60 - LO, PLAY] = bars[0, 0, 60 - LO, ARTICULATE] = True  # C4
    bars[0, 0:4, 100 - LO, PLAY] = bars[0, 0, 100 - LO, ARTICULATE] = True  # E7 (top is F7)
    up = transpose_bars(bars, 3)
    assert up[0, 0, 63 - LO, ARTICULATE]  # C4 -> E-flat 4
    assert up[0, 0, 91 - LO, ARTICULATE]  # E7 + 3 = G7 (103) is out of range -> G6
    assert up.sum() == bars.sum()
    assert (transpose_bars(transpose_bars(bars, -7), 7)[0, :, 60 - LO] == bars[0, :, 60 - LO]).all()


@settings(max_examples=30, deadline=None)
@given(bars=_bar_arrays(max_bars=2), k=st.integers(-11, 11))
def test_transposition_keeps_pitch_classes_and_canonical_form(bars, k):
    out = transpose_bars(bars, k)
    assert (canonical_bars(out) == out).all()

    def pc_steps(b):
        cells = np.argwhere(b[..., PLAY])
        return {(int(n), int(s), (int(r) + LO) % 12) for n, s, r in cells}

    assert pc_steps(out) == {(n, s, (pc + k) % 12) for n, s, pc in pc_steps(bars)}
    assert np.array_equal(transpose_bars(bars, 0), bars)


# ------------------------------------------------------------------ keys and spelling


def test_estimated_key_and_spelling_of_a_chorale():
    score = corpus.parse("bach/bwv66.6")  # F-sharp minor, three sharps
    bars = score_to_bars(score)
    k = score.analyze("Krumhansl")
    assert estimate_key(bars) == (k.tonic.pitchClass, k.mode)
    out = bars_to_score(bars, key="auto")
    sig = out.parts[0].recurse().getElementsByClass("KeySignature").first()
    assert sig.sharps == 3
    names = {n.name for n in out.recurse().notes for n in (n.notes if n.isChord else [n])}
    # the leading tone of F-sharp minor is E-sharp, not F; no flats in a sharp key
    assert "E#" in names and "F" not in names and not any("-" in n for n in names)
    assert (score_to_bars(out) == bars).all()


def test_named_key_and_flat_spelling():
    bars = empty_bars(1)
    for midi in (63, 67, 70):  # E-flat major triad
        bars[0, :, midi - LO, PLAY] = True
        bars[0, 0, midi - LO, ARTICULATE] = True
    c = bars_to_score(bars, key="E-").parts[0].recurse().notes.first()
    assert [p.name for p in c.pitches] == ["E-", "G", "B-"]
    assert estimate_key(bars) == (3, "major")
    sharp = bars_to_score(transpose_bars(bars, -2), key="c#").parts[0].recurse().notes.first()
    assert [p.name for p in sharp.pitches] == ["C#", "F", "G#"]
    with pytest.raises(ParameterError, match="not a key name"):
        bars_to_score(bars, key="H-dur")
    assert estimate_key(empty_bars(2)) == (0, "major")


def test_pitches_no_midi_key_has_are_errors():
    s = _score(_part([(0, note.Note("C15", quarterLength=4))]))
    with pytest.raises(InputError, match="pitch 192 is not a MIDI pitch"):
        convert_score(s, source="impossible")
