"""Topic facets (kb.query.facets): which queries name a topic, and, on the real eval index with the real model and
the shipped topics, that a topic-like query finds the topic's sections that never say its words."""

from __future__ import annotations

import numpy as np
import pytest

from kb import topics
from kb.query import explain, facets


@pytest.fixture(scope="module")
def shipped():
    return topics.load_topics(path=topics.DEFAULT_FILE)


@pytest.mark.parametrize(("query", "named"), [
    ("강화학습", ["rl"]),
    ("퀀트 트레이딩", ["trading"]),
    ("LLM 강의", ["nlp", "courses-books"]),
    ("한국어 언어모델", ["nlp", "korean"]),
    ("책 추천", ["courses-books"]),
    ("Computer Vision", ["vision"]),
])
def test_a_short_query_names_the_topics_whose_label_or_keyword_it_holds(shipped, query, named):
    assert facets.named_topics(query, shipped) == named


@pytest.mark.parametrize("query", [
    "KorGPT2",                                           # a Latin keyword ("GPT") counts as a whole word only
    "정책 변화",                                          # a one-syllable Korean keyword ("책") only as a word
    "강화학습으로 주식을 사고파는 봇 만들기",               # more than MAX_WORDS words: a description, not a topic
    "",
])
def test_other_queries_name_no_topic(shipped, query):
    assert facets.named_topics(query, shipped) == []


def test_a_query_naming_no_topic_gets_no_lift(eval_index):
    assert facets.boost(eval_index, "Hummingbird", np.arange(len(eval_index))) is None


def _rows(index, query: str, bonus: float | None) -> set[int]:
    index.facet_bonus = bonus
    try:
        return {h.row for h in index.search(query, k=10)}
    finally:
        index.facet_bonus = None


@pytest.mark.parametrize("query", ["MLOps", "computer vision"])
def test_a_topic_query_finds_the_topics_sections_that_never_say_its_words(eval_index, shipped, query):
    """The eval index's content folder has no topics file, so search uses the shipped topics, as here."""
    (name,) = facets.named_topics(query, shipped)
    members = set(topics.assign(eval_index, shipped).rows(name))
    words = explain.term_pattern(explain.match_terms(query))          # the query's words and glossary synonyms
    silent = {r for r in members if not words.search("\n".join([eval_index.sections[r].heading,
                                                               eval_index.sections[r].text,
                                                               *eval_index.sections[r].names]))}
    top, without = _rows(eval_index, query, None), _rows(eval_index, query, 0.0)
    assert len(silent & top) >= 3
    assert len(silent & top) > len(silent & without)
    assert len(members & top) >= 9                                     # the first page is the topic's


def test_a_lifted_hit_says_why(eval_index):
    hits = eval_index.search("MLOps", k=10)
    lifted = [h for h in hits if "topic_facet" in h.scores]
    assert lifted and all(h.scores["topic_facet"] == pytest.approx(facets.FACET_BONUS) for h in lifted)
    why = explain.why(lifted[0], "MLOps", eval_index.sections[lifted[0].row])
    assert "The query names a topic this section is in." in why.lines()
    assert not any("topic_facet" in h.scores for h in eval_index.search("MLOps", mode="semantic", k=10))


def test_an_index_whose_topics_are_not_ready_uses_a_stored_assignment_only(eval_index, tmp_path, monkeypatch):
    """The app sorts sections into topics behind the page: until that is done, search does not wait for it; an
    assignment an earlier process stored is used at once."""
    monkeypatch.setenv("KB_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(facets, "_MEMBERS", {})
    try:
        eval_index.facets_ready = lambda: False
        assert not any("topic_facet" in h.scores for h in eval_index.search("MLOps", k=10))
        eval_index.facets_ready = lambda: True
        assert any("topic_facet" in h.scores for h in eval_index.search("MLOps", k=10))
        monkeypatch.setattr(facets, "_MEMBERS", {})                 # a new process: only the disk has it
        eval_index.facets_ready = lambda: False
        assert any("topic_facet" in h.scores for h in eval_index.search("MLOps", k=10))
    finally:
        eval_index.facets_ready = None


def test_a_large_index_uses_a_stored_assignment_only(eval_index, tmp_path, monkeypatch):
    """Above COMPUTE_LIMIT sections a search never computes the assignment; once the app or `python -m kb.topics`
    stored it (facets.warm), a search in a new process (here: an empty memory cache) finds it on disk."""
    monkeypatch.setenv("KB_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(facets, "COMPUTE_LIMIT", 0)
    monkeypatch.setattr(facets, "_MEMBERS", {})
    rows = np.arange(len(eval_index))
    assert facets.boost(eval_index, "MLOps", rows) is None
    assert not any("topic_facet" in h.scores for h in eval_index.search("MLOps", k=10))
    facets.warm(eval_index)
    assert list(tmp_path.glob("topic-members-*"))
    monkeypatch.setattr(facets, "_MEMBERS", {})
    lift = facets.boost(eval_index, "MLOps", rows)
    assert lift is not None and lift.max() == facets.FACET_BONUS
    assert any("topic_facet" in h.scores for h in eval_index.search("MLOps", k=10))
