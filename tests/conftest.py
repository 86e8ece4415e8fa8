"""Shared fixtures: real indexes built once per test session with the real bundled model and real FAISS."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEED_DIR = ROOT / "content"
EVAL_POSTS = ROOT / "tests" / "eval" / "posts"


def _build(tmp: Path, sources: list[Path]) -> tuple[Path, Path]:
    from kb.build.local import build_index
    from kb.core.config import Settings

    content, index_dir = tmp / "content", tmp / "index"
    content.mkdir(parents=True)
    for src in sources:
        for p in sorted(src.glob("*.md")):
            shutil.copy(p, content / p.name)
    build_index(Settings.load(content, index_dir))
    return content, index_dir


@pytest.fixture(scope="session")
def seed_index_dir(tmp_path_factory) -> Path:
    """Index of the seed post only (content/). Read-only: copy it before changing anything."""
    return _build(tmp_path_factory.mktemp("seed"), [SEED_DIR])[1]


@pytest.fixture(scope="session")
def eval_corpus(tmp_path_factory) -> tuple[Path, Path]:
    """(content dir, index dir) of the seed plus the 8 evaluation posts. Read-only."""
    return _build(tmp_path_factory.mktemp("eval"), [SEED_DIR, EVAL_POSTS])


@pytest.fixture(scope="session")
def seed_index(seed_index_dir):
    import kb

    return kb.open_index(seed_index_dir)


@pytest.fixture(scope="session")
def eval_index(eval_corpus):
    import kb

    return kb.open_index(eval_corpus[1])


@pytest.fixture
def content_copy(tmp_path) -> Path:
    """A writable content folder holding the seed post."""
    d = tmp_path / "content"
    d.mkdir()
    for p in SEED_DIR.glob("*.md"):
        shutil.copy(p, d / p.name)
    return d


# ---- a fake embedder for fast unit tests (never instead of the real model in integration tests) ------------------

class FakeEmbedder:
    """Deterministic vectors from the text, no model: each token adds a fixed pseudo-random direction, so texts that
    share words are close (like simonw/llm's EmbedDemo). 64 dimensions, L2-normalised."""

    name = "fake-embedder"
    dim = 64

    def _vec(self, text: str):
        import hashlib

        import numpy as np

        from kb.text.tokenize import tokenize

        v = np.zeros(self.dim, dtype=np.float32)
        for tok in tokenize(text) or [" "]:
            seed = int.from_bytes(hashlib.sha256(tok.encode()).digest()[:4], "little")
            v += np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
        return v / (np.linalg.norm(v) or 1.0)

    def embed_passages(self, texts):
        import numpy as np

        return np.vstack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def embed_query(self, text):
        return self._vec(text)


@pytest.fixture(scope="session")
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture(scope="session")
def fake_index(tmp_path_factory, fake_embedder):
    """The seed and eval posts indexed with the fake embedder (seconds, no model)."""
    import kb
    from kb.build.local import build_index
    from kb.core.config import Settings

    tmp = tmp_path_factory.mktemp("fake")
    content = tmp / "content"
    content.mkdir()
    for src in (SEED_DIR, EVAL_POSTS):
        for p in sorted(src.glob("*.md")):
            shutil.copy(p, content / p.name)
    build_index(Settings.load(content, tmp / "index"), embedder=fake_embedder)
    return kb.open_index(tmp / "index", embedder=fake_embedder)


# ---- markers: `pytest -m "not slow"` runs what needs no model, server or browser ------------------------------------

REAL_FIXTURES = {"seed_index_dir", "seed_index", "eval_corpus", "eval_index"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One milvus-lite server on 127.0.0.1 per test module (the Milvus tests); yields its URI."""
    from fixtures.cli import stop
    from fixtures.milvus import start_server

    proc, uri = start_server(tmp_path_factory.mktemp("milvus-data"))
    yield uri
    stop(proc)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if REAL_FIXTURES & set(getattr(item, "fixturenames", ())) or item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.slow)
