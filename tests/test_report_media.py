"""Score pictures, sounds and the classroom page, piece by piece (no browser, no model)."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pandas as pd
import pytest

from qbdi_musicology.batch import TaskRecord
from qbdi_musicology.errors import InputError
from qbdi_musicology.report import audio, engrave
from qbdi_musicology.report.lesson import lesson_data, lesson_html
from qbdi_musicology.report.media import QueryMedia, ScoreView, build_query_media


def _cadence():
    """Four bars in C: C, F, G7, C, with chord symbols above the melody."""
    from music21 import harmony, meter, note, stream

    part = stream.Part()
    part.append(meter.TimeSignature("4/4"))
    for symbol, pitch in (("C", "E4"), ("F", "F4"), ("G7", "D4"), ("C", "C4")):
        measure = stream.Measure()
        measure.append(harmony.ChordSymbol(symbol))
        measure.append(note.Note(pitch, quarterLength=4))
        part.append(measure)
    score = stream.Score([part])
    return score


@pytest.fixture(scope="module")
def query_folder(tmp_path_factory) -> Path:
    """A query folder as the batch leaves it: a rate's score and MIDI, and the query's."""
    from qbdi_musicology.musicxml import musicxml_bytes, write_midi

    folder = tmp_path_factory.mktemp("queries") / "cadence"
    folder.mkdir()
    score = _cadence()
    (folder / "rate-inf.musicxml").write_bytes(musicxml_bytes(score))
    (folder / "rate-000.musicxml").write_bytes(musicxml_bytes(score.transpose(7)))
    write_midi(score, folder / "query.mid")
    write_midi(score, folder / "rate-inf.mid")
    write_midi(score.transpose(7), folder / "rate-000.mid")
    return folder


def test_engraving_is_svg_with_the_chord_symbols_and_deterministic(query_folder, tmp_path):
    pages = engrave.engrave_file(query_folder / "rate-inf.musicxml")
    assert len(pages) == 1 and pages[0].startswith("<svg") and 'class="harm"' in pages[0]
    assert engrave.engrave_file(query_folder / "rate-inf.musicxml") == pages
    # The same in a worker thread (verovio finds its fonts only when told where they are).
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        assert pool.submit(engrave.engrave_file, query_folder / "rate-inf.musicxml"
                           ).result() == pages
    # A longer earlier engraving of the same name leaves no stray page behind.
    (tmp_path / "rate-inf-2.svg").write_text("old")
    written = engrave.engrave_to_files(query_folder / "rate-inf.musicxml", tmp_path, "rate-inf")
    assert [p.name for p in written] == ["rate-inf-1.svg"]
    assert not (tmp_path / "rate-inf-2.svg").exists()
    with pytest.raises(InputError, match="no such score"):
        engrave.engrave_file(tmp_path / "missing.musicxml")


def test_without_fluidsynth_one_line_says_what_to_install(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    problem = audio.audio_problem()
    assert problem is not None and "\n" not in problem
    assert "FluidSynth" in problem and "apt-get install fluidsynth" in problem


def test_midi_renders_to_mp3(query_folder, tmp_path):
    if audio.audio_problem():
        pytest.skip(audio.audio_problem())
    mp3 = audio.render_midi(query_folder / "query.mid", tmp_path / "query.mp3")
    data = mp3.read_bytes()
    assert data[:3] == b"ID3" or data[0] == 0xFF
    again = audio.render_midi(query_folder / "query.mid", tmp_path / "again.mp3")
    assert again.read_bytes() == data  # the same MIDI gives the same bytes


def test_media_are_made_once_and_reused(query_folder, tmp_path, monkeypatch):
    record = TaskRecord("cadence", "cadence.musicxml", 0, "done", info={"title": "Cadence"})
    report = tmp_path / "report"
    media = build_query_media(record, rates=[0.0, math.inf], queries_root=query_folder.parent,
                              report_dir=report)
    assert [v.label for v in media.views] == ["full rate", "0 bits per bar"]
    assert media.view(0.0).pages == ["media/cadence/rate-000-1.svg"]
    assert media.overview is None  # no overview score in this folder
    if audio.audio_problem() is None:
        assert media.query_audio == "media/cadence/query.mp3"
        assert media.view(math.inf).audio == "media/cadence/rate-inf.mp3"
    else:
        assert media.notes == [audio.audio_problem()]
    for path in media.paths():
        assert (report / path).is_file()

    def refuse(*args, **kwargs):
        raise AssertionError("an up-to-date file was made again")

    monkeypatch.setattr(engrave, "engrave_to_files", refuse)
    monkeypatch.setattr(engrave, "engrave_text", refuse)
    monkeypatch.setattr(audio, "render_midi", refuse)
    again = build_query_media(record, rates=[0.0, math.inf], queries_root=query_folder.parent,
                              report_dir=report)
    assert again.paths() == media.paths()


def test_lesson_numbers_are_the_tables_numbers():
    rows = pd.DataFrame({"rate": [math.inf, 8.0, 0.0], "segments": [10] * 3,
                         "triad_agreement": [0.8, 0.35, 0.1], "tonic_share": [0.3, 0.5, 1.0],
                         "distinct_chords": [8, 4, 1], "query_tonic_share": [0.3] * 3,
                         "query_distinct_chords": [8] * 3, "key": ["f# minor"] * 3})
    media = QueryMedia("q", "bwv66.6", "media/q/query.mp3",
                       [ScoreView("rate-inf", "full rate", math.inf, ["media/q/rate-inf-1.svg"],
                                  "media/q/rate-inf.mp3"),
                        ScoreView("rate-008", "8 bits per bar", 8.0, ["media/q/rate-008-1.svg"]),
                        ScoreView("rate-000", "0 bits per bar", 0.0, [])])
    data = lesson_data(rows, media)
    assert [r["rate"] for r in data["rates"]] == ["0", "8", "full"]  # the slider's order
    eight = {n["column"]: (n["text"], n["detail"]) for n in data["rates"][1]["numbers"]}
    assert eight == {"triad_agreement": ("0.350", "4 of 10 bars"),
                     "tonic_share": ("0.500", "5 of 10 bars"), "distinct_chords": ("4", "")}
    assert data["query_numbers"] == "tonic share 0.300, distinct chords 8"
    page = lesson_html(data)
    assert "value='2'" in page and "full rate" in page  # starts at the full rate
    assert "media/q/rate-inf-1.svg" in page and "http" not in page.replace(
        "http-equiv", "")


def test_without_sound_the_pages_say_so_once_and_show_the_scores(query_folder, tmp_path,
                                                                  monkeypatch):
    from qbdi_musicology.report.media import media_html

    monkeypatch.setattr(shutil, "which", lambda name: None)  # no FluidSynth here
    record = TaskRecord("cadence", "cadence.musicxml", 0, "done", info={"title": "Cadence"})
    media = build_query_media(record, rates=[0.0, math.inf], queries_root=query_folder.parent,
                              report_dir=tmp_path / "report")
    assert media.notes == [audio.audio_problem()] and media.query_audio is None
    block = media_html(media)
    assert block.count(audio.audio_problem().split(":")[0]) == 1 and "<audio" not in block
    assert block.count("<img") == 2
    rows = pd.DataFrame({"rate": [math.inf, 0.0], "triad_agreement": [1.0, 0.5],
                         "tonic_share": [0.25, 0.5], "distinct_chords": [3, 2]})
    page = lesson_html(lesson_data(rows, media))
    assert "<audio" not in page and "No audio" in page and page.count("<img") == 2


def test_a_note_every_query_has_is_said_once():
    from qbdi_musicology.report.media import media_html, shared_notes

    medias = [QueryMedia(q, q, notes=["No audio: FluidSynth not found.", f"only {q}"])
              for q in ("a", "b", "c")]
    said = shared_notes(medias)
    assert said == ["No audio: FluidSynth not found."]
    assert "FluidSynth" not in media_html(medias[1], said) and "only b" in media_html(
        medias[1], said)
    assert shared_notes(medias[:1]) == []


def test_worker_processes_engrave_the_same_pages(query_folder, tmp_path):
    from qbdi_musicology.workers import Workers

    record = TaskRecord("cadence", "cadence.musicxml", 0, "done", info={"title": "Cadence"})
    here = build_query_media(record, rates=[0.0, math.inf], queries_root=query_folder.parent,
                             report_dir=tmp_path / "here", sound=False)
    with Workers(jobs=2) as workers:
        there = build_query_media(record, rates=[0.0, math.inf],
                                  queries_root=query_folder.parent,
                                  report_dir=tmp_path / "there", sound=False, workers=workers)
    assert there.paths() == here.paths() and here.paths()
    for path in here.paths():
        assert (tmp_path / "there" / path).read_bytes() == (tmp_path / "here" / path).read_bytes()


def test_pictures_start_once_the_first_pieces_are_settled():
    from qbdi_musicology.report.drift_report import _leading

    ok = TaskRecord("a", "a", 0, "done")
    bad = TaskRecord("b", "b", 1, "failed")
    later = TaskRecord("c", "c", 2, "done")

    def wanted(record):
        return record.ok

    assert _leading([None, ok], wanted, 1) is None  # the first piece may still succeed
    assert _leading([ok, None], wanted, 1) == [ok]
    assert _leading([ok, bad, None], wanted, 2) is None
    assert _leading([ok, bad, later], wanted, 3) == [ok, later]  # all known: what there is
