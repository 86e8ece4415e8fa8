"""Standard Korean ↔ English term pairs of the glossary (kb.text.glossary) reach sections written only in the other
language, on a post written for this test with the real model and a real index: an English query (and its
misspelling) finds the Korean section that names the term in Korean, in keyword mode (which has only the words) and
confidently in hybrid mode."""

from __future__ import annotations

import pytest
from fixtures.written import index_of_post

POST = """---
title: Weekly ML/DL News (2024.11.02)
date: 2024.11.02 12:00:00
categories:
- news
tags:
- ML
---

이번 주는 음성과 금융 도구.

### 회의 녹음 화자 분리 도구

[참고링크](https://example.com/diar)

회의 녹음에서 누가 언제 말했는지 나눠 주는 화자 분리 파이프라인. 음성 구간 검출 다음에 화자 임베딩을 군집화한다.

### 파이썬 차트 지표 모음

[참고링크](https://example.com/ta)

이동평균, RSI, 볼린저 밴드 같은 기술적 지표 100여 개를 데이터프레임 한 줄로 계산해 주는 파이썬 패키지.

### 상장사 공시 수집기

[참고링크](https://example.com/filings)

전자공시에서 상장사 재무제표를 내려받아 표로 정리해 주는 라이브러리.

### 문서 변환 OCR

[참고링크](https://example.com/doc-ocr)

스캔한 문서를 넣으면 표와 수식까지 살려서 마크다운으로 바꿔 주는 OCR 도구.

### 이미지 빈 곳 채우기

[참고링크](https://example.com/fill)

사진에서 지운 영역을 주변과 어울리게 메워 주는 인페인팅 모델. 큰 영역도 자연스럽게 채운다.
"""

# (query, the section it means, whether its first hybrid hit is confident: "financial statements" ranks its section
# first but weak, its cosine under the floor's threshold on this small post)
CASES = [("speaker diarization", "회의 녹음 화자 분리 도구", True),
         ("technical indicators", "파이썬 차트 지표 모음", True),
         ("technical indicatrs", "파이썬 차트 지표 모음", True),
         ("financial statements", "상장사 공시 수집기", False),
         ("inpainting", "이미지 빈 곳 채우기", True),
         ("scanned documents with equations to markdown", "문서 변환 OCR", True)]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    import kb

    return kb.open_index(index_of_post(tmp_path_factory.mktemp("glossary"), "2024-11-02-weekly-ml-dl-news.md", POST))


@pytest.mark.parametrize(("query", "heading", "confident"), CASES)
def test_an_english_term_finds_the_section_that_writes_it_in_korean(written, query, heading, confident):
    keyword = written.search(query, mode="keyword", k=3)
    assert keyword and keyword[0].heading == heading, [h.heading for h in keyword]
    hybrid = written.search(query, k=3)
    assert hybrid[0].heading == heading and hybrid[0].weak is not confident, [(h.heading, round(h.confidence, 2)) for h in hybrid]
