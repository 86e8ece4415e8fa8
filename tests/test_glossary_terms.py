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


# issue 17's tenth pass: pairs the posts of external18–21 write in Korean (docs/eval.md, "Issue 17, tenth pass")
POST_TENTH = """---
title: Weekly ML/DL News (2024.11.09)
date: 2024.11.09 12:00:00
categories:
- news
tags:
- ML
---

이번 주는 검색과 작은 모델.

### 행동 인식 코드베이스

[참고링크](https://example.com/actions)

비디오 이해 연구를 위한 공식 코드베이스. 느린 경로와 빠른 경로를 합친 네트워크로 행동 인식 벤치마크를 학습한다.

### 문장 임베딩 검색 도구

[참고링크](https://example.com/search)

문서를 임베딩으로 인덱싱해 두고 자연어 질문과 뜻이 가까운 문장을 찾아 주는 시맨틱 검색 라이브러리.

### 교과서 같은 데이터로 학습한 작은 언어모델

[참고링크](https://example.com/small-lm)

교과서 수준의 합성 데이터로 학습한 2.7B 파라미터 소형 언어모델. 추론과 코딩 벤치마크에서 큰 모델과 비슷하다.

### 가벼운 합성곱 신경망

[참고링크](https://example.com/light-cnn)

연산량을 줄인 경량 CNN 구조. 같은 연산량에서 더 정확해서 모바일 기기에서 이미지 분류 backbone으로 쓰기 좋다.

### 파일 검색 엔진

[참고링크](https://example.com/full-text)

BM25로 문서와 image 파일 이름을 빠르게 찾는 full-text search 엔진. 데이터 분류 규칙도 정할 수 있다.
"""

# (each fails without its pair; "semantic search" finds 시맨틱 검색 here without one, through the loanword)
CASES_TENTH = [("video understanding", "행동 인식 코드베이스"),
               ("synthetic data", "교과서 같은 데이터로 학습한 작은 언어모델"),
               ("image classification on a smartphone", "가벼운 합성곱 신경망")]


@pytest.fixture(scope="module")
def written_tenth(tmp_path_factory):
    import kb

    return kb.open_index(index_of_post(tmp_path_factory.mktemp("glossary10"), "2024-11-09-weekly-ml-dl-news.md",
                                       POST_TENTH))


@pytest.mark.parametrize(("query", "heading"), CASES_TENTH)
def test_an_english_term_of_the_tenth_pass_finds_its_korean_section(written_tenth, query, heading):
    keyword = written_tenth.search(query, mode="keyword", k=3)
    assert keyword and keyword[0].heading == heading, [h.heading for h in keyword]
    hybrid = written_tenth.search(query, k=3)
    assert hybrid[0].heading == heading and not hybrid[0].weak, [(h.heading, round(h.confidence, 2)) for h in hybrid]
