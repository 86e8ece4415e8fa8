"""Typo tolerance on the real model and a real index (the seed plus the 8 evaluation posts): the kinds of slips
people make (a wrong first letter, a wrong Hangul syllable, a dropped syllable, a left-out space), exact beats
fuzzy, and misspelled look-alikes of off-topic queries stay quiet (kb.query.typos, kb.text.fuzzy)."""

from __future__ import annotations

import pytest

from kb.query import typos


def _top(index, q: str, mode: str = "hybrid", k: int = 3) -> list[str]:
    return [h.heading for h in index.search(q, mode=mode, k=k)]


@pytest.mark.parametrize("typo,meant,heading", [
    ("bision transformer", "vision transformer", "Vision Transformer (ViT)"),        # a wrong first letter
    ("코인 자동메메 프로그램", "코인 자동매매 프로그램", "파이썬 비트코인 자동매매"),     # two jamo of a word
    ("단백질 구저 예측", "단백질 구조 예측", "단백질 구조 예측 AlphaFold2"),            # a wrong syllable
    ("강화학슴 프레임워크", "강화학습 프레임워크", "Acme: 강화학습 프레임워크"),         # a final consonant
])
def test_a_misspelled_query_finds_what_it_meant_in_both_modes_and_says_did_you_mean(eval_index, typo, meant, heading):
    for mode in ("hybrid", "keyword"):
        hits = eval_index.search(typo, mode=mode, k=3)
        assert hits[0].heading == heading and not hits[0].weak, (mode, _top(eval_index, typo, mode))
        assert hits.did_you_mean == meant


def test_a_dropped_syllable_is_put_back(eval_index):
    fix = eval_index.typos.correct("하이퍼파라터 튜닝")
    assert fix is not None and fix.words == [("하이퍼파라터", "하이퍼파라미터")]
    assert {"Ray Tune", "Optuna"} <= set(_top(eval_index, "하이퍼파라터 튜닝"))


def test_a_left_out_space_is_no_typo(eval_index):
    """"그래프신경망" is "그래프 신경망" without its space: nothing to correct (no spelling of it occurs as a word),
    and its bigrams still find the course."""
    assert eval_index.typos.correct("그래프신경망 강의") is None
    hits = eval_index.search("그래프신경망 강의", k=3)
    assert hits[0].heading == "Stanford CS224W 2021" and not hits[0].weak and hits.did_you_mean is None


def test_exact_beats_near_beats_far(eval_index):
    """The same section scores highest for the exact word, then for one edit, then for a wrong first letter."""
    def bm25(q: str) -> float:
        return next(h.scores["bm25"] for h in eval_index.search(q, mode="keyword", k=5)
                    if h.heading == "Vision Transformer (ViT)")

    assert bm25("vision transformer") > bm25("vission transformer") > bm25("bision transformer")
    fix = eval_index.typos.correct("vission bision")
    assert fix.weight("vission") == typos.FUZZY_WEIGHT > fix.weight("bision") == typos.FAR_WEIGHT
    exact = eval_index.search("강화학습 프레임워크", mode="keyword", k=1)[0]
    fuzzy = eval_index.search("강화학슴 프레임워크", mode="keyword", k=1)[0]
    assert exact.heading == fuzzy.heading and fuzzy.scores["bm25"] < exact.scores["bm25"]


def test_a_misspelled_query_is_as_confident_as_the_query_it_meant(eval_index):
    """"objetc detection libary": the model reads the typos as noise (weak before), the corrected query is sure."""
    hits = eval_index.search("objetc detection libary", k=3)
    assert hits[0].heading == "Detectron2" and not hits[0].weak


@pytest.mark.parametrize("q", ["learning to drive a car", "cook book for beginners", "bokk club meeting",
                               "modle train set for christmas", "겨울 패딩 할인 매장", "아파트 전세 대출 금리",
                               "부산 해운대 맛집 추천"])
def test_off_topic_queries_that_look_like_typos_stay_quiet(eval_index, q):
    """Real words the posts lack ("drive" → "dive", "cook" → "book", "부산" → "분산") are corrected in the keyword
    leg, but never make the query sure of itself, and no real-word fragment ("려울" of "어려울") counts as a word."""
    for mode in ("hybrid", "keyword"):
        hits = eval_index.search(q, mode=mode, k=10)
        assert not [h.heading for h in hits if not h.weak], mode
        assert hits.did_you_mean is None


def test_the_model_tells_whole_words_from_typos(eval_index):
    """What makes a correction sure (typos.surely_typos): the model reads a real word as one token of its vocabulary."""
    whole = eval_index.embedder.whole_word
    assert whole("drive") and whole("cook") and whole("부산")
    assert not whole("pretrainning") and not whole("objetc") and not whole("강화학슴")
    fix = eval_index.typos.correct("learning to drive a car with objetc")
    assert dict(fix.words)["drive"] == "dive" and typos.surely_typos(fix, eval_index.embedder) == {"objetc": "object"}


def test_the_did_you_mean_report_judges_intended_and_typo_lines_and_skips_the_rest():
    """kb.eval.suggestions reads both eval formats: "intended" (hand-written set) and "typo": [wrong, right]."""
    from types import SimpleNamespace

    from kb.eval import suggestions

    answers = {"objetc detection": "object detection", "데이턱로 예측": "데이터로 예측", "스피치브레인": "x"}
    index = SimpleNamespace(search=lambda q, mode, k: SimpleNamespace(did_you_mean=answers.get(q)))
    s = suggestions(index, [{"query": "objetc detection", "intended": "Object detection"},
                            {"query": "데이턱로 예측", "typo": ["데이턱로", "데이터로"]},
                            {"query": "스피치브레인", "intended": None}], [{"query": "clean query"}])
    assert (s.right, s.wrong, s.none, s.false) == (2, 0, 0, 0)
