"""Typo tolerance on the real model and a real index (the seed plus the 8 evaluation posts): the kinds of slips
people make (a wrong first letter, a wrong Hangul syllable, a dropped syllable, a left-out space), exact beats
fuzzy, and misspelled look-alikes of off-topic queries stay quiet (kb.query.typos, kb.text.fuzzy)."""

from __future__ import annotations

import json

import pytest
from fixtures.written import index_of_post

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


def test_why_a_misspelled_query_found_a_section_names_the_corrected_word_not_meaning(eval_index):
    """A hit found through a corrected word says which word, as corrected, it holds; in keyword mode, where no
    meaning was compared, a hit holding no query word as typed is never said to be "found by meaning alone"."""
    from kb.app.results import plain_reasons
    from kb.query import explain
    for mode in ("keyword", "hybrid"):
        hits = eval_index.search("강화학슴 프레임워크", mode=mode, k=3)
        top = hits[0]
        w = explain.why(top, "강화학슴 프레임워크", eval_index.sections[top.row], meant=hits.did_you_mean)
        assert any(word == "강화학습" for word, _ in w.corrected), w
        assert not any("meaning alone" in x for x in w.lines() + plain_reasons(w)), (mode, w.lines())
        bare = explain.why(top, "강화학슴", eval_index.sections[top.row])     # the correction not passed on
        if mode == "keyword":
            assert bare.spelling_only() and not any("meaning alone" in x for x in bare.lines()), bare.lines()
        else:
            assert not bare.spelling_only()
    # a section that says the corrected word by a synonym ("RL" for 강화학습) is explained by that synonym
    hits = eval_index.search("강화학슴 트레이딩", mode="keyword", k=5)
    hit = next(h for h in hits if h.heading == "AI trading")
    w = explain.why(hit, "강화학슴 트레이딩", eval_index.sections[hit.row], meant=hits.did_you_mean)
    assert any(syn.lower() == "rl" for syn, _ in w.via), w.lines()


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
    assert whole("drive") and whole("cook") and whole("부산") and whole("table")     # "table" → "stable" is no typo
    assert not whole("pretrainning") and not whole("objetc") and not whole("강화학슴")
    fix = eval_index.typos.correct("learning to drive a car with objetc")
    assert dict(fix.words)["drive"] == "dive" and typos.surely_typos(fix, eval_index.embedder) == {"objetc": "object"}


def test_a_real_korean_word_with_a_particle_is_no_sure_typo(eval_index):
    """The model reads "거리를" as "거리" (distance) and a particle: a real word the posts lack is never a sure
    correction, with or without its particle ("사진 한 장으로 거리를 추정하는 모델" meant distance, not "처리를"),
    while a misspelled word with a particle still is ("기록윽로" → "기록으로")."""
    embedder = eval_index.embedder
    assert not embedder.whole_word("거리를") and typos.reads_whole(embedder.whole_word, "거리를")
    assert not typos.reads_whole(embedder.whole_word, "기록윽로")
    fix = typos.Correction("거리를 기록윽로", "처리를 기록으로", [("거리를", "처리를"), ("기록윽로", "기록으로")],
                           {"거리를": 1.0, "기록윽로": 1.0})
    assert typos.surely_typos(fix, embedder) == {"기록윽로": "기록으로"}
    assert typos.did_you_mean(fix, fix.words, embedder.whole_word) == "거리를 기록으로"


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


ENGLISH_ONLY_POST = """---
title: Weekly ML news
date: 2023.10.07 12:00:00
tags:
- ML
---

This week's links.

### Gridworld Gym

[link](https://github.com/example/gridworld-gym)

A reinforcement learning library: PPO and DQN agents with a common API for training on simulated environments.

### Tunesmith

[link](https://github.com/example/tunesmith)

A music generation model that composes a short song from a text prompt.

### Tablecheck

[link](https://github.com/example/tablecheck)

Data validation for pipelines: declare rules for each column and get a report of the rows that break them.

### Pixel Parser

[link](https://github.com/example/pixel-parser)

An object detection model that finds and boxes every item on a receipt photo.

### Weekend notes

A recipe for sourdough bread and a photo of the garden.
"""


@pytest.fixture(scope="module")
def english_only_dir(tmp_path_factory):
    """The index folder of a post that never spells its Korean words (written for this test; no tuning saw it)."""
    return index_of_post(tmp_path_factory.mktemp("english-only"), "2023-10-07-weekly-ml-dl-news.md", ENGLISH_ONLY_POST)


@pytest.fixture(scope="module")
def english_only_index(english_only_dir):
    import kb

    return kb.open_index(english_only_dir)


TYPOS_OF_WORDS_THE_POSTS_NEVER_SPELL = [
    ("강확학습", "강화학습", "Gridworld Gym"),           # a final added to a glossary word
    ("객제 탐지", "객체 탐지", "Pixel Parser"),          # a wrong consonant in a two-word glossary term
    ("음악 생셩", "음악 생성", "Tunesmith"),             # a neighbouring vowel
    ("gridwrold gym", "gridworld gym", "Gridworld Gym"),   # Latin: two letters swapped
]


@pytest.mark.slow        # the real model (english_only_dir)
@pytest.mark.parametrize("typo,meant,heading", TYPOS_OF_WORDS_THE_POSTS_NEVER_SPELL)
def test_a_misspelled_query_is_as_sure_as_the_right_spelling(english_only_index, typo, meant, heading):
    """The posts never write "강화", "객체" or "음악": a Hangul typo is corrected to the glossary word (one jamo key
    away) and reaches them through its English synonyms; the top hybrid hit is the right spelling's, as confident."""
    fix = english_only_index.typos.correct(typo)
    assert fix is not None and fix.fixed == meant
    typed, right = (english_only_index.search(q, k=3)[0] for q in (typo, meant))
    assert typed.heading == right.heading == heading and typed.confidence >= right.confidence - 1e-3


@pytest.mark.slow        # the real model (english_only_dir)
@pytest.mark.parametrize("typo,meant,heading", [t for t in TYPOS_OF_WORDS_THE_POSTS_NEVER_SPELL if t[0] != "음악 생셩"])
def test_a_typo_of_a_word_the_posts_never_spell_in_hangul_is_a_confident_hit_with_did_you_mean(
        english_only_index, typo, meant, heading):
    """… and where the right spelling's top hit is confident ("음악 생성" is not, on five sections), so is the
    typo's, in both modes, and the page says Did you mean."""
    assert not english_only_index.search(meant, k=3)[0].weak
    for mode in ("hybrid", "keyword"):
        hits = english_only_index.search(typo, mode=mode, k=3)
        assert hits[0].heading == heading and not hits[0].weak, (mode, [(h.heading, h.confidence) for h in hits])
        assert hits.did_you_mean == meant


@pytest.mark.slow        # the real model (english_only_dir)
def test_the_cli_json_says_did_you_mean_for_a_hangul_glossary_typo(english_only_dir):
    from fixtures.cli import run_kb

    proc = run_kb("search", "--index-dir", english_only_dir, "--json", "강확학습", "강화학습", timeout=120)
    typo, exact = (json.loads(x) for x in proc.stdout.splitlines())
    assert typo["did_you_mean"] == "강화학습" and typo["results"][0]["heading"] == "Gridworld Gym", proc.stderr
    assert exact["did_you_mean"] is None


@pytest.mark.slow        # the real model (english_only_dir)
@pytest.mark.parametrize("q", ["음악", "강화", "column", "영화 감상 후기", "reinforcement learnings"])
def test_a_correctly_spelled_word_the_posts_lack_is_not_corrected(english_only_index, q):
    """A glossary word is a word, not a typo of a neighbour ("음악" one key from nothing the posts hold; "감상" is
    a real word, one key from the glossary's "감성"): never offered as Did you mean; a plural is no typo."""
    hits = english_only_index.search(q, k=5)
    assert hits.did_you_mean is None, english_only_index.typos.correct(q)


@pytest.mark.parametrize("typo,meant", [("특레이딩 책", "트레이딩 책"), ("깁러닝 강의", "딥러닝 강의"),
                                        ("MLOsp", "MLOps")])
def test_a_misspelled_query_finds_in_keyword_mode_what_the_right_spelling_finds(eval_index, typo, meant):
    """The keyword leg divides by what the typed and corrected tokens can reach (the typo's own known bigrams, "러닝"
    of "깁러닝", included): its scores do not clip at 1 and tie, and the best sections are the right spelling's
    (their order may differ: the corrected word counts 0.8)."""
    typed = eval_index.search(typo, mode="keyword", k=3)
    assert all(h.scores["keyword"] < 1.0 for h in typed), [(h.heading, h.scores["keyword"]) for h in typed]
    assert set(_top(eval_index, typo, "keyword")) == set(_top(eval_index, meant, "keyword"))


def test_the_meaning_leg_follows_a_wrong_first_letter_the_results_confirm(eval_index):
    """"ransformer" is no sure correction (a wrong first letter), and the model reads it nearer ViT than
    "transformer" is; once the confident results confirm "transformer", hybrid ranks as for the right spelling."""
    typo, meant = "ransformer based object detection without anchor boxes", "transformer based object detection " \
        "without anchor boxes"
    fix = eval_index.typos.correct(typo)
    assert typos.surely_typos(fix, eval_index.embedder) == {}
    hits = eval_index.search(typo, k=3)
    assert hits.did_you_mean == meant and _top(eval_index, typo)[0] == _top(eval_index, meant)[0] == "DETR"


def _post(sections: str) -> str:
    return f"---\ntitle: Weekly ML news\ndate: 2024.05.11 12:00:00\ntags:\n- ML\n---\n\n이번 주 링크.\n{sections}"


# "보코도" is one key from the domain word "보코더" (ㅗ beside ㅓ) and one key from the common "보고도" (ㅋ for ㄱ)
VOCODER_SECTIONS = """
### {name}

[참고링크](https://github.com/example/{slug})

멜 스펙트로그램을 파형으로 바꾸는 {word}. GAN으로 학습해서 실시간보다 빠르게 음성을 만든다.

### 리더보드 정리

[참고링크](https://example.com/leaderboard)

여러 모델의 점수를 한 표에 모았다. 순위를 보고도 어떤 모델을 쓸지 모르겠다면 비용도 함께 보자.

### 테이블 검증

[참고링크](https://github.com/example/tablecheck)

파이프라인 데이터의 열마다 규칙을 선언하고 어긋난 행을 보고서로 받는다.
"""


@pytest.fixture(scope="module")
def vocoder_dirs(tmp_path_factory):
    """Two posts written for this test (no tuning saw them): one says "보코더", the other only "vocoder"; both hold
    the common word "보고도"."""
    korean = VOCODER_SECTIONS.format(name="WaveVoice", slug="wavevoice", word="보코더")
    latin = VOCODER_SECTIONS.format(name="Vocoda", slug="vocoda", word="GAN vocoder")
    return {k: index_of_post(tmp_path_factory.mktemp(f"vocoder-{k}"), "2024-05-11-weekly-ml-dl-news.md", _post(s))
            for k, s in (("korean", korean), ("latin", latin))}


@pytest.mark.slow        # the real model (vocoder_dirs)
def test_a_typo_one_key_from_a_domain_word_and_from_a_common_word_is_the_domain_word(vocoder_dirs):
    """The posts hold "보고도" (보고 + the particle 도), one key from "보코도"; the topics' word "보코더" is as near
    (a neighbouring vowel): the correction is the domain word, whether the posts write it or only "vocoder" (which
    the speech topic lists beside it: one loanword, kb.text.loanword), in both modes, with Did you mean."""
    import kb

    for kind, heading in (("korean", "WaveVoice"), ("latin", "Vocoda")):
        index = kb.open_index(vocoder_dirs[kind])
        fix = index.typos.correct("보코도")
        assert fix is not None and fix.words == [("보코도", "보코더")], (kind, fix)
        for mode in ("hybrid", "keyword"):
            hits = index.search("보코도", mode=mode, k=3)
            assert hits[0].heading == heading, (kind, mode, [h.heading for h in hits])
            assert hits.did_you_mean == "보코더", (kind, mode)


@pytest.mark.slow        # the real model (vocoder_dirs)
def test_the_cli_json_offers_the_domain_word_not_the_common_one(vocoder_dirs):
    from fixtures.cli import run_kb

    proc = run_kb("search", "--index-dir", vocoder_dirs["korean"], "--json", "보코도", "보고도", timeout=120)
    typo, common = (json.loads(x) for x in proc.stdout.splitlines())
    assert typo["did_you_mean"] == "보코더" and typo["results"][0]["heading"] == "WaveVoice", proc.stderr
    assert common["did_you_mean"] is None


TRANSFORMER_SECTIONS = """
### 비전 트랜스포머 정리

[참고링크](https://github.com/example/vit-notes)

이미지를 패치로 잘라 트랜스포머에 넣는 방법을 정리한 글. 트랜스포머를 처음 보는 사람도 따라갈 수 있다.

### 스타일 변환 데모

[참고링크](https://github.com/example/style-demo)

사진 한 장을 고흐 그림처럼 바꿔 주는 스타일 변환 데모. 브라우저에서 바로 돌아간다.

### 리더보드 정리

[참고링크](https://example.com/leaderboard)

여러 모델의 점수를 한 표에 모았다.
"""


@pytest.fixture(scope="module")
def transformer_dir(tmp_path_factory):
    """A post written for this test (no tuning saw it) that writes "트랜스포머" (with particles) but never "트랜스퍼"."""
    return index_of_post(tmp_path_factory.mktemp("transformer"), "2024-05-11-weekly-ml-dl-news.md",
                         _post(TRANSFORMER_SECTIONS))


@pytest.mark.slow        # the real model (transformer_dir)
def test_a_correction_must_be_a_word_not_the_start_of_a_longer_one(transformer_dir):
    """"트랜스보" is a word neither the posts nor the glossary have: "트랜스포" starts "트랜스포머" one key away, but is
    no word, so "비전 트랜스보" is not offered "비전 트랜스포" (found on a helper's own posts with "트랜스퍼", which the
    glossary now knows as style transfer's loanword: no typo at all). A misspelled "트랜스포머" is still corrected to
    the word the posts write only with particles ("트랜스포머에", "트랜스포머를")."""
    import kb

    index = kb.open_index(transformer_dir)
    fix = index.typos.correct("비전 트랜스보")
    assert fix is not None and ("트랜스보", "트랜스포") not in fix.words
    assert index.search("비전 트랜스보", k=3).did_you_mean != "비전 트랜스포"
    assert index.typos.correct("스타일 트랜스퍼") is None
    assert index.search("스타일 트랜스퍼", k=3)[0].heading == "스타일 변환 데모"
    hits = index.search("트랜스폼머 정리", k=3)
    assert hits.did_you_mean == "트랜스포머 정리" and hits[0].heading == "비전 트랜스포머 정리"
