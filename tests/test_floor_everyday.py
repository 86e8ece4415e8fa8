"""The relevance floor's second bar for a hit judged by meaning alone (kb.query.relevance.EVERYDAY_MARGIN): its cosine
must beat its section's own closeness to everyday sentences. On a post written for this test, with the real model and a
real index: a casual competition write-up is near everyday text, and a query from civil engineering that borrows one
of its words ("rating") got it as a confident hit; the bar quiets it, while right answers judged by meaning alone, on
that section and another, stay confident."""

from __future__ import annotations

import numpy as np
import pytest
from fixtures.written import index_of_post

from kb.query import relevance

POST = """---
title: Weekly ML/DL News (2020.05.02)
date: 2020.05.02 12:00:00
categories:
- news
tags:
- ML
---

이번 주는 대회와 도구 소식.

### Review Rating Challenge

[참고링크](https://example.com/review-rating)

캐글에서 새로 열린 대회로, 상품 리뷰 문장이 주어지면 별점이 몇 점인지 맞히면 된다. 데이터가 아주 크지 않아서 가볍게 해보기 좋고,
BERT 같은 모델로 푼 노트북도 벌써 몇 개 올라왔다. 주말에 심심하면 한번 참여해 보자.

### Lantern

[참고링크](https://example.com/lantern)

PostgreSQL 안에서 벡터 검색을 할 수 있게 해 주는 확장. 임베딩을 테이블에 저장하고 SQL로 가까운 이웃을 찾는다.

### Bolero

[참고링크](https://example.com/bolero)

여러 화자의 목소리를 흉내 내는 오픈소스 음성 합성(TTS) 모델. 짧은 샘플 몇 초만 있으면 목소리를 복제하고, 감정과 말 빠르기를
조절할 수 있다.
"""


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    import kb

    return kb.open_index(index_of_post(tmp_path_factory.mktemp("everyday"), "2020-05-02-weekly-ml-dl-news.md", POST))


def test_a_query_from_another_field_is_quiet_on_a_section_near_everyday_text(written, monkeypatch):
    query = "bridge load rating inspection manual"
    hits = written.search(query, k=3)
    assert hits[0].heading == "Review Rating Challenge" and all(h.weak for h in hits), \
        [(h.heading, round(h.confidence, 2)) for h in hits]
    monkeypatch.setattr(relevance, "EVERYDAY_MARGIN", -1.0)          # the bar off: the same hit was confident
    before = written.search(query, k=3)
    assert before[0].heading == "Review Rating Challenge" and not before[0].weak


def test_a_hit_the_bar_holds_weak_says_why_in_the_cli_and_the_app(written):
    """The held hit carries its section's closeness to everyday text (scores["everyday"]); the CLI's reasons and the
    app's plain ones say that its text is close to everyday writing, not that it shares little with the query."""
    from kb.app.results import plain_reasons
    from kb.query import explain

    query = "bridge load rating inspection manual"
    hit = written.search(query, k=3)[0]
    assert hit.weak and hit.scores.get("everyday", 0) > 0.5, hit.scores
    w = explain.why(hit, query, written.sections[hit.row])
    assert any(line.startswith("Its text is close to everyday writing") for line in w.lines()), w.lines()
    plain = plain_reasons(w)
    assert any("general enough to seem close to many searches" in line for line in plain), plain
    assert not any("shares little" in line for line in plain), plain


@pytest.mark.parametrize(("query", "heading"), [
    ("predict the star score of a product review", "Review Rating Challenge"),   # one shared word, the right answer
    ("vector search inside postgres", "Lantern"),
])
def test_right_answers_judged_by_meaning_alone_stay_confident(written, query, heading):
    hit = written.search(query, k=3)[0]
    assert hit.heading == heading and not hit.weak and "one_word" in hit.scores, (hit.heading, hit.confidence)
    assert "everyday" not in hit.scores                 # not held: the bar's reason is not given


def test_the_shipped_background_query_vectors_are_the_models(written):
    """kb/query/data/background-*.npz holds the background sentences embedded as queries too
    (relevance.write_shipped_vectors)."""
    assert relevance._shipped(written.embedder, "queries") is not None         # read from the file, not embedded
    shipped = relevance.background_queries(written.embedder)
    fresh = np.stack([written.embedder.embed_query(x) for x in relevance.background_sentences()])
    assert shipped.shape == fresh.shape and float(np.min(np.sum(shipped * fresh, axis=1))) > 0.999
