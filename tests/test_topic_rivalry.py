"""Subjects compete (kb.topics.score.rivalry): a section clearly in one subject topic needs more evidence to join
another, facets (a resource's form or language) neither give nor take; the `facet` field of the topics file; and the
rule on a post written for this test (no tuning saw it), with the real model and a real index."""

from __future__ import annotations

import numpy as np
import pytest
from fixtures.written import index_of_post

from kb import topics
from kb.core.errors import BadTopics
from kb.topics import score as topic_score


def test_rivalry_is_the_best_margin_in_another_subject_capped_and_spares_facets():
    total = np.array([[9.0, 5.0, 7.0, 6.0],       # in every topic: a and b are subjects, c is a facet
                      [3.0, 6.0, 2.0, 3.0],       # only in b
                      [3.0, 3.0, 9.0, 3.0]],      # only in the facet
                     dtype=np.float32)
    thresholds = np.array([4.0, 4.0, 4.0, 4.0], dtype=np.float32)
    subject = np.array([True, True, False, True])
    rival, who = topic_score.rivalry(total, thresholds, subject)
    cap = topic_score.RIVAL_CAP
    # row 0: a is its best subject (margin 5, capped) and keeps its score; b and d lose a's capped margin; the
    # facet neither gives (its margin 3 counts for no one) nor takes
    assert rival[0].tolist() == pytest.approx([0.0, cap, 0.0, cap])
    assert who[0].tolist() == [-1, 0, -1, 0]
    # row 1: a and d lose b's margin, b itself has no rival
    assert rival[1].tolist() == pytest.approx([2.0, 0.0, 0.0, 2.0]) and who[1].tolist() == [1, -1, -1, 1]
    # row 2: a section clearly in a facet lowers no subject
    assert not rival[2].any() and (who[2] == -1).all()


def test_facets_are_set_in_the_file_and_a_copy_without_them_keeps_the_shipped_ones(tmp_path):
    shipped = {t.name: t.facet for t in topics.load_topics(path=topics.DEFAULT_FILE)}
    assert shipped["korean"] is True and shipped["courses-books"] is True
    assert not any(shipped[n] for n in ("nlp", "vision", "speech", "rl", "trading", "mlops"))
    text = "\n".join(line for line in topics.DEFAULT_FILE.read_text(encoding="utf-8").splitlines()
                     if not line.startswith("facet"))            # a copy an earlier kb made
    text += '\n[papers]\nphrases = ["논문 리뷰"]\n\n[bitcoin]\nphrases = ["비트코인"]\nfacet = true\n'
    (tmp_path / "topics.toml").write_text(text, encoding="utf-8")
    got = {t.name: t.facet for t in topics.load_topics(tmp_path)}
    assert {n: got[n] for n in shipped} == {n: bool(v) for n, v in shipped.items()}
    assert got["papers"] is False and got["bitcoin"] is True      # a user's own topic: a subject unless it says
    (tmp_path / "topics.toml").write_text('[x]\nphrases = ["y"]\nfacet = "yes"\n', encoding="utf-8")
    with pytest.raises(BadTopics, match=r"topic \[x\]: facet must be true or false"):
        topics.load_topics(tmp_path)


RIVALS_POST = """---
title: 위클리 소식
date: 2024.06.01 12:00:00
categories:
- news
tags:
- ML
---

이번주 소식입니다.

### VoiceCraft

[참고링크](https://github.com/jasonppy/VoiceCraft)

토큰 단위로 다음 토큰을 예측하는 트랜스포머 언어 모델 구조로 음성을 만든다. 텍스트와 몇 초짜리 목소리 샘플을 주면 그
목소리로 문장을 읽어주고, 녹음된 말의 일부 단어만 바꿔 편집할 수도 있다.

### PixArt-Σ

[참고링크](https://github.com/PixArt-alpha/PixArt-sigma)

긴 프롬프트 문장을 T5 텍스트 인코더로 읽어서 4K 해상도 이미지를 생성하는 diffusion transformer. 프롬프트를 꽤 길게
써도 내용을 잘 따라간다.

### SGLang

[참고링크](https://github.com/sgl-project/sglang)

LLM 추론을 빠르게 서빙하는 엔진. RadixAttention으로 프롬프트 prefix 캐시를 재사용해서 처리량이 vLLM보다 높게 나온다고
한다.

### 주식 매매 강화학습 에이전트

[참고링크](https://github.com/example/rl-stock-trader)

PPO, DQN 같은 강화학습 알고리즘으로 주식 매수·매도 타이밍을 학습하는 트레이딩 에이전트. 일봉 데이터로 학습시키고
백테스트로 수익률을 확인해 볼 수 있다.

### 한국어 자연어처리 입문서

[참고링크](https://wikidocs.net/book/2155)

형태소 분석부터 워드 임베딩, 텍스트 분류, BERT까지 한국어 자연어처리를 처음부터 설명하는 무료 온라인 책. 예제 코드가
전부 한국어 데이터로 되어 있다.
"""


@pytest.fixture(scope="module")
def rivals_index(tmp_path_factory):
    """An index of a post written for this test, next to the seed post."""
    import kb

    return kb.open_index(index_of_post(tmp_path_factory.mktemp("rivals"), "2024-06-01-weekly-ml-dl-news.md",
                                       RIVALS_POST, seed=True))


@pytest.mark.parametrize("heading,subject", [
    ("VoiceCraft", "speech"),     # speech made by a token-predicting language model
    ("PixArt-Σ", "vision"),       # images generated from long text prompts read by a text encoder
])
def test_a_model_that_reads_text_for_another_subject_is_that_subject_not_nlp(rivals_index, heading, subject):
    ts = topics.load_topics(path=topics.DEFAULT_FILE)
    row = next(i for i, s in enumerate(rivals_index.sections) if s.heading == heading)
    a = topics.assign(rivals_index, ts)
    assert {t.name for t in a.topics_of(row)} == {subject}
    why = a.why(row, "nlp")
    assert why["rival"] < 0 and a.rival_topic(row, "nlp").name == subject
    saved = topic_score.RIVAL_WEIGHT
    topic_score.RIVAL_WEIGHT = 0.0
    try:
        without = topics.assign(rivals_index, ts)
    finally:
        topic_score.RIVAL_WEIGHT = saved
    # without the rule its NLP score is higher by exactly what the rival took off (since the nineteen-split fit the
    # weights alone keep these two under NLP's threshold too)
    assert without.why(row, "nlp")["score"] == pytest.approx(why["score"] - why["rival"], abs=1e-4)


def test_facets_do_not_compete_a_korean_nlp_book_is_nlp_korean_and_a_book(rivals_index):
    a = topics.assign(rivals_index, topics.load_topics(path=topics.DEFAULT_FILE))
    row = next(i for i, s in enumerate(rivals_index.sections) if s.heading == "한국어 자연어처리 입문서")
    assert {t.name for t in a.topics_of(row)} == {"nlp", "korean", "courses-books"}
    assert a.why(row, "nlp")["rival"] == 0 and a.rival_topic(row, "nlp") is None


def test_why_this_topic_says_in_words_which_subject_holds_the_section_more_clearly(rivals_index, monkeypatch):
    """The rival is named when its cut is large (≥ 0.5) or decided the page: at the shipped weight (0.2, the
    twenty-fourth, twenty-third and twenty-first passes') speech takes a large cut off VoiceCraft's NLP score and the
    page says so; at the twenty-second pass's weight (0.1) the cut is small and VoiceCraft is kept off the NLP page by
    the prior, not by the cut, so the page does not blame speech."""
    from kb.app.pages import topic_reasons

    ts = topics.load_topics(path=topics.DEFAULT_FILE)
    sentence = f"It is more clearly about {ts.get('speech').label}, so it needed more evidence to be here too."
    row = next(i for i, s in enumerate(rivals_index.sections) if s.heading == "VoiceCraft")

    def said(name):
        a = topics.assign(rivals_index, ts)
        return a.why(row, name), topic_reasons(rivals_index, ts.get(name), row, a.why(row, name),
                                                a.rival_topic(row, name))

    assert topic_score.RIVAL_WEIGHT == 0.2
    why, reasons = said("nlp")
    assert why["rival"] <= -0.5 and sentence in reasons and "It is not in the topic now." in reasons
    monkeypatch.setattr(topic_score, "RIVAL_WEIGHT", 0.1)
    why, reasons = said("nlp")
    assert -0.5 < why["rival"] < 0 and why["score"] - why["rival"] < why["threshold"]    # a small cut, not deciding
    assert sentence not in reasons and "It is not in the topic now." in reasons
    _, reasons = said("speech")
    assert not any("more clearly about" in r for r in reasons)        # its best subject has no rival


def test_a_small_cut_that_kept_a_section_off_a_page_is_named(rivals_index):
    """A rival whose cut, however small, is what keeps the section under the threshold is named; the same cut on a
    section that would be out anyway is not."""
    from kb.app.pages import topic_reasons

    ts = topics.load_topics(path=topics.DEFAULT_FILE)
    row = next(i for i, s in enumerate(rivals_index.sections) if s.heading == "VoiceCraft")
    speech = ts.get("speech")
    for score, named in ((4.0, True), (3.0, False)):
        why = {"rival": -0.2, "member": 0.0, "score": score, "threshold": 4.1, "meaning": 0.5}
        said = topic_reasons(rivals_index, ts.get("nlp"), row, why, speech)
        assert any(f"more clearly about {speech.label}" in r for r in said) is named


def test_topic_pages_report_what_a_rival_subject_took_off(rivals_index):
    """`kb.topics NAME --json` hits carry topic_rival exactly when a rival lowered the section's score there; an RL
    trading agent is in both its subjects, one of them with the other's margin taken off; an LLM
    serving engine is MLOps by what it does (as most outside labellers file it): on the MLOps page, and where it is
    on the NLP page too, one of the two with the other's margin taken off its score."""
    ts = topics.load_topics(path=topics.DEFAULT_FILE)
    a = topics.assign(rivals_index, ts)
    seen = 0
    for t in ts:
        for h in topics.topic_hits(rivals_index, t.name, ts):
            rival = a.why(h.row, t.name)["rival"]
            assert h.scores.get("topic_rival", 0.0) == rival
            seen += rival < 0
    # a reinforcement-learning trading agent is in both subjects (the labelling rules say so): on its weaker page
    # with its stronger subject's margin taken off, and still over the threshold
    row = next(i for i, s in enumerate(rivals_index.sections) if s.heading == "주식 매매 강화학습 에이전트")
    assert {t.name for t in a.topics_of(row)} == {"rl", "trading"}
    assert sum(a.why(row, name)["rival"] < 0 for name in ("rl", "trading")) == 1
    # an LLM serving engine is on the MLOps page whatever else it is (the labels split 26 MLOps only to 13 MLOps and
    # NLP); since the thirteenth pass (rival weight 0.5, NLP's threshold 3.94) it is on the NLP page too, NLP its
    # clearer subject, so its MLOps score is the one with the other's margin taken off
    row = next(i for i, s in enumerate(rivals_index.sections) if s.heading == "SGLang")
    assert "mlops" in {t.name for t in a.topics_of(row)} and seen >= 1
    assert sum(a.why(row, name)["rival"] < 0 for name in ("nlp", "mlops")) == 1
    for name, other in (("nlp", "mlops"), ("mlops", "nlp")):
        if a.why(row, name)["rival"] < 0:
            assert a.rival_topic(row, name).name == other and a.rival_topic(row, other) is None


def test_closeness_to_a_topics_examples_is_a_reason_only_where_it_counts(rivals_index):
    """"Close in meaning to other sections of this topic" is said only when the example closeness counts in the
    topic's score: on the shipped topics its fitted weight is 0 (the prior's vote does that work), on a topic of the
    reader's own (no prior) the plain weights count it."""
    import dataclasses

    from kb.app.pages import topic_reasons

    said = "Close in meaning to other sections of this topic."
    shipped = topics.load_topics(path=topics.DEFAULT_FILE)
    own = topics.Topics(tuple(dataclasses.replace(t, name="my-speech") if t.name == "speech" else t for t in shipped),
                        shipped.source)
    seen = {}
    for ts, name, weight in ((shipped, "speech", topic_score.WEIGHTS["example"]),
                             (own, "my-speech", topic_score.PLAIN["weights"]["example"])):
        a = topics.assign(rivals_index, ts)
        close = [i for i in range(len(rivals_index.sections)) if a.why(i, name)["example"] > 0]
        assert close                                           # the closeness is there either way
        for i in close:
            why = a.why(i, name)
            assert why["example_weight"] == weight
            assert (said in topic_reasons(rivals_index, ts.get(name), i, why)) == (weight > 0)
        seen[name] = weight
    assert seen["my-speech"] > 0                              # a reader's own topic learns from its examples
