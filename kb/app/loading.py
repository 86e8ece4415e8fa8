"""What the app loads once per server and index version: settings, the index (with the model, then the topic
assignment, warmed up behind it), the topics file; and the rebuild that replaces them."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import streamlit as st

import kb
from kb import backends
from kb import build as kbbuild
from kb import topics as kbtopics
from kb.app import data as appdata
from kb.app import warmstart
from kb.core.config import Settings
from kb.query import facets


def settings() -> Settings:
    return Settings.load()


# How long a page whose results were drawn before the topics were assigned waits to add them: the assignment of
# the bundled content takes ~1 s after the model (its topic phrases embedded); 100k sections take a minute or more.
TOPICS_FOLLOW_S = 2.0
TICK_S = 0.2


@dataclass
class Warm:
    """The warm-up of one opened index, in a background thread: `model` is set once the model has answered a
    search, `topics` once the topics file's assignment is computed (each also when that failed: the page that
    needs it then meets the error itself)."""
    model: threading.Event = field(default_factory=threading.Event)
    topics: threading.Event = field(default_factory=threading.Event)


def _warm_up(index, content_dir: str, warm: Warm) -> None:
    """Load the model with one search, then the app's derived data, then assign topics (50 s at 100k sections),
    off the page's thread: no page waits for what it does not draw.

    The garbage collector is off meanwhile, and what the warm-up loaded is then moved out of its sight
    (gc.freeze): those objects live as long as the index, and at 100k sections they are ~2 million, which every
    full collection scanned while every thread of the server stood still (2.8 s a collection; a typed query
    waited 1-5 s for them, BENCHMARKS.md). Frozen objects are still freed when nothing refers to them any more
    (an old index version); only cyclic garbage made during the warm-up stays."""
    gc.disable()
    try:
        warmstart.wait()                      # the model app.py started loading: never created twice
        index.search("트레이딩 trading", k=1)
    except Exception:  # noqa: BLE001 - a page that needs the model reports the problem itself
        pass
    finally:
        warm.model.set()
    try:
        appdata.derived(index)
        topics, _ = appdata.topics(content_dir)
        if topics is not None:
            kbtopics.assign(index, topics)
            facets.warm(index)              # stored for searches in other processes (kb.query.facets)
    except Exception:  # noqa: BLE001 - a page that needs the topics reports the problem itself
        pass
    finally:
        gc.freeze()
        gc.enable()
        warm.topics.set()


@st.cache_resource(show_spinner=False, max_entries=2)
def load_index(where: str, version: str, content_dir: str):
    """Open the index (once per server and index version) and start warming up the model behind it."""
    index = kb.open_index(settings=settings())
    warm = Warm()
    index.facets_ready = warm.topics.is_set            # topic facets (kb.query.facets) never make a search wait
    threading.Thread(target=_warm_up, args=(index, content_dir, warm), name="kb-warm-up", daemon=True).start()
    return index, warm


def get_index():
    s = settings().checked()
    version = backends.current_version(s)     # cheap: CURRENT, or the Milvus alias and last commit; new → reload
    with st.spinner("Opening the index…"):
        return load_index(backends.where(s), version, str(s.content_dir))


def model_ready(warm: Warm) -> None:
    """Wait (behind a spinner) for the model: a search needs it from here (topics are not waited for)."""
    if not warm.model.is_set():
        with st.spinner("Loading the search model (once per server, a few seconds)…"):
            warm.model.wait()


def assignment(index, warm: Warm, wait: bool = False):
    """The topic assignment of the topics file (kb.topics.Assignment); None while the background warm-up is still
    computing it (unless `wait`: then behind a spinner) and when the topics file is broken."""
    ts = get_topics()
    if ts is None:
        return None
    if not warm.topics.is_set():
        if not wait:
            return None
        with st.spinner("Sorting the sections into topics (once per index version; about a minute at 100,000 "
                        "sections)…"):
            warm.topics.wait()
    return kbtopics.assign(index, ts)


def draw_with_topics(index, warm: Warm, draw: Callable[[object], None]) -> Callable[[], None] | None:
    """draw(a) into a placeholder now, `a` being the topic assignment if it is ready, else None (cards without
    their topics); in that case also returns the redraw that fills them in (for when_topics_ready)."""
    box = st.empty()
    a = assignment(index, warm)
    with box.container():
        draw(a)
    if a is not None or get_topics() is None:
        return None

    def redraw() -> None:
        with box.container():
            draw(assignment(index, warm))

    return redraw


def when_topics_ready(warm: Warm, redraw: Callable[[], None]) -> None:
    """Call redraw() if the background assignment is done within TOPICS_FOLLOW_S, for a page that drew its results
    without topics (after everything else on it is drawn). The wait is short because a query typed meanwhile waits
    for it (Streamlit queues a fragment's rerun behind a running script); a page of a larger index gets its topics
    at the next query. An empty placeholder written every TICK_S lets a move to another page stop the wait."""
    tick = st.empty()
    deadline = time.monotonic() + TOPICS_FOLLOW_S
    while not warm.topics.wait(TICK_S):
        if time.monotonic() > deadline:
            return
        tick.empty()
    redraw()


def get_topics():
    """The topics file of the content folder (else the shipped one); None if it is broken (see topics_error)."""
    return appdata.topics(settings().content_dir)[0]


def topics_error() -> str:
    """The topics file's problem, in words that name no folder of this machine."""
    err = appdata.topics(settings().content_dir)[1]
    return err.replace(str(settings().content_dir), "the content folder").replace(
        str(kbtopics.DEFAULT_FILE), "the shipped topics file")


def rebuild(full: bool = False) -> None:
    """Build or update the index from the content folder, with a progress bar; then reload."""
    bar = st.progress(0.0, text="Reading posts…")

    def progress(done: int, total: int) -> None:
        if total:
            bar.progress(min(done / total, 1.0), text=f"Embedding changed sections: {done}/{total}")
        else:
            bar.progress(1.0, text="Nothing new to embed")

    report = kbbuild.build(settings(), full=full, progress=progress)
    st.session_state["flash"] = report.summary()
    st.rerun()
