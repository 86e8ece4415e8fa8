"""Hybrid ranking of a description query: a section that holds at most one unit of a long query (the `lone` flag of
kb.query.relevance.ONE_WORD_UNITS) brings its keyword evidence into the fused score only × (1 −
kb.query.fusion.LONE_KEYWORD_DISCOUNT), so a section that merely repeats one word does not outrank the one the
meaning leg finds. A post written for this test, the real model and a real index."""

from __future__ import annotations

import pytest
from fixtures.written import index_of_post

from kb.query import fusion

POST = """---
title: Weekly ML/DL News (2024.12.07)
date: 2024.12.07 12:00:00
categories:
- news
tags:
- ML
---

이번 주는 이미지 도구와 작은 모델.

### 사진 보정 앱 모음

[참고링크](https://example.com/super-resolution)

이미지 초해상도: 이미지를 이미지로, 이미지 복원.

### GhostLite

[참고링크](https://example.com/ghostlite)

적은 FLOPs로 ImageNet top-1이 높은 CNN backbone 구조. depthwise convolution으로 값싸게 feature map을 만든다.

### 음성 받아쓰기 도구

[참고링크](https://example.com/stt)

회의 녹음을 텍스트로 받아써 주는 오픈소스 음성 인식 도구. 화자별로 나눠 준다.
"""

QUERY = "휴대폰에서 돌릴 수 있는 가벼운 이미지 인식 네트워크"


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    import kb

    return kb.open_index(index_of_post(tmp_path_factory.mktemp("fusion-one-word"), "2024-12-07-weekly-ml-dl-news.md",
                                       POST))


def test_a_section_that_repeats_one_word_of_a_description_does_not_outrank_its_answer(written, monkeypatch):
    """GhostLite shares no word with the query; the photo tools share "이미지" (four times), which is no unit of it
    ("이미지 인식" is one glossary term): both are judged by meaning (one_word), and meaning puts GhostLite first; with
    the discount off, the photo tools' keyword evidence puts them first."""
    hits = written.search(QUERY, k=3)
    assert all("one_word" in h.scores for h in hits[:2])
    assert hits[0].heading == "GhostLite", [(h.heading, round(h.scores["hybrid"], 3)) for h in hits]
    monkeypatch.setattr(fusion, "LONE_KEYWORD_DISCOUNT", 0.0)
    before = written.search(QUERY, k=3)
    assert before[0].heading == "사진 보정 앱 모음", [(h.heading, round(h.scores["hybrid"], 3)) for h in before]
