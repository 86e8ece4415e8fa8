"""Shared fixtures: real indexes built once per test session with the real bundled model and real FAISS."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEED_DIR = ROOT / "content"
EVAL_POSTS = ROOT / "tests" / "eval" / "posts"


def _build(tmp: Path, sources: list[Path]) -> tuple[Path, Path]:
    from kb.build import build_index
    from kb.config import Settings

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
