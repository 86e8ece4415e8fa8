"""`python -m benchmarks.browser`: time the Streamlit app the way a person waits, in a real headless Chromium.

Serves `streamlit run app.py` on a free local port (against `--index-dir`, or a scratch index of content/ plus
tests/eval/posts built first) and drives Debian's /usr/bin/chromium through Playwright (never `playwright install`):

* first page: a fresh tab opens the app (on a server that has not loaded the model yet, then again); time until the
  page frame (the navigation row; the sidebar in apps before it) is drawn, and until the search box takes input;
* cold shared link: `?q=트레이딩` as the first page of a fresh server; time until the frame, the first result card;
* typed queries: a query is typed into the search box and Enter pressed; the time runs from the Enter key (taken in
  the page, by a capture-phase keydown listener) until every new result card is drawn, in the order kb's own search
  returns them (the expected rows come from `Index.search` in this process, so a stale card never counts); with
  --after-topics only once the server has assigned its sections to topics (a minute or more at 100k sections);
* open in post: from a result card, "Open in post" until the opened section's heading is on screen.

Each figure is printed; with --json the last line is one JSON object. The machine is shared: quote medians from one
run.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from kb.cli.args import run

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
QUERIES = ["트레이딩", "강화학습 프레임워크", "speech synthesis", "한국어 BERT 모델", "feature store MLOps"]
WARMUP = "딥러닝 강의"
DESKTOP = {"width": 1280, "height": 1000}

# In the page: every card's data-row, in order, equals `want` → the time it became so (performance.now()).
_DRAWN_JS = """(want) => {
  const rows = [...document.querySelectorAll('.kb-card')].map(c => Number(c.dataset.row));
  if (rows.length < want.length) return false;
  for (let i = 0; i < want.length; i++) if (rows[i] !== want[i]) return false;
  return performance.now();
}"""
_MARK_ENTER_JS = """() => {
  window.__kbEnter = null;
  document.addEventListener('keydown', e => { if (e.key === 'Enter') window.__kbEnter = performance.now(); },
                            {capture: true});
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(index_dir: Path, content_dir: Path, log_path: Path, start_s: float = 120, root: Path = ROOT):
    """`streamlit run app.py` (of the checkout `root`, with its own kb package) on a free port; yields its base URL;
    stops it afterwards."""
    port = _free_port()
    env = {**os.environ, "KB_INDEX_DIR": str(index_dir), "KB_CONTENT_DIR": str(content_dir), "PYTHONPATH": str(root)}
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(root / "app.py"), "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none"], cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + start_s
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"streamlit did not start: {log_path.read_text()[-1000:]}")
                time.sleep(0.2)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def expected_rows(index_dir: Path, queries: list[str], k: int = 10) -> dict[str, list[int]]:
    """What the app must draw for each query: kb's own hybrid ranking, row by row."""
    import kb

    index = kb.open_index(index_dir)
    return {q: [h.row for h in index.search(q, k=k)] for q in queries}


def first_frame(browser, base: str) -> dict[str, float]:
    """A fresh tab: ms until the navigation row is drawn, until the search box takes input."""
    ctx = browser.new_context(viewport=DESKTOP, locale="ko-KR")
    page = ctx.new_page()
    t0 = time.perf_counter()
    page.goto(base, wait_until="commit")
    page.locator(".kb-nav, [data-testid='stSidebar']").first.wait_for(state="attached", timeout=180_000)
    frame = (time.perf_counter() - t0) * 1000
    page.locator('input[aria-label="Search every weekly issue"]').wait_for(timeout=180_000)
    box = (time.perf_counter() - t0) * 1000
    ctx.close()
    return {"frame_ms": round(frame), "search_box_ms": round(box)}


def cold_link(browser, base: str, query: str = "트레이딩") -> dict[str, float]:
    """A shared link opened in a fresh tab (on a server that has not loaded the model when it is the first page):
    ms until the page frame, until the first result card is drawn."""
    from urllib.parse import quote

    ctx = browser.new_context(viewport=DESKTOP, locale="ko-KR")
    page = ctx.new_page()
    t0 = time.perf_counter()
    page.goto(f"{base}/?q={quote(query)}", wait_until="commit")
    page.locator(".kb-nav").first.wait_for(state="attached", timeout=180_000)
    frame = (time.perf_counter() - t0) * 1000
    page.locator(".kb-card").first.wait_for(timeout=180_000)
    cards = (time.perf_counter() - t0) * 1000
    ctx.close()
    return {"frame_ms": round(frame), "results_ms": round(cards)}


def topics_assigned(browser, base: str) -> float:
    """Open the Topics page (it waits for the server's topic assignment) and wait until it is drawn; seconds."""
    ctx = browser.new_context(viewport=DESKTOP, locale="ko-KR")
    page = ctx.new_page()
    t0 = time.perf_counter()
    page.goto(f"{base}/?view=topics")
    page.locator(".kb-grid").wait_for(timeout=900_000)
    ctx.close()
    return time.perf_counter() - t0


def typed_queries(browser, bases: dict[str, str], want: dict[str, list[int]], rounds: int) -> list[dict]:
    """Type each query, press Enter, wait for its cards; one record per timed query. With several servers (app
    checkouts) each query is typed into each of them in turn, so they are measured under the same load."""
    pages = {}
    for name, base in bases.items():
        ctx = browser.new_context(viewport=DESKTOP, locale="ko-KR")
        page = ctx.new_page()
        page.set_default_timeout(120_000)
        page.goto(base)
        box = page.locator('input[aria-label="Search every weekly issue"]')
        box.wait_for()
        page.evaluate(_MARK_ENTER_JS)
        pages[name] = (ctx, page, box)

    def one(name: str, q: str) -> float:
        _, page, box = pages[name]
        box.fill(q)
        page.evaluate("() => { window.__kbEnter = null; }")
        box.press("Enter")
        done = page.wait_for_function(_DRAWN_JS, arg=want[q], polling="raf").json_value()
        return done - page.evaluate("() => window.__kbEnter")

    out = []
    for name in pages:
        one(name, WARMUP)
    for r in range(rounds):
        for i, q in enumerate(QUERIES):
            order = list(pages) if (r + i) % 2 == 0 else list(pages)[::-1]
            for name in order:
                out.append({"app": name, "round": r, "query": q, "ms": round(one(name, q), 1)})
    for ctx, _, _ in pages.values():
        ctx.close()
    return out


def open_in_post(browser, base: str) -> float | None:
    """From a result card, click "Open in post": ms until the opened section's heading is inside the viewport
    (None if it is not there within 20 s)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    ctx = browser.new_context(viewport=DESKTOP, locale="ko-KR")
    page = ctx.new_page()
    page.set_default_timeout(120_000)
    page.goto(f"{base}/?q=SpeechBrain")
    page.locator(".kb-card").first.wait_for()
    page.wait_for_load_state("networkidle")
    t0 = time.perf_counter()
    page.get_by_role("link", name="Open in post").first.click()
    try:
        page.wait_for_function("""() => { const h = document.querySelector('.kb-target .kb-heading');
            if (!h) return false; const r = h.getBoundingClientRect();
            return r.top >= 0 && r.bottom <= window.innerHeight; }""", polling="raf", timeout=20_000)
        ms = (time.perf_counter() - t0) * 1000
    except PlaywrightTimeout:
        ms = None
    ctx.close()
    return ms


_KINDS = [("트레이딩 봇", "주식 알고리즘 트레이딩 라이브러리. 백테스트와 실거래를 지원한다."),
          ("NLP 라이브러리", "한국어 자연어처리 모델을 한 줄로 불러 쓰는 라이브러리. 형태소 분석과 개체명 인식."),
          ("Vision 모델", "이미지 분할과 객체 탐지를 위한 사전학습 모델 모음."),
          ("Speech 툴킷", "음성 인식과 음성 합성을 위한 오픈소스 툴킷."),
          ("MLOps 도구", "실험 추적과 모델 서빙을 위한 오픈소스 도구.")]


def many_posts(tmp: Path, n: int) -> tuple[Path, Path]:
    """n one-section weekly posts (daily dates from 1970, plus one dated 0001-01-01 and one 9999-12-31), built with
    benchmarks.bench's pooled vectors (real e5 passage vectors mixed with noise; queries still use the real model)."""
    from datetime import date, timedelta

    from benchmarks.harness import PooledEmbedder
    from kb.build.local import build_index
    from kb.core.config import Settings
    from kb.embed.embedder import get_embedder

    content = tmp / "many-content"
    content.mkdir()
    for i in range(n):
        d = {0: "0001-01-01", 1: "9999-12-31"}.get(i) or (date(1970, 1, 1) + timedelta(days=i)).isoformat()
        kind, text = _KINDS[i % len(_KINDS)]
        (content / f"post-{i:06d}.md").write_text(
            f"---\ntitle: Weekly ML/DL News ({i % 12 + 1}월 {i % 4 + 1}주차)\ndate: {d}\ntags: [ML]\n---\n\n"
            f"### {kind} {i}\n\n[참고링크](https://example.com/tool{i})\n\n{kind} {i}번. {text}\n", encoding="utf-8")
    pool = get_embedder().embed_passages([f"{k} {j}. {t}" for j in range(8) for k, t in _KINDS])
    build_index(Settings.load(content, tmp / "many-index"), full=True, embedder=PooledEmbedder(pool))
    return content, tmp / "many-index"


def page_times(browser, base: str, paths: list[str], timeout_ms: int = 120_000) -> dict[str, float | None]:
    """A fresh tab per path: ms until the app has drawn the whole page (its end marker); None past the timeout."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    out = {}
    for path in paths:
        ctx = browser.new_context(viewport=DESKTOP, locale="ko-KR")
        page = ctx.new_page()
        t0 = time.perf_counter()
        page.goto(base + path, wait_until="commit")
        try:
            page.locator(".kb-end").first.wait_for(state="attached", timeout=timeout_ms)
            out[path] = round((time.perf_counter() - t0) * 1000)
        except PlaywrightTimeout:
            out[path] = None
        ctx.close()
    return out


HUGE_POST = "2021-01-02-weekly-ml-dl-news.md"


def huge_post(content: Path, links: int = 200_000, chars: int = 60_000) -> Path:
    """Write a post whose first section holds `links` links and whose second holds `chars` characters of text
    (issue 21: a page must stay light whatever a post holds)."""
    links_md = " ".join(f"[link {i}](https://example.com/r/{i})" for i in range(links))
    words = ("트레이딩 봇 이야기 " * (chars // 10 + 1))[:chars]
    path = content / HUGE_POST
    path.write_text(f"---\ntitle: Weekly ML/DL News (1월 1주차)\ndate: 2021-01-02\n---\n### Many links\n\n"
                    f"[참고링크](https://example.com/many)\n\n{links_md}\n\n### Long text\n\n"
                    f"[참고링크](https://example.com/long)\n\n{words}\n", encoding="utf-8")
    return path


def scratch_index(tmp: Path) -> tuple[Path, Path]:
    """content/ + tests/eval/posts, built with the real model into tmp."""
    import shutil

    from kb.build.local import build_index
    from kb.core.config import Settings

    content = tmp / "content"
    content.mkdir()
    for src in (ROOT / "content", ROOT / "tests" / "eval" / "posts"):
        for p in sorted(src.glob("*.md")):
            shutil.copy(p, content / p.name)
    build_index(Settings.load(content, tmp / "index"))
    return content, tmp / "index"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.browser", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--index-dir", metavar="DIR", help="serve this index (default: a scratch index of the eval posts)")
    p.add_argument("--content", metavar="DIR", help="its content folder (with --index-dir)")
    p.add_argument("--rounds", type=int, default=3, help="times each of the five queries is typed (default 3)")
    p.add_argument("--compare", metavar="CHECKOUT", action="append", default=[],
                   help="also serve the app of this kb checkout (e.g. `git archive REV | tar -x -C DIR`) and type "
                   "every query into both, alternating (repeatable)")
    p.add_argument("--many-posts", type=int, metavar="N", help="instead: build N one-section posts (pooled vectors) "
                   "and time whole pages of the long lists (issues, resources, a topic, the search page)")
    p.add_argument("--cold-links", type=int, default=1, metavar="N", help="open the cold shared link on N fresh "
                   "servers per app, the apps alternating (medians; default 1)")
    p.add_argument("--after-topics", action="store_true", help="type the queries only once each server has assigned "
                   "its sections to topics (its Topics page is drawn): the steady state, not the first minute")
    p.add_argument("--json", action="store_true", help="end with one JSON line of every figure")
    return p.parse_args(argv)


MANY_PATHS = ["/?view=issues", "/?view=issues&page=400", "/?view=resources", "/?view=topics&topic=trading",
              "/?q=%ED%8A%B8%EB%A0%88%EC%9D%B4%EB%94%A9", "/?view=issues&post=post-010000.md&sec=0",
              "/?view=issues&page=2", "/?view=stats"]


def main_many(args) -> int:
    """--many-posts: the long lists (issues, resources, a long post), timed whole, in a fresh tab each."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="kb-bench-browser-") as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        if args.index_dir:                        # reuse a corpus many_posts built before
            content, index_dir = Path(args.content), Path(args.index_dir)
        else:
            content, index_dir = many_posts(tmp, args.many_posts)
        built = time.perf_counter() - t0
        other = {}
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, timeout=60_000)
            try:
                with serve(index_dir, content, tmp / "streamlit.log") as base:
                    first = page_times(browser, base, MANY_PATHS[:1], timeout_ms=600_000)    # opens the index
                    times = page_times(browser, base, MANY_PATHS)
                for i, checkout in enumerate(args.compare):         # the issues page only, given 5 minutes
                    with serve(index_dir, content, tmp / f"streamlit-{i}.log", root=Path(checkout).resolve()) as b:
                        page_times(browser, b, ["/?view=stats"], timeout_ms=600_000)          # opens the index
                        other[checkout] = page_times(browser, b, MANY_PATHS[:1], timeout_ms=300_000)
            finally:
                browser.close()
    print(f"{args.many_posts} posts built in {built:.0f} s; first page (opens the index) {first[MANY_PATHS[0]]} ms")
    for path, ms in times.items():
        print(f"  {'> 120 s' if ms is None else f'{ms:6d} ms'}  {path}")
    for checkout, t in other.items():
        ms = t[MANY_PATHS[0]]
        print(f"  [{checkout}] {'> 300 s' if ms is None else f'{ms} ms'}  {MANY_PATHS[0]}")
    if args.json:
        print(json.dumps({"posts": args.many_posts, "build_s": round(built, 1), "first_ms": first[MANY_PATHS[0]],
                          "page_ms": times, "compare": other, "load_1m": round(os.getloadavg()[0], 2)},
                         ensure_ascii=False))
    return 0


def _summary(typed: list[dict]) -> dict:
    ms = sorted(t["ms"] for t in typed)
    return {"median": statistics.median(ms), "p90": ms[int(0.9 * (len(ms) - 1))], "samples": len(ms),
            "per_query_median": {q: statistics.median(t["ms"] for t in typed if t["query"] == q) for q in QUERIES}}


def main(argv=None) -> int:
    from contextlib import ExitStack

    from playwright.sync_api import sync_playwright

    args = parse_args(argv)
    if args.many_posts:
        return main_many(args)
    with tempfile.TemporaryDirectory(prefix="kb-bench-browser-") as tmp:
        tmp = Path(tmp)
        if args.index_dir:
            index_dir = Path(args.index_dir)
            content = Path(args.content) if args.content else tmp
        else:
            print("building a scratch index of content/ + tests/eval/posts …", file=sys.stderr)
            content, index_dir = scratch_index(tmp)
        want = expected_rows(index_dir, [WARMUP, *QUERIES])
        load = os.getloadavg()[0]
        roots = {"this": ROOT, **{str(c): Path(c).resolve() for c in args.compare}}
        with ExitStack() as stack, sync_playwright() as pw:
            bases = {name: stack.enter_context(serve(index_dir, content, tmp / f"streamlit-{i}.log", root=root))
                     for i, (name, root) in enumerate(roots.items())}
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, timeout=60_000)
            try:
                cold = {name: first_frame(browser, base) for name, base in bases.items()}   # first page: loads
                warm = {name: first_frame(browser, base) for name, base in bases.items()}   # the model
                links: dict[str, list[dict]] = {name: [] for name in roots}
                for r in range(args.cold_links):            # a shared link is a fresh server's first page
                    for i, (name, root) in enumerate(list(roots.items())[::-1 if r % 2 else 1]):
                        with serve(index_dir, content, tmp / f"streamlit-link-{i}.log", root=root) as fresh:
                            links[name].append(cold_link(browser, fresh))
                link = {name: {k: round(statistics.median(x[k] for x in got)) for k in got[0]} | {"samples": got}
                        for name, got in links.items()}
                waited = {name: round(topics_assigned(browser, base), 1) for name, base in bases.items()
                          if args.after_topics}
                typed = typed_queries(browser, bases, want, args.rounds)
                post_ms = [open_in_post(browser, bases["this"]) for _ in range(3)]
            finally:
                browser.close()
    result = {
        "first_page_cold": cold, "first_page_warm": warm, "cold_shared_link": link,
        "typed_query_ms": {name: _summary([t for t in typed if t["app"] == name]) for name in roots},
        "open_in_post_ms": {"median": round(statistics.median(post_ms)) if None not in post_ms else None,
                            "samples": [None if x is None else round(x) for x in post_ms]},
        "load_1m": [round(load, 2), round(os.getloadavg()[0], 2)], "waited_for_topics_s": waited,
    }
    for name in roots:
        c, w = cold[name], warm[name]
        print(f"first page [{name}]: fresh server: page frame {c['frame_ms']} ms, search box {c['search_box_ms']} ms; "
              f"warm server: {w['frame_ms']} ms, {w['search_box_ms']} ms")
        print(f"cold shared link ?q=트레이딩 [{name}]: page frame {link[name]['frame_ms']} ms, first result "
              f"{link[name]['results_ms']} ms")
    for name, s in waited.items():
        print(f"[{name}] waited {s} s more for the topic assignment before typing")
    for name, t in result["typed_query_ms"].items():
        print(f"typed query → new cards drawn [{name}]: median {t['median']:.0f} ms, p90 {t['p90']:.0f} ms over "
              f"{t['samples']} ({args.rounds} rounds × {len(QUERIES)})")
        for q, ms in t["per_query_median"].items():
            print(f"  {ms:7.0f} ms  {q}")
    shown = result["open_in_post_ms"]["median"]
    print("open in post → section heading on screen: " + (f"median {shown} ms" if shown is not None
                                                           else "not on screen within 20 s"))
    print(f"load average (1 min) at start/end: {result['load_1m'][0]} / {result['load_1m'][1]}")
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    run(main)
