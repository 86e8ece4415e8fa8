"""The exceptions users can meet; each carries a one-line message that says what to do next."""

from __future__ import annotations


class KbError(Exception):
    """Base class: `str(err)` is a single line fit to show a user."""

    def __str__(self) -> str:  # always one line, whatever was passed in
        return " ".join(str(a) for a in self.args).replace("\n", " ").strip()


class IndexMissing(KbError):
    """No built index at the expected place."""


class IndexMismatch(KbError):
    """The index was built by another schema or embedding model."""


class IndexCorrupt(KbError):
    """An index file is missing, truncated or altered (checksum mismatch), or the folder is foreign."""


class IndexLocked(KbError):
    """Another rebuild holds the index lock."""


class IndexWriteError(KbError):
    """The new index could not be written (disk full, read-only folder); the old index is untouched."""


class BadPost(KbError):
    """A post that cannot be indexed; the message names the file and the reason."""


class ContentMissing(KbError):
    """The content folder does not exist or holds no indexable post."""


class ModelUnavailable(KbError):
    """The embedding model cannot be loaded offline."""


class BadQuery(KbError):
    """A query or filter that cannot be answered (e.g. an unparseable date)."""


class BadTopics(KbError):
    """The topics file cannot be read or describes a topic wrongly; the message names the file and the problem."""


class ReadOnly(KbError):
    """An edit was asked for while kb runs read-only (KB_READ_ONLY)."""
