"""Misspelled queries read as their writer meant them, on a post written for this test with the real model and a
real index (kb.query.typos): between two domain words as near as each other the one that makes a glossary term with
the query's other words wins ("컴퓨터 바전" is "컴퓨터 비전", not "컴퓨터 버전", though the post says "버전" and never
"비전"), and a real Korean word with a particle is never a sure correction ("거리를" is distance, not "처리를")."""

from __future__ import annotations

import pytest
from fixtures.written import index_of_post

from kb.query import typos

POST = """---
title: Weekly ML/DL News (2023.07.01)
date: 2023.07.01 12:00:00
categories:
- news
tags:
- ML
---

이번 주는 컴퓨터 비전 모델과 데이터 도구 소식.

### YOLOv8

[참고링크](https://example.com/yolov8)

Ultralytics가 공개한 computer vision 모델. 사진 속 물체를 찾아 상자를 치는 object detection과 segmentation을 한
패키지에서 학습하고 추론할 수 있다.

### Depth Pro

[참고링크](https://example.com/depth-pro)

사진 한 장만 보고 물체가 얼마나 떨어져 있는지 미터 단위로 추정하는 단안 깊이 추정 모델. 카메라 정보 없이도 선명한 깊이 지도를 낸다.

### DVC 3.0

[참고링크](https://example.com/dvc)

데이터와 모델 파일의 버전 관리를 깃처럼 해 주는 도구의 새 버전. 실험 결과를 브랜치별로 비교할 수 있다.

### 한국어 문서 처리 파이프라인

[참고링크](https://example.com/ko-docs)

한국어 문서를 읽어 문장 분리, 형태소 분석, 개체명 인식까지 한 번에 처리하는 파이프라인.
"""


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    import kb

    return kb.open_index(index_of_post(tmp_path_factory.mktemp("typo-context"), "2023-07-01-weekly-ml-dl-news.md",
                                       POST))


def test_a_correction_between_domain_words_as_near_follows_the_query_s_other_words(written):
    """"바전" is one vowel key from both "버전" (which the post writes) and "비전" (which it never writes); with
    "컴퓨터" before it the glossary term "컴퓨터 비전" decides, with "데이터" the term "데이터 버전"; alone, nothing
    decides and the order of the candidates stands (a term of one word, "비전", says nothing about the query)."""
    vocab = written.typos.vocabulary()
    assert vocab.known("버전") and not vocab.known("비전") and {"버전", "비전"} <= vocab.domain
    assert written.typos.correct("컴퓨터 바전").fixed == "컴퓨터 비전"
    assert written.typos.correct("데이터 바전").fixed == "데이터 버전"
    assert written.typos.correct("바전").fixed == "버전"
    hits = written.search("컴퓨터 바전", k=3)
    assert hits.did_you_mean == "컴퓨터 비전"
    assert hits[0].heading == "YOLOv8" and not hits[0].weak, [(h.heading, round(h.confidence, 2)) for h in hits]


def test_a_real_word_with_a_particle_keeps_its_meaning(written):
    """"거리를" (distance + particle) is a word the model knows: the meaning leg and the floor read the query as
    typed, so the depth model it describes comes first, and no "Did you mean" is offered."""
    q = "사진 한 장으로 거리를 추정하는 모델"
    fix = written.typos.correct(q)
    assert fix is not None and dict(fix.words).get("거리를") not in (None, "거리를")   # the keyword leg still tries
    assert typos.surely_typos(fix, written.embedder) == {}
    hits = written.search(q, k=3)
    assert hits[0].heading == "Depth Pro" and hits.did_you_mean is None


def test_only_a_term_of_several_words_decides_between_corrections_as_near():
    """Fast, no model: the query's other words decide through a glossary term of two or more words only."""
    vocab = typos.Vocabulary({"버전": 6, "tracking": 3, "trading": 3})
    assert typos.correct("컴퓨터 바전", vocab).fixed == "컴퓨터 비전"        # "컴퓨터 비전" is a term
    assert typos.correct("데이터 바전", vocab).fixed == "데이터 버전"        # "데이터 버전" is one
    assert typos.correct("바전", vocab).fixed == "버전"                      # nothing decides: the order stands
    assert typos.correct("tracing tool", vocab).fixed == "tracking tool"   # "trading" alone is a term of one word
    assert typos.correct("experiment tracing", vocab).fixed == "experiment tracking"
    assert typos.correct("algorithmic tracing", vocab).fixed == "algorithmic trading"   # the term, not the order
