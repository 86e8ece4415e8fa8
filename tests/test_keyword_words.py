"""Keyword mode's "words" rule (kb.query.fusion.WORDS_RULE_POOL): its first candidates rank by how many of the
query's units each holds, then by keyword score, on a post written for this test with the real model and a real
index. BM25 over Hangul bigrams lets one long word (강화학습: three bigrams) outweigh two short ones (트레이딩, 환경)."""

from __future__ import annotations

import pytest
from fixtures.written import index_of_post

import kb
from kb.query import fusion

POST = """---
title: Weekly ML/DL News (2023.06.10)
date: 2023.06.10 12:00:00
categories:
- news
tags:
- ML
---

이번 주는 강화학습과 트레이딩 소식.

## 목차

- [SheepRL](#SheepRL)
- [Gym Trading Env](#Gym-Trading-Env)

### SheepRL

[참고링크](https://github.com/Eclectic-Sheep/sheeprl)

PyTorch 기반의 강화학습 알고리즘 모음. PPO, SAC 같은 강화학습 기본 알고리즘은 물론 DreamerV3 같은 model-based 강화학습까지 깔끔하게 구현되어 있다.

### Gym Trading Env

[참고링크](https://github.com/ClementPerroud/Gym-Trading-Env)

Gymnasium 인터페이스로 만든 트레이딩 시뮬레이션 환경. 가격 데이터 DataFrame만 넣으면 포지션을 조절하는 에이전트를 학습시킬 수 있고, 거래 수수료도 반영된다.

### Freqtrade

[참고링크](https://github.com/freqtrade/freqtrade)

암호화폐 트레이딩 봇 프레임워크. 백테스트와 트레이딩 전략 최적화를 지원하고 텔레그램으로 봇을 제어할 수 있다.

### Dev Containers

[참고링크](https://containers.dev/)

개발 환경을 컨테이너로 정의하는 표준. 팀 전체가 같은 환경에서 작업할 수 있어서 환경 설정 시간이 줄어든다.

### QuantStats

[참고링크](https://github.com/ranaroussi/quantstats)

포트폴리오 성과 분석 라이브러리. 트레이딩 전략의 샤프 비율, 낙폭 같은 지표를 리포트로 뽑아준다.
"""


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    return kb.open_index(index_of_post(tmp_path_factory.mktemp("words-rule"), "2023-06-10-weekly-ml-dl-news.md", POST))


@pytest.mark.parametrize("query", ["트레이딩 강화학습 환경", "강화학습 트레이딩 환경", "트레이딩 강화학습 환겅"])
def test_keyword_mode_puts_the_section_holding_more_query_words_first(index, query):
    """The trading environment holds two of the three words (트레이딩, 환경; a misspelled 환겅 corrected) and comes
    first, above the RL library whose one word (강화학습, three times) scores higher in BM25."""
    hits = index.search(query, mode="keyword", k=3)
    assert [h.heading for h in hits[:2]] == ["Gym Trading Env", "SheepRL"]
    assert hits[1].scores["keyword"] > hits[0].scores["keyword"]        # BM25 alone would have it the other way


def test_without_the_rule_bm25_alone_ranks_the_one_long_word_first(index, monkeypatch):
    """The same query with the rule off (no candidate re-ranked): the order is the keyword score's."""
    monkeypatch.setattr(fusion, "WORDS_RULE_POOL", 0)
    assert [h.heading for h in index.search("트레이딩 강화학습 환경", mode="keyword", k=3)[:2]] == ["SheepRL", "Gym Trading Env"]


def test_hybrid_mode_is_not_reranked_by_words(index, monkeypatch):
    """The rule is keyword mode's: hybrid's order is the same with it off."""
    on = [h.heading for h in index.search("트레이딩 강화학습 환경", k=5)]
    monkeypatch.setattr(fusion, "WORDS_RULE_POOL", 0)
    assert [h.heading for h in index.search("트레이딩 강화학습 환경", k=5)] == on
