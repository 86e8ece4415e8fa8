"""The example queries the app shows (landing-page suggestions, the search box's placeholder): each gets a confident,
right answer on the bundled posts in content/ (tests/test_relevance.py keeps them so)."""

from __future__ import annotations

# (query, the heading of the bundled section it finds first)
EXAMPLES: tuple[tuple[str, str], ...] = (
    ("트레이딩", "AI trading"),
    ("NLP 강의", "Deepmind UCL NLP course"),
    ("음성 인식 책", "Speechbook"),
    ("한국어 GPT 튜토리얼", "KorGPT2 tutorial"),
    ("deep learning book", "Fastbook"),
)
PLACEHOLDER_COUNT = 3


def example_queries() -> list[str]:
    """The landing page's suggested queries."""
    return [q for q, _ in EXAMPLES]


def placeholder() -> str:
    """The search box's placeholder text, naming a few of the example queries."""
    return "Search every weekly issue: " + " · ".join(example_queries()[:PLACEHOLDER_COUNT])
