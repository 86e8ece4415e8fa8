"""End to end in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright; never `playwright
install`): `streamlit run app.py` on a free port against the eval corpus, then a deep link, a typed search, a topic
page and a click through to a post. KB_UPDATE_SCREENSHOT=1 also writes docs/screenshot.png for the README."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest
from fixtures.cli import stop

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
WAIT_MS = 120_000          # the server's first page loads the model and assigns topics
START_S = 90

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM),
                       reason="needs Debian's Chromium: apt-get install -y chromium fonts-noto-cjk"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(eval_corpus, tmp_path_factory):
    content, index_dir = eval_corpus
    port = _free_port()
    log_path = tmp_path_factory.mktemp("streamlit") / "streamlit.log"
    env = {**os.environ, "KB_INDEX_DIR": str(index_dir), "KB_CONTENT_DIR": str(content)}
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + START_S
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"streamlit did not start on port {port}: {log_path.read_text()[-2000:]}")
                time.sleep(0.3)
            yield f"http://127.0.0.1:{port}"
        finally:
            stop(proc)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, timeout=60_000)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="ko-KR")
    pg = ctx.new_page()
    pg.set_default_timeout(WAIT_MS)
    try:
        yield pg
    finally:
        ctx.close()


def wait_cards(page, n: int = 1) -> list[str]:
    page.wait_for_function(f"document.querySelectorAll('.kb-card').length >= {n}", timeout=WAIT_MS)
    page.wait_for_load_state("networkidle", timeout=WAIT_MS)
    return page.locator(".kb-card .kb-heading").all_inner_texts()


def assert_no_error(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0
    body = page.inner_text("body")
    assert "Traceback" not in body and "kb: " not in body and "unexpected error" not in body


def test_deep_link_shows_trading_sections_from_several_weeks(page, server, tmp_path):
    page.goto(f"{server}/?q={quote('트레이딩')}&mode=hybrid")
    headings = wait_cards(page, 10)
    assert {"FinRL", "Freqtrade", "AI trading"} <= set(headings)
    dates = page.locator(".kb-card .kb-date").all_inner_texts()
    assert len(set(dates)) >= 5
    assert page.locator(".kb-card mark").first.inner_text() == "트레이딩"
    href = page.locator(".kb-card .kb-heading a").first.get_attribute("href")
    assert href.startswith("https://")
    assert page.get_by_label("Search every weekly issue").input_value() == "트레이딩"
    assert_no_error(page)
    shot = tmp_path / "screenshot.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 20_000
    if os.environ.get("KB_UPDATE_SCREENSHOT"):
        shutil.copy(shot, ROOT / "docs" / "screenshot.png")


def test_typing_a_search(page, server):
    page.goto(server)
    box = page.get_by_label("Search every weekly issue")
    box.wait_for()
    box.fill("강화학습 프레임워크")
    box.press("Enter")
    page.wait_for_url(re.compile(r"[?&]q="), timeout=WAIT_MS)
    headings = wait_cards(page, 3)
    assert "Acme: 강화학습 프레임워크" in headings[:3]
    assert_no_error(page)


def test_topic_page(page, server):
    page.goto(f"{server}/?view=topics")
    page.get_by_role("button", name=re.compile(r"Trading & finance \(\d+\)")).click()
    page.get_by_role("heading", name="Trading & finance").wait_for()
    headings = wait_cards(page, 8)
    assert {"Jane Street Market Prediction", "Backtrader"} <= set(headings)
    assert "topic=trading" in page.url
    chart = page.locator('[data-testid="stVegaLiteChart"]')
    chart.wait_for()                                      # the per-month chart
    assert chart.count() == 1
    assert_no_error(page)


def test_open_in_post_from_a_result(page, server):
    page.goto(f"{server}/?q=Backtrader")
    wait_cards(page, 1)
    page.get_by_role("button", name=re.compile("Open in post")).first.click()
    page.locator(".kb-target").wait_for()
    # Streamlit draws a page element by element: wait for the whole post, not just the marked section
    page.wait_for_function("document.querySelectorAll('.kb-section').length >= 9", timeout=WAIT_MS)
    assert "Backtrader" in page.locator(".kb-target .kb-heading").inner_text()
    assert page.locator(".kb-section").count() == 9
    assert "view=issues" in page.url and "post=" in page.url
    assert_no_error(page)
