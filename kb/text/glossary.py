"""Query expansion with a small bilingual (Korean ↔ English) glossary of general ML/DL vocabulary.

The keyword leg cannot see that "speech" and "음성" or "trading" and "트레이딩" are the same thing; a query term
found in a group of synonyms brings the group's other terms into the keyword query (at a lower weight), and a very
short query ("NLP", "강화학습") is spelled out for the embedding model as well. The groups are general domain
vocabulary, the kind of synonym list a search engine's analyzer carries, not a list of our own queries.
"""

from __future__ import annotations

import functools
import re

from kb.text.words import norm

GROUPS: list[tuple[str, ...]] = [
    ("nlp", "natural language processing", "자연어 처리", "자연어처리", "자연어", "언어 모델", "language model"),
    ("computer vision", "컴퓨터 비전", "비전", "vision", "이미지 인식", "image recognition"),
    ("object detection", "객체 탐지", "물체 탐지", "객체 검출", "detection"),
    ("segmentation", "세그멘테이션", "분할"),
    ("speech", "음성", "음성 인식", "음성인식", "speech recognition", "asr"),
    ("tts", "text to speech", "text-to-speech", "음성 합성", "음성합성", "speech synthesis"),
    ("audio", "오디오", "소리", "sound"),
    ("music", "음악"),
    ("reinforcement learning", "강화학습", "강화 학습", "rl"),
    ("trading", "트레이딩", "매매", "자동매매", "algorithmic trading", "알고리즘 트레이딩"),
    ("stock", "stocks", "주식", "증권", "equity"),
    ("quant", "퀀트", "quantitative"),
    ("finance", "financial", "금융", "파이낸스"),
    ("investment", "investing", "투자"),
    ("backtest", "backtesting", "백테스트", "백테스팅"),
    ("order book", "limit order book", "호가창", "오더북"),
    ("bitcoin", "비트코인", "crypto", "cryptocurrency", "크립토", "암호화폐", "가상화폐", "코인"),
    ("mlops", "ml ops", "엠엘옵스", "model deployment", "모델 배포", "모델 서빙", "model serving"),
    ("deployment", "deploy", "배포"),
    ("serving", "서빙"),
    ("experiment tracking", "실험 관리", "실험 추적"),
    ("pipeline", "파이프라인"),
    ("monitoring", "모니터링"),
    ("course", "courses", "lecture", "lectures", "강의", "강좌", "수업", "class"),
    ("tutorial", "tutorials", "튜토리얼", "가이드", "guide"),
    ("book", "books", "책", "도서", "서적", "ebook", "e-book"),
    ("paper", "papers", "논문"),
    ("survey", "서베이", "리뷰 논문", "review paper"),
    ("korean", "한국어", "한글"),
    ("dataset", "datasets", "데이터셋", "데이터 세트"),
    ("corpus", "corpora", "말뭉치", "코퍼스"),
    ("library", "라이브러리", "package", "패키지"),
    ("framework", "프레임워크"),
    ("gan", "gans", "generative adversarial network", "생성적 적대 신경망", "적대적 생성 신경망"),
    ("generative model", "생성 모델"),
    ("style transfer", "스타일 트랜스퍼", "스타일 전이", "화풍 변환", "화풍"),
    ("transfer learning", "전이 학습", "전이학습", "트랜스퍼 러닝"),
    ("hyperparameter", "hyperparameters", "하이퍼파라미터"),
    ("tuning", "튜닝"),
    ("translation", "machine translation", "번역", "기계번역"),
    ("free", "무료"),
    ("open source", "open-source", "오픈소스", "오픈 소스"),
    ("beginner", "beginners", "입문", "초보", "초보자", "입문자"),
    ("classification", "분류"),
    ("summarization", "요약"),
    ("question answering", "질의응답", "질의 응답"),
    ("chatbot", "챗봇", "dialogue", "대화"),
    ("recommender system", "recommendation system", "추천 시스템"),
    ("graph neural network", "gnn", "그래프 신경망"),
    ("self-supervised", "self supervised", "자기지도", "자기 지도"),
    ("pretraining", "pre-training", "pretrained", "사전학습", "사전 학습"),
    ("tokenizer", "tokenizers", "토크나이저", "tokenization", "토큰화"),
    ("morphological analyzer", "형태소 분석기", "형태소"),
    ("time series", "시계열"),
    ("anomaly detection", "이상 탐지", "이상치 탐지"),
    ("explainable ai", "xai", "interpretability", "interpretable", "설명 가능", "해석 가능"),
    ("competition", "대회", "경진대회", "kaggle", "캐글"),
    ("clean code", "클린 코드", "클린코드"),
    ("transformer", "transformers", "트랜스포머"),
    ("attention", "어텐션"),
    ("ocr", "문자 인식", "글자 인식", "optical character recognition"),
    ("model compression", "모델 경량화", "경량화", "모델 압축"),
    ("quantization", "양자화"),
    ("distillation", "knowledge distillation", "증류", "지식 증류"),
    ("pruning", "프루닝", "가지치기"),
    ("hate speech", "혐오 표현", "혐오표현"),
    ("sentiment", "감성 분석", "감정 분석"),
    ("feature store", "피처 스토어"),
    ("data version", "데이터 버전"),
    ("implementation", "구현", "구현체"),
    ("visualization", "시각화"),
    ("robot", "로봇", "robotics", "로보틱스"),
    ("autonomous driving", "self-driving", "자율주행"),
    ("medical", "의료", "healthcare"),
    ("semiconductor", "반도체"),
    ("gpu", "그래픽카드"),
    ("embedding", "embeddings", "임베딩"),
    ("benchmark", "benchmarks", "벤치마크"),
    ("information retrieval", "retrieval", "정보 검색"),
    ("multi-agent", "multi agent", "멀티에이전트", "멀티 에이전트", "다중 에이전트"),
    ("text-to-image", "text to image", "image generation", "이미지 생성"),
    ("inpainting", "image inpainting", "인페인팅"),
    ("super-resolution", "super resolution", "초해상도"),
    ("depth estimation", "깊이 추정"),
    ("topic modeling", "topic model", "토픽 모델링"),
    ("speaker diarization", "diarization", "화자 분리", "화자 분할"),
    ("voice cloning", "음성 복제", "목소리 복제"),
    ("technical indicator", "technical indicators", "기술적 지표", "기술 지표"),
    ("financial statements", "financial statement", "재무제표"),
    ("asset allocation", "자산 배분", "자산배분"),
    ("volatility", "변동성"),
    ("equation", "equations", "수식"),
    ("markdown", "마크다운"),
    ("video generation", "text-to-video", "비디오 생성", "영상 생성", "동영상 생성"),
    ("order execution", "주문 체결", "주문 집행"),
    ("image classification", "이미지 분류"),
    ("video understanding", "비디오 이해", "영상 이해"),
    ("semantic search", "시맨틱 검색", "의미 검색", "의미 기반 검색"),
    ("synthetic data", "합성 데이터"),
    ("multilingual", "다국어"),
    ("on-device", "온디바이스", "mobile", "모바일", "smartphone", "스마트폰"),
    ("vector database", "vector db", "벡터 데이터베이스", "벡터 db", "벡터 디비"),
    ("imitation learning", "모방학습", "모방 학습"),
    ("stablecoin", "stablecoins", "스테이블코인"),
    ("federal reserve", "fomc", "연준", "연방준비제도"),
    ("interest rate", "interest rates", "금리", "기준금리"),
    ("rate cut", "rate cuts", "금리 인하", "금리인하"),
    ("rate hike", "rate hikes", "금리 인상", "금리인상"),
    ("hedge fund", "hedge funds", "헤지펀드"),
    ("margin call", "마진콜"),
    ("layoff", "layoffs", "구조조정", "감원", "정리해고"),
    ("bank", "banks", "은행"),
    ("face", "faces", "얼굴"),
    ("face restoration", "얼굴 복원"),
]

EXPANSION_WEIGHT = 0.5
SHORT_QUERY_WORDS = 2

_TERM_INDEX: list[tuple[str, int, re.Pattern | None]] = []   # (normalised term, group, whole-word pattern if Latin)


for _g, _terms in enumerate(GROUPS):
    for _t in _terms:
        _n = norm(_t)
        _latin = None if re.search(r"[가-힣]", _t) else re.compile(rf"(?<![a-z0-9]){re.escape(_n)}(?![a-z0-9])")
        _TERM_INDEX.append((_n, _g, _latin))
_TERM_INDEX.sort(key=lambda t: -len(t[0]))


def matched_groups(query: str) -> list[int]:
    """Glossary groups named in the query: Korean terms match inside words (particles follow them),
    Latin terms match whole words only."""
    return list(_matched_groups(norm(query)))


@functools.lru_cache(maxsize=1024)
def _matched_groups(q: str) -> tuple[int, ...]:
    found: list[int] = []
    q_nospace = q.replace(" ", "")
    for term, group, latin in _TERM_INDEX:
        if group in found:
            continue
        if latin is None:
            hit = term in q or term.replace(" ", "") in q_nospace
        else:
            hit = term in q and latin.search(q) is not None
        if hit:
            found.append(group)
    return tuple(found)


def expansion_terms(query: str) -> list[str]:
    """Synonyms of the glossary terms in the query that the query does not already contain."""
    q = norm(query)
    out: list[str] = []
    for g in matched_groups(query):
        for t in GROUPS[g]:
            nt = norm(t)
            if nt not in q and nt not in out:
                out.append(nt)
    return out


@functools.lru_cache(maxsize=1)
def words() -> frozenset[str]:
    """Every word of every glossary term, lower-cased (the domain's own vocabulary: a typo correction that is one
    of them is preferred over one that is not)."""
    return frozenset(w for group in GROUPS for t in group for w in norm(t).split())


def spell_out(query: str) -> str:
    """For a very short query, the query followed by its synonyms (for the embedding model); else the query."""
    if len(query.split()) > SHORT_QUERY_WORDS:
        return query
    extra = expansion_terms(query)
    return f"{query} ({', '.join(extra[:6])})" if extra else query
