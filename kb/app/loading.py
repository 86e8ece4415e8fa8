"""What the app loads once per server and index version: settings, the index (with the model warmed up behind
it), the topics file; and the rebuild that replaces them."""

from __future__ import annotations

import threading

import streamlit as st

import kb
from kb import backends
from kb import build as kbbuild
from kb import topics as kbtopics
from kb.app import data as appdata
from kb.core.config import Settings


def settings() -> Settings:
    return Settings.load()


def _warm_up(index, content_dir: str) -> None:
    """Load the model, run one search and assign topics, off the page's thread, so the first page does not wait."""
    try:
        index.search("트레이딩 trading", k=1)
        topics, _ = appdata.topics(content_dir)
        if topics is not None:
            kbtopics.assign(index, topics)
        appdata.derived(index)
    except Exception:  # noqa: BLE001 - a page that needs the model reports the problem itself
        pass


@st.cache_resource(show_spinner=False, max_entries=2)
def load_index(where: str, version: str, content_dir: str):
    """Open the index (once per server and index version) and start warming up the model behind it."""
    index = kb.open_index(settings=settings())
    warm = threading.Thread(target=_warm_up, args=(index, content_dir), name="kb-warm-up", daemon=True)
    warm.start()
    return index, warm


def get_index():
    s = settings().checked()
    version = backends.current_version(s)     # cheap: CURRENT, or the Milvus alias and last commit; new → reload
    with st.spinner("Opening the index…"):
        return load_index(backends.where(s), version, str(s.content_dir))


def model_ready(warm: threading.Thread) -> None:
    """Wait (behind a spinner) for the background warm-up: the model and topic assignment are needed from here."""
    if warm.is_alive():
        with st.spinner("Loading the search model (once per server, a few seconds)…"):
            warm.join()


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
