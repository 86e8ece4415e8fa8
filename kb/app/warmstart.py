"""The bundled search model, loaded in a background thread from the moment the app's script first runs (right
after the page frame is drawn), so that a cold shared link's first search does not load it only after the app's
imports and the index are ready (0.6 s of a 2.6 s cold link on the bundled content, BENCHMARKS.md)."""

from __future__ import annotations

import threading

from kb.core.config import DEFAULT_MODEL, Settings, canonical_model

_STARTED: dict[str, threading.Thread] = {}        # model name → its loading thread, once per process
_LOCK = threading.Lock()


def _load(model: str) -> None:
    try:
        from kb.embed.embedder import get_embedder

        get_embedder(model).embed_query("트레이딩 trading")
    except Exception:  # noqa: BLE001 - the index's warm-up loads it again, and a search reports the problem
        pass


def start() -> None:
    """Start loading the model the settings name (KB_MODEL; none: the bundled one) once per process. Only the bundled
    model is loaded ahead: a sentence-transformers model may not be the index's, and loading it costs seconds."""
    name = canonical_model(Settings.load().model)
    if name != DEFAULT_MODEL:
        return
    with _LOCK:
        if name not in _STARTED:
            _STARTED[name] = threading.Thread(target=_load, args=(name,), name="kb-model", daemon=True)
            _STARTED[name].start()


def wait() -> None:
    """Until every load started here has finished (the index's warm-up calls this before its first search, so the
    model is never created twice)."""
    with _LOCK:
        threads = list(_STARTED.values())
    for t in threads:
        t.join()
