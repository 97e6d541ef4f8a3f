"""Named corpora, folder corpora with bad files, the parse cache, key normalisation."""

from __future__ import annotations


import numpy as np
import pytest
from music21 import corpus as m21corpus

from qbdi_musicology import corpus
from qbdi_musicology.corpus import (BUILTIN_MANIFESTS, estimate_key, find_piece,
                                    get_spec, load_corpus, manifests, shift_to_common_key)
from qbdi_musicology.errors import InputError, ParameterError
from qbdi_musicology.grid import ARTICULATE, DEFAULT_GRID, PLAY
from qbdi_musicology.pianoroll import score_to_bars

from test_scoreio import midi_bytes, musicxml_text

LO = DEFAULT_GRID.low_pitch


def _scale_tune(tonic: int, minor: bool = False):
    """Two bars: a scale up from the tonic, then the tonic triad (start beat, beats, pitch)."""
    steps = [0, 2, 3, 5, 7, 8, 10, 12] if minor else [0, 2, 4, 5, 7, 9, 11, 12]
    third = 3 if minor else 4
    notes = [(i * 0.5, 0.5, tonic + s) for i, s in enumerate(steps)]
    notes += [(4, 4, tonic), (4, 4, tonic + third), (4, 4, tonic + 7)]
    return notes


@pytest.fixture()
def mixed_folder(tmp_path):
    """A folder corpus with two good pieces and one file of each kind of bad input."""
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "a_tune.mid").write_bytes(midi_bytes(_scale_tune(67)))  # G major
    (folder / "b_chord.musicxml").write_text(musicxml_text("C chord", n_measures=2))
    (folder / "c_empty.mid").write_bytes(b"")
    (folder / "d_fake.mid").write_bytes(b"this is a shopping list")
    (folder / "e_cut.mid").write_bytes(midi_bytes(_scale_tune(60))[:40])
    (folder / "f_drums.mid").write_bytes(midi_bytes([(i, 1, 38) for i in range(8)], channel=9))
    (folder / "g_waltz.mid").write_bytes(midi_bytes([(0, 3, 60), (3, 3, 62)], ts=(3, 4)))
    (folder / "h_xxe.musicxml").write_text(musicxml_text("&x;").replace(
        '<!DOCTYPE score-partwise PUBLIC "-//Recordare//DTD MusicXML 4.0 Partwise//EN"\n'
        '  "http://www.musicxml.org/dtds/partwise.dtd">',
        '<!DOCTYPE score-partwise [<!ENTITY x SYSTEM "file:///etc/passwd">]>'))
    (folder / ".hidden.mid").write_bytes(b"junk")
    (folder / "notes.txt").write_text("not a score")
    return folder


def test_folder_with_bad_files_loads_the_good_ones(mixed_folder, tmp_path):
    result = load_corpus(mixed_folder, cache_dir=tmp_path / "cache", progress=False)
    # every meter is read: the waltz's two 3/4 bars are two model bars
    assert result.pieces == ["a_tune", "b_chord", "g_waltz"]
    assert result.n_bars == 6 and result.bars.shape == (6, 16, 78, 2)
    assert result.piece.tolist() == [0, 0, 1, 1, 2, 2]
    assert result.bar_numbers.tolist() == [1, 2, 1, 2, 1, 2]
    waltz = result.piece_bars("g_waltz")
    assert waltz[1, 0, 62 - LO, ARTICULATE] and waltz[1, :, 62 - LO, PLAY].all()
    reasons = dict(result.skipped)
    assert sorted(reasons) == ["c_empty", "d_fake", "e_cut", "f_drums", "h_xxe"]
    assert "empty" in reasons["c_empty"]
    assert "not a MIDI file" in reasons["d_fake"]
    assert "truncated or corrupt" in reasons["e_cut"]
    assert "only percussion" in reasons["f_drums"]
    assert "entities" in reasons["h_xxe"]
    four = load_corpus(mixed_folder, meter="4/4", cache_dir=tmp_path / "cache", progress=False)
    assert "3/4, not the corpus meter 4/4" in dict(four.skipped)["g_waltz"]
    # bar 2 of the MusicXML piece is its C major whole-note chord
    chord_bar = result.piece_bars("b_chord")[1]
    assert {int(r) + LO for r in np.nonzero(chord_bar[0, :, ARTICULATE])[0]} == {60, 64, 67}
    assert "3 piece(s), 6 bar(s), 5 file(s) skipped" in result.summary()


def test_a_corpus_of_only_bad_files_is_an_input_error(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "x.mid").write_bytes(b"")
    with pytest.raises(InputError, match="no usable piece.*x: .*empty"):
        load_corpus(folder, cache_dir=tmp_path / "c", progress=False)
    empty = tmp_path / "nothing"
    empty.mkdir()
    with pytest.raises(InputError, match="holds no"):
        load_corpus(empty, cache_dir=tmp_path / "c", progress=False)


def test_single_file_corpus(tmp_path):
    path = tmp_path / "one.mid"
    path.write_bytes(midi_bytes(_scale_tune(60)))
    result = load_corpus(path, cache_dir=tmp_path / "c", progress=False)
    assert result.pieces == ["one"] and result.n_bars == 2


def test_unknown_corpus_and_bad_settings(tmp_path):
    with pytest.raises(InputError, match="no corpus named 'nonesuch'.*bach-chorales"):
        load_corpus("nonesuch", progress=False)
    with pytest.raises(ParameterError, match="time signature such as"):
        load_corpus("bach-chorales", meter="three-four", progress=False)
    with pytest.raises(ParameterError, match="transpose"):
        load_corpus("bach-chorales", transpose="up", progress=False)


# ------------------------------------------------------------------ cache


def test_cache_gives_the_second_load_identical_bars(tmp_path):
    # the speed of the cache (>= 100x on the whole corpus) is measured in bench/bench_corpus.py
    cache = tmp_path / "cache"
    first = load_corpus("bach-chorales", limit=8, cache_dir=cache, progress=False)
    second = load_corpus("bach-chorales", limit=8, cache_dir=cache, progress=False)
    assert first.cache_hits == 0 and second.cache_hits == 8
    assert second.pieces == first.pieces and np.array_equal(second.bars, first.bars)
    assert second.fingerprint == first.fingerprint
    assert np.array_equal(second.bar_numbers, first.bar_numbers)
    # cache entries were written atomically: no temporary files are left
    assert not [p for p in cache.rglob("*") if ".part" in p.name]
    # the cached bars are what a fresh parse gives
    bwv = find_piece("bach-chorales", second.pieces[0])
    assert np.array_equal(second.piece_bars(0), score_to_bars(m21corpus.parse(bwv)))


def test_cache_key_follows_content_and_settings(mixed_folder, tmp_path):
    cache = tmp_path / "cache"
    a = load_corpus(mixed_folder, cache_dir=cache, progress=False)
    # other settings: a separate cache entry and another fingerprint
    b = load_corpus(mixed_folder, cache_dir=cache, progress=False, out_of_range="drop")
    assert b.cache_hits == 0 and b.fingerprint != a.fingerprint
    # the same settings again hit the cache for every file, bad ones included
    again = load_corpus(mixed_folder, cache_dir=cache, progress=False)
    assert again.cache_hits == 8 and again.fingerprint == a.fingerprint
    assert again.skipped == a.skipped
    # a changed file is parsed again and changes the fingerprint
    (mixed_folder / "a_tune.mid").write_bytes(midi_bytes(_scale_tune(65)))
    changed = load_corpus(mixed_folder, cache_dir=cache, progress=False)
    assert changed.cache_hits == 7 and changed.fingerprint != a.fingerprint
    assert changed.piece_bars("a_tune")[0, 0, 65 - LO, ARTICULATE]


def test_a_damaged_cache_entry_is_parsed_again(mixed_folder, tmp_path):
    cache = tmp_path / "cache"
    a = load_corpus(mixed_folder, cache_dir=cache, progress=False)
    for entry in cache.rglob("*.npz"):
        entry.write_bytes(b"garbage")
    b = load_corpus(mixed_folder, cache_dir=cache, progress=False)
    assert b.cache_hits == 0 and np.array_equal(a.bars, b.bars)


def test_cache_location_from_the_environment(monkeypatch, tmp_path, mixed_folder):
    monkeypatch.setenv("QBDI_CACHE", str(tmp_path / "envcache"))
    assert corpus.resolve_cache_dir() == tmp_path / "envcache"
    load_corpus(mixed_folder, progress=False)
    assert list((tmp_path / "envcache").rglob("*.npz"))
    monkeypatch.delenv("QBDI_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert corpus.resolve_cache_dir() == tmp_path / "xdg" / "qbdi-musicology"


def test_use_cache_false_writes_nothing(mixed_folder, tmp_path):
    load_corpus(mixed_folder, cache_dir=tmp_path / "c", use_cache=False, progress=False)
    assert not (tmp_path / "c").exists()


# ------------------------------------------------------------------ keys and transposition


@pytest.mark.parametrize("tonic,minor", [(67, False), (62, False), (57, True), (64, True)])
def test_key_estimate_of_a_scale_and_triad(tmp_path, tonic, minor):
    path = tmp_path / "t.mid"
    path.write_bytes(midi_bytes(_scale_tune(tonic, minor)))
    bars = load_corpus(path, cache_dir=tmp_path / "c", progress=False).bars
    assert estimate_key(bars) == (tonic % 12, "minor" if minor else "major")


def test_key_estimate_agrees_with_music21_on_chorales():
    from music21 import corpus as mc

    names = ["bach/bwv1.6", "bach/bwv2.6", "bach/bwv3.6", "bach/bwv4.8", "bach/bwv5.7",
             "bach/bwv6.6", "bach/bwv66.6", "bach/bwv7.7"]
    agree = 0
    for name in names:
        score = mc.parse(name)
        k = score.analyze("Krumhansl")  # music21's implementation of the same method
        agree += estimate_key(score_to_bars(score)) == (k.tonic.pitchClass, k.mode)
    assert agree == len(names)


def test_shift_to_common_key_takes_the_short_way():
    assert shift_to_common_key(9, "major") == 3  # A major up a minor third to C
    assert shift_to_common_key(2, "major") == -2  # D major down a tone
    assert shift_to_common_key(4, "minor") == 5  # E minor up a fourth to A minor
    assert shift_to_common_key(6, "major") == -6  # F# major: the tritone goes down


def test_transpose_common_moves_each_piece_to_c_or_a_minor(mixed_folder, tmp_path):
    result = load_corpus(mixed_folder, transpose="common", cache_dir=tmp_path / "c",
                         progress=False)
    g_tune = result.piece_bars("a_tune", transposition=5)  # G major up a fourth
    assert estimate_key(g_tune) == (0, "major")
    assert g_tune[0, 0, 72 - LO, ARTICULATE]  # the first G4 became C5
    assert set(result.transposition.tolist()) == {5, 0}


def test_transpose_all12_gives_twelve_keys(mixed_folder, tmp_path):
    plain = load_corpus(mixed_folder, cache_dir=tmp_path / "c", progress=False)
    aug = load_corpus(mixed_folder, transpose="all12", cache_dir=tmp_path / "c", progress=False)
    assert aug.n_bars == 12 * plain.n_bars
    assert sorted(set(aug.transposition.tolist())) == list(range(-6, 6))
    assert aug.fingerprint != plain.fingerprint
    tune = plain.piece_bars("a_tune")
    for k in (-6, -1, 0, 5):
        shifted = aug.piece_bars("a_tune", transposition=k)
        first = np.nonzero(shifted[0, 0, :, ARTICULATE])[0]
        assert [int(r) + LO for r in first] == [67 + k]
        assert shifted[..., PLAY].sum() == tune[..., PLAY].sum()


# ------------------------------------------------------------------ named corpora


def test_manifest_files_match_the_built_in_corpora():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11 reads the TOML manifests
    for path in sorted(corpus.MANIFEST_DIRS[0].glob("*.toml")):
        data = tomllib.loads(path.read_text())
        assert corpus._spec_from_dict(data, str(path)) == corpus._spec_from_dict(
            BUILTIN_MANIFESTS[data["name"]], "built-in"), path.name
    assert set(manifests()) >= {"bach-chorales", "pop-music-midi", "visions-fugitives"}


def test_bach_chorales_are_the_music21_chorales():
    spec = get_spec("bach-chorales")
    files = spec.files()
    names = [p.name for p in files]
    assert "bwv66.6.mxl" in names and "bwv846.mxl" not in names  # 846 is a prelude
    assert len(files) > 350
    assert names.index("bwv2.6.mxl") < names.index("bwv10.7.mxl")  # natural order


def test_first_chorales_in_order_with_pickup_bar_numbers(tmp_path):
    result = load_corpus("bach-chorales", limit=3, cache_dir=tmp_path / "c", progress=False)
    assert result.pieces == ["bwv1.6", "bwv2.6", "bwv3.6"]
    # bwv1.6 has an upbeat: its first bar array is the pickup bar 0
    assert result.bar_numbers[result.piece == 0][0] == 0
    assert result.reports[0]["pickup_quarters"] == 1.0


def test_data_dir_override(monkeypatch, tmp_path):
    data = tmp_path / "data" / "pop_music_midi"
    data.mkdir(parents=True)
    (data / "Song - Chorus.midi").write_bytes(midi_bytes(_scale_tune(60)))
    monkeypatch.setenv("QBDI_DATA", str(tmp_path / "data"))
    result = load_corpus("pop-music-midi", cache_dir=tmp_path / "c", progress=False)
    assert result.pieces == ["Song - Chorus"]
    monkeypatch.setenv("QBDI_DATA", str(tmp_path / "elsewhere"))
    with pytest.raises(InputError, match="--data-dir or QBDI_DATA"):
        load_corpus("pop-music-midi", cache_dir=tmp_path / "c", progress=False)
    # an explicit data_dir wins over the environment
    ok = load_corpus("pop-music-midi", data_dir=tmp_path / "data", cache_dir=tmp_path / "c",
                     progress=False)
    assert ok.pieces == ["Song - Chorus"]


def test_pop_music_midi_from_shared_data(shared_data, tmp_path):
    result = load_corpus("pop-music-midi", data_dir=shared_data, limit=5,
                         cache_dir=tmp_path / "c", progress=False)
    assert result.n_pieces == 5 and result.n_bars >= 5 * 4
    assert all(r["parts_read"] for r in result.reports)


def test_visions_fugitives_from_shared_data(shared_data, tmp_path):
    result = load_corpus("visions-fugitives", data_dir=shared_data, cache_dir=tmp_path / "c",
                         progress=False)
    assert result.pieces[0] == "vf_no1"
    assert result.n_pieces == 8 and not result.skipped  # no. 5 in its own 2/4


def test_parallel_first_parse_gives_the_same_corpus(mixed_folder, tmp_path):
    serial = load_corpus(mixed_folder, cache_dir=tmp_path / "a", progress=False)
    parallel = load_corpus(mixed_folder, cache_dir=tmp_path / "b", progress=False, workers=2)
    assert parallel.pieces == serial.pieces and parallel.skipped == serial.skipped
    assert np.array_equal(parallel.bars, serial.bars)
    assert parallel.fingerprint == serial.fingerprint


def test_rebar_reads_pieces_in_other_meters(mixed_folder, tmp_path):
    result = load_corpus(mixed_folder, meter="rebar", cache_dir=tmp_path / "c", progress=False)
    assert result.pieces == ["a_tune", "b_chord", "g_waltz"]
    waltz = result.piece_bars("g_waltz")  # two 3/4 bars of dotted halves: 1.5 bars of 4/4
    assert waltz.shape[0] == 2 and waltz[0, 12, 62 - LO, ARTICULATE]  # D on beat 4,
    # tied over the barline
    assert waltz[1, :8, 62 - LO, PLAY].all() and not waltz[1, :, 62 - LO, ARTICULATE].any()
    assert result.reports[2]["meters_rebarred"] == ["3/4"]


def test_the_same_bytes_under_another_suffix_are_read_again(tmp_path):
    """The cache keys on what a file is named, not only on its bytes: a MusicXML file
    copied to a .mei name is refused even after the .musicxml was cached."""
    from test_scoreio import musicxml_text

    folder = tmp_path / "two"
    folder.mkdir()
    text = musicxml_text()
    (folder / "a.musicxml").write_text(text)
    first = load_corpus(folder, cache_dir=tmp_path / "c", progress=False)
    assert first.pieces == ["a"]
    (folder / "b.mei").write_text(text)
    second = load_corpus(folder, cache_dir=tmp_path / "c", progress=False)
    assert second.pieces == ["a"] and "MEI" in dict(second.skipped)["b"]
