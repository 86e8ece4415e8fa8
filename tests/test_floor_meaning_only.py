"""The relevance floor asks more of a hit found by meaning alone (kb.query.relevance.MEANING_ONLY_PENALTY), on a post
written for this test with the real model and a real index: a section that holds none of the query's words (after
glossary synonyms, stems and typo corrections) turns weak where the cosine alone barely cleared the threshold,
while a cross-lingual paraphrase's right section stays confident, and off-topic queries that borrow one ML word
into another field stay quiet."""

from __future__ import annotations

import pytest
from fixtures.written import index_of_post

from kb.query import relevance

POST = """---
title: Weekly ML/DL News (2023.06.10)
date: 2023.06.10 12:00:00
categories:
- news
tags:
- ML
---

이번 주는 모니터링 도구와 생성 모델 소식이 많다.

### whylogs

[참고링크](https://example.com/whylogs)

데이터 분포의 통계 프로필을 가볍게 기록해 두는 오픈소스 로깅 라이브러리. 배포된 모델에 들어오는 입력이 학습 때와 달라지는지
지켜볼 수 있고, 프로필끼리 비교해서 드리프트를 알려 준다.

### StyleGAN3

[참고링크](https://example.com/stylegan3)

엔비디아가 공개한 이미지 생성 모델. 에일리어싱을 없애서 얼굴을 돌리거나 옮겨도 머리카락 질감이 화면에 붙어 다니지 않는다.

### 프롬프트 엔지니어링 가이드 한국어판

[참고링크](https://example.com/prompt-guide-ko)

대규모 언어 모델에게 원하는 답을 얻도록 질문을 짜는 방법을 정리한 가이드를 한국어로 옮긴 자료. 예시와 함께 기법을 하나씩 설명한다.

### 키움 API로 만드는 자동매매

[참고링크](https://example.com/kiwoom-bot)

증권사 API에 파이썬으로 붙어서 주식을 자동으로 사고파는 프로그램을 만드는 강좌. 조건 검색과 주문 체결까지 다룬다.

### 한국어 음성 합성 모델

[참고링크](https://example.com/ko-tts)

한국어 문장을 자연스러운 목소리로 읽어 주는 음성 합성 모델. 화자 여러 명의 목소리를 학습했다.
"""

PARAPHRASE = "library that records statistical summaries of the data a deployed model receives"


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    import kb

    return kb.open_index(index_of_post(tmp_path_factory.mktemp("meaning-only"), "2023-06-10-weekly-ml-dl-news.md",
                                       POST))


def test_a_hit_sharing_no_word_with_the_query_needs_more_than_its_cosine(written, monkeypatch):
    """The English paraphrase's right section (Korean commentary; the glossary meets "library" alone, one word of
    eight, so it pays the penalty too: relevance.ONE_WORD_UNITS) stays confident on its cosine; the prompt guide,
    which shares none of its words and sits just over the cosine threshold, is confident without the penalty and
    weak with it. Since issue 17's eleventh pass (MARGIN 0.025) the penalty is one of two rules for a hit judged by
    meaning alone, with the everyday bar (relevance.EVERYDAY_MARGIN, its CSLS half keeping this cross-lingual right
    answer confident): the prompt guide is confident with both off."""
    hits = {h.heading: h for h in written.search(PARAPHRASE, k=5)}
    right, loose = hits["whylogs"], hits["프롬프트 엔지니어링 가이드 한국어판"]
    assert not right.weak and right.scores["keyword"] > 0
    assert loose.weak and loose.scores["keyword"] == 0
    monkeypatch.setattr(relevance, "EVERYDAY_MARGIN", -1.0)
    monkeypatch.setattr(relevance, "MEANING_ONLY_PENALTY", 0.0)
    before = {h.heading: h for h in written.search(PARAPHRASE, k=5)}
    assert not before["프롬프트 엔지니어링 가이드 한국어판"].weak
    assert before["whylogs"].confidence > right.confidence


@pytest.mark.parametrize("query", ["pipeline welding certification requirements", "gradient fill effect in Photoshop",
                                   "diffusion of innovations theory in marketing", "stock car racing"])
def test_an_off_topic_query_borrowing_one_ml_word_gets_no_confident_hit(written, query):
    hits = written.search(query, k=5)
    assert hits and all(h.weak for h in hits), [(h.heading, round(h.confidence, 2)) for h in hits]
