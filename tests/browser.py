"""Open the package's HTML pages in headless Chromium, the way a teacher's browser would.

Chromium (Debian ``chromium``) is driven through Debian's ``chromium-driver`` with
selenium. The browser runs offline: no sandbox (root), no GPU, no background networking,
and a fresh profile per session. Every request the page makes is read from Chromium's
performance log, so a test can check that nothing leaves the machine.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--mute-audio", "--hide-scrollbars")


def chromium_problem() -> str | None:
    """None when headless Chromium can be driven here, else why not (for pytest.skip)."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install 'qbdi-musicology[test]')"
    if chromium_binary() is None:
        return "chromium is not installed (Debian: apt-get install chromium)"
    if shutil.which("chromedriver") is None:
        return "chromedriver is not installed (Debian: apt-get install chromium-driver)"
    return None


def chromium_binary() -> str | None:
    """The Chromium executable, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@contextlib.contextmanager
def chromium(width: int = 1280, height: int = 1600) -> Iterator[Any]:
    """A selenium driver of a fresh headless Chromium; quit (and profile removed) on exit."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory(prefix="qbdi-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = chromium_binary()
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={profile}")
        options.add_argument(f"--window-size={width},{height}")
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
        driver = webdriver.Chrome(service=Service(executable_path=shutil.which("chromedriver")),
                                  options=options)
        try:
            yield driver
        finally:
            driver.quit()


def requests(driver: Any) -> tuple[list[str], list[str]]:
    """URLs the opened pages asked for since the last call, and those that failed to load.

    Only requests made by documents loaded from files count: Chromium's own start page
    (``chrome://new-tab-page``) looks for the network before the first page is opened.
    A request the page itself cancelled is no failure: a player that preloads only the
    metadata of a sound stops reading the file once it has them.
    """
    asked: dict[str, str] = {}
    failed = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message["method"] == "Network.requestWillBeSent":
            if str(params.get("documentURL", "")).startswith("file://"):
                asked[params["requestId"]] = params["request"]["url"]
        elif (message["method"] == "Network.loadingFailed" and not params.get("canceled")
              and params["requestId"] in asked):
            failed.append(f"{asked[params['requestId']]}: {params.get('errorText')}")
    return list(asked.values()), failed


def wait_for(driver: Any, script: str, timeout: float = 20.0) -> Any:
    """Run ``script`` (a JavaScript ``return ...``) until it gives a truthy value."""
    deadline = time.monotonic() + timeout
    while True:
        value = driver.execute_script(script)
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


#: JavaScript: the images that did not load (empty when all did).
BROKEN_IMAGES = ("return Array.from(document.images).filter("
                 "i => !(i.complete && i.naturalWidth > 0)).map(i => i.src);")
#: JavaScript: true once every audio element has its metadata or an error.
AUDIO_SETTLED = ("return Array.from(document.querySelectorAll('audio')).every("
                 "a => !a.getAttribute('src') || a.readyState >= 1 || a.error);")
#: JavaScript: per audio element, its source, duration and error code.
AUDIO_STATE = ("return Array.from(document.querySelectorAll('audio'))"
               ".filter(a => a.getAttribute('src')).map(a => [a.getAttribute('src'), "
               "a.duration, a.error ? a.error.code : 0]);")


def open_page(driver: Any, page: Path) -> None:
    """Load a file in the browser and wait until it, its images and its sounds are in."""
    driver.get_log("performance")  # what came before is not this page's
    driver.get(Path(page).resolve().as_uri())
    wait_for(driver, "return document.readyState === 'complete';")
    wait_for(driver, AUDIO_SETTLED)


def full_screenshot(driver: Any, target: Path, max_height: int = 6000) -> Path:
    """A PNG of the whole page (up to ``max_height`` pixels), not just the window."""
    import base64

    height = min(int(driver.execute_script("return document.body.scrollHeight;")), max_height)
    width = int(driver.execute_script("return document.documentElement.clientWidth;"))
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}})
    target.write_bytes(base64.b64decode(shot["data"]))
    return target
