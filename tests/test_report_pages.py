"""The report and the classroom page show engraved scores and play sound, offline.

One batch over BWV 66.6 at three rates (the stand-in task of :mod:`media_tasks`: annotated
scores and MIDI written by the batch's own writer, no model) writes the report folder.
Then: every score is engraved to SVG with its chord symbols, numerals and red clashes;
every rate has a player where FluidSynth and a soundfont exist (else one line says why);
and in headless Chromium every picture and sound of ``report.html`` and ``lesson.html``
loads from the folder itself, nothing is asked of the network, and the lesson's slider
shows each rate's numbers from the drift table. Screenshots are saved in the test folder.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd
import pytest

from browser import (AUDIO_STATE, BROKEN_IMAGES, chromium, chromium_problem, full_screenshot,
                     open_page, requests, wait_for)
from qbdi_musicology.batch import run_batch
from qbdi_musicology.report.audio import audio_problem
from qbdi_musicology.report.drift_report import _fmt
from qbdi_musicology.report.lesson import LESSON_NUMBERS

RATES = (0.0, 32.0, math.inf)
QUERY = "corpus:bach-chorales/bwv66.6"
MEDIA = Path("media") / "bach-chorales_bwv66.6"


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pages")
    summary = run_batch([QUERY], out, rates=RATES, task_fn="media_tasks:annotated_task",
                        options={"midi": True}, progress=False)
    assert not summary.failed, [r.error for r in summary.failed]
    assert {"html", "lesson"} <= set(summary.report_files)
    return out / "report"


def _links(page: Path) -> list[str]:
    return re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", page.read_text())


def test_every_score_is_engraved_with_its_harmony(report):
    for stem in ("rate-inf", "rate-032", "rate-000", "overview"):
        pages = sorted((report / MEDIA).glob(f"{stem}-*.svg"))
        assert pages, stem
        svg = pages[0].read_text()
        assert svg.startswith("<svg") and "viewBox" in svg
        assert 'class="harm"' in svg  # chord symbols
        if stem != "overview":
            assert 'class="verse"' in svg  # the Roman numerals, as lyrics
    # A fifth up against Bach's chords: clashes, drawn in red.
    assert "#D01010" in (report / MEDIA / "rate-000-1.svg").read_text()
    assert "#D01010" not in (report / MEDIA / "rate-inf-1.svg").read_text()


def test_pages_link_only_files_in_the_report_folder(report):
    for name in ("report.html", "lesson.html"):
        page = report / name
        for link in _links(page):
            if link.startswith("data:") or link.startswith("../queries/"):
                continue
            assert "://" not in link and not link.startswith("/"), link
            assert (report / link).is_file(), f"{name}: {link} is missing"
    lesson = (report / "lesson.html").read_text()
    for rate in ("rate-inf", "rate-032", "rate-000"):
        assert f"{MEDIA.as_posix()}/{rate}-1.svg" in lesson


def test_a_player_per_rate_or_one_line_why_not(report):
    page = (report / "report.html").read_text()
    problem = audio_problem()
    if problem is not None:
        assert page.count(problem) == 1 and "<audio" not in page
        return
    for name in ("query.mp3", "rate-inf.mp3", "rate-032.mp3", "rate-000.mp3"):
        data = (report / MEDIA / name).read_bytes()
        assert data[:3] == b"ID3" or data[0] == 0xFF, name  # an MP3 stream
        assert f"{MEDIA.as_posix()}/{name}" in page
    assert page.count("<audio") == 2 * len(RATES)  # the query and the rate, per rate


def _expected(report: Path) -> dict[str, dict[str, str]]:
    """Per rate as the page names it, the numbers as the report's table prints them."""
    table = pd.read_csv(report / "drift_table.csv")
    return {("full" if math.isinf(row["rate"]) else f"{row['rate']:g}"):
            {column: _fmt(row[column]) for column in LESSON_NUMBERS}
            for _, row in table.iterrows()}


def _shown(driver) -> dict[str, str]:
    return {column: driver.find_element("id", f"value-{column}").text
            for column in LESSON_NUMBERS}


def _assert_loaded_offline(driver, name: str) -> None:
    assert driver.execute_script(BROKEN_IMAGES) == [], f"{name}: images that did not load"
    for src, duration, error in driver.execute_script(AUDIO_STATE):
        assert error == 0 and duration > 5, f"{name}: {src} did not load ({error})"
    asked, failed = requests(driver)
    assert failed == [], f"{name}: failed requests {failed}"
    outside = [u for u in asked if not u.startswith(("file://", "data:"))]
    assert outside == [], f"{name}: network requests {outside}"


@pytest.mark.browser
def test_report_and_lesson_in_headless_chromium(report):
    problem = chromium_problem()
    if problem:
        pytest.skip(problem)
    from selenium.webdriver.common.keys import Keys

    expected = _expected(report)
    with chromium() as driver:
        open_page(driver, report / "report.html")
        assert driver.execute_script("return document.images.length;") >= 6
        _assert_loaded_offline(driver, "report.html")
        full_screenshot(driver, report / "report-screenshot.png")

        open_page(driver, report / "lesson.html")
        _assert_loaded_offline(driver, "lesson.html")
        body = driver.find_element("tag name", "body")
        assert body.get_attribute("data-rate") == "full"
        assert _shown(driver) == expected["full"]
        slider = driver.find_element("id", "rate-slider")
        sound = audio_problem() is None
        if sound:  # a teacher stopped the full rate at 0:04: the next rate starts there
            driver.execute_script("document.getElementById('improvisation-audio')"
                                  ".currentTime = 4;")
        seen = {}
        for rate in ("32", "0"):  # the slider, one step down at a time
            slider.send_keys(Keys.ARROW_LEFT)
            assert body.get_attribute("data-rate") == rate
            seen[rate] = _shown(driver)
            assert seen[rate] == expected[rate]
            assert driver.find_element("id", "rate-shown").text.startswith(rate)
            shown = driver.find_elements("css selector", "#score .rate-pages:not([hidden]) img")
            assert shown and all(f"rate-{int(float(rate)):03d}-" in img.get_attribute("src")
                                 for img in shown)
            assert all(img.is_displayed() for img in shown)
            if sound:
                position = wait_for(driver, (
                    "var a = document.getElementById('improvisation-audio');"
                    "return a.readyState >= 1 && a.currentTime > 0 && "
                    "[a.getAttribute('src'), a.currentTime];"))
                assert position and position[0].endswith(f"rate-{int(float(rate)):03d}.mp3")
                assert position[1] == pytest.approx(4, abs=0.1)
        assert seen["0"] != expected["full"], "the numbers must change with the rate"
        _assert_loaded_offline(driver, "lesson.html at rate 0")
        full_screenshot(driver, report / "lesson-screenshot.png", max_height=1600)
        driver.find_element("css selector", ".buttons button:last-child").click()
        assert body.get_attribute("data-rate") == "full"
        assert _shown(driver) == expected["full"]
    assert (report / "lesson-screenshot.png").read_bytes().startswith(b"\x89PNG")
