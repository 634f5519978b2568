"""The landing page in a real browser: headless Chromium renders it with its three pictures,
a new probability threshold in the form redraws them, its links work, and a screenshot is saved
for a person to look at (var/screenshots/landing-page.png; the path is printed)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from tap_support import live_server, seed_field, tap_settings

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
SCREENSHOT_DIR = Path(__file__).resolve().parent.parent / "var" / "screenshots"
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER), reason="Debian chromium + chromium-driver not installed"
)


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="xpha-chromium-")
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1200,2400",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


PICTURES = ("sky", "cmd", "excess")


def loaded_pictures(browser) -> dict[str, tuple[str, int]]:
    """Each picture's src and the width the browser decoded (0: it did not load)."""
    return {
        name: tuple(
            browser.execute_script(
                "const i = document.querySelector(arguments[0]);"
                " return [i.currentSrc, i.complete ? i.naturalWidth : 0];",
                f"#{name} img",
            )
        )
        for name in PICTURES
    }


def test_landing_page_renders_pictures_tables_examples_and_links(db_url: str, browser) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    seed_field(db_url, n=3000, xp_rows=50)
    with live_server(tap_settings(db_url)) as root:
        browser.get(root + "/")
        assert "xpha" in browser.title
        body = browser.find_element(By.TAG_NAME, "body").text
        for table in ("xpha.emitter_candidates", "xpha.gaia_source", "tap_schema.columns"):
            assert table in body
        assert "pyvo.dal.TAPService" in body
        queries = [e.text for e in browser.find_elements(By.TAG_NAME, "pre")]
        assert any("CONTAINS(POINT" in q for q in queries), "a cone-search example is shown"
        pictures = loaded_pictures(browser)
        assert all(width == 720 and "threshold=0.5" in src for src, width in pictures.values()), (
            pictures
        )

        # A person changes the threshold in the form: the URL and every picture follow it.
        field = browser.find_element(By.NAME, "threshold")
        field.clear()
        field.send_keys("0.9")
        field.submit()
        WebDriverWait(browser, 30).until(lambda b: "threshold=0.9" in b.current_url)
        WebDriverWait(browser, 30).until(
            lambda b: all(w == 720 for _, w in loaded_pictures(b).values())
        )
        pictures = loaded_pictures(browser)
        assert all("threshold=0.9" in src for src, _ in pictures.values()), pictures
        assert "with probability ≥ 0.9" in browser.find_element(By.TAG_NAME, "body").text

        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        screenshot = SCREENSHOT_DIR / "landing-page.png"
        assert browser.save_screenshot(str(screenshot))
        assert screenshot.stat().st_size > 50_000
        print(f"\nlanding page screenshot: {screenshot}")

        # Follow the page's own link to a table description: VOSI XML in the browser.
        link = browser.find_element(By.LINK_TEXT, "xpha.emitter_candidates")
        link.click()
        assert "emitter_candidates" in browser.page_source
        assert "source_id" in browser.page_source
