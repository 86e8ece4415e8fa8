"""The query layer over the local backend, with the fake embedder (no model): legs, filters, fusion, pinning, hits."""

from __future__ import annotations

import numpy as np
import pytest

from kb.backends.filters import Filters, keep, mask, parse_filters
from kb.backends.local import LocalBackend
from kb.core.errors import BadQuery
from kb.query.index import MODES


def test_the_local_backend_is_what_the_index_talks_to(fake_index):
    assert isinstance(fake_index.backend, LocalBackend)
    assert fake_index.model_name == "fake-embedder" and len(fake_index) == 74
    assert fake_index.manifest.section_count == 74 and fake_index.manifest.entry_count == 148


def test_every_mode_answers_and_hits_carry_their_evidence(fake_index):
    for mode in MODES:
        hits = fake_index.search("트레이딩 라이브러리", mode=mode, k=5)
        assert 1 <= len(hits) <= 5
        assert len({h.row for h in hits}) == len(hits)
        legs = set(hits[0].scores)
        assert ("keyword" in legs) == (mode != "semantic") and ("semantic" in legs) == (mode != "keyword")
        assert ("hybrid" in legs) == (mode == "hybrid")


def test_keyword_leg_finds_only_sections_with_the_words(fake_index):
    hits = fake_index.search("트레이딩", mode="keyword", k=20)
    assert hits and all("트레이딩" in (h.heading + fake_index.sections[h.row].text).replace(" ", "") or
                        h.scores["bm25"] > 0 for h in hits)
    for group in ([h for h in hits if not h.weak], [h for h in hits if h.weak]):   # weak hits follow confident ones
        key = [(h.scores["words"], h.score) for h in group]       # the query's words held, then the keyword score
        assert key == sorted(key, reverse=True)
    assert any(h.scores["words"] == 0 for h in hits) and any(h.scores["words"] == 1 for h in hits)


def test_filters_are_pushed_down_to_both_legs(fake_index):
    for mode in MODES:
        hits = fake_index.search("모델", mode=mode, k=50, since="2020-09-01", until="2020-12-31")
        assert hits and all("2020-09-01" <= h.date <= "2020-12-31" for h in hits)
    tagged = fake_index.search("모델", k=50, tags=["speech"])
    assert tagged and all("speech" in {t.lower() for t in h.tags} for h in tagged)


def test_a_restriction_to_rows_is_respected_and_an_empty_one_answers_nothing(fake_index):
    rows = {3, 10, 20}
    assert {h.row for h in fake_index.search("모델", k=10, rows=rows)} <= rows
    assert fake_index.search("모델", k=10, rows=set()) == []


def test_an_exact_name_is_pinned_first_in_every_mode(fake_index):
    s = fake_index.sections[12]
    for mode in MODES:
        hits = fake_index.search(s.heading, mode=mode, k=3)
        assert hits[0].row == 12 and hits[0].scores.get("exact_name") == 1.0


def test_bad_arguments_are_named(fake_index):
    with pytest.raises(BadQuery, match="unknown mode"):
        fake_index.search("x", mode="fuzzy")
    with pytest.raises(BadQuery, match="not a date"):
        fake_index.search("x", since="yesterday")
    with pytest.raises(BadQuery, match="unknown fusion"):
        fake_index.search("x", fusion_method="magic")


def test_fusion_methods_rank_the_same_candidates(fake_index):
    base = {h.row for h in fake_index.search("음성 인식", k=10)}
    for method in ("convex-minmax", "rrf"):
        other = {h.row for h in fake_index.search("음성 인식", k=10, fusion_method=method)}
        assert len(base & other) >= 5


def test_more_like_excludes_the_section_and_is_sorted(fake_index):
    near = fake_index.more_like(5, k=4)
    assert len(near) == 4 and 5 not in {h.row for h in near}
    assert [h.score for h in near] == sorted((h.score for h in near), reverse=True)


def test_hit_for_a_row_has_the_opening_sentence(fake_index):
    h = fake_index.hit(0)
    assert h.row == 0 and h.score == 0.0 and h.snippet and h.snippet in fake_index.sections[0].text


def test_mask_and_keep_agree(fake_index):
    secs = fake_index.sections
    f = parse_filters(since="2020-10-01", tags=["NLP"], rows=range(0, 60))
    m = mask(f, secs)
    assert keep(f, secs, range(len(secs))) == [int(r) for r in np.flatnonzero(m)]
    assert mask(Filters(), secs) is None


def test_semantic_scores_use_a_title_only_when_it_wins_by_the_margin(fake_index):
    qv = fake_index.embedder.embed_query("fastai fastbook")
    rows = np.arange(len(fake_index))
    sec, title = fake_index.backend.entry_vectors(rows)
    got = fake_index.semantic_scores(qv, rows)
    assert np.allclose(got, np.maximum(sec @ qv, title @ qv - fake_index.title_margin), atol=1e-6)


def test_keyword_mode_judges_only_its_top_k_and_answers_as_when_it_judged_every_candidate(fake_index, monkeypatch):
    """Keyword mode ranks by keyword evidence alone, so it computes coverage and confidence (which reads candidates'
    vectors) for its top k only: hits, scores, weak flags and snippets are those of judging all; confidence is the
    same to float32 rounding (BLAS sums a matrix-vector product of 10 rows and of 100 in different orders)."""
    from kb.query import index as qi

    queries = ["트레이딩 라이브러리", "모델", "reinforcement learning", "파이썬 백테스팅 트레이딩", "GPT2 한국어"]
    got = [[(h.row, h.score, h.scores, h.confidence, h.weak, h.snippet) for h in fake_index.search(q, mode="keyword", k=k)]
           for q in queries for k in (1, 5, 30)]
    calls = []
    every_cov, every_conf = qi._coverage, qi.confidence
    monkeypatch.setattr(qi, "_coverage", lambda index, q, c, only=None: calls.append(only) or every_cov(index, q, c))
    monkeypatch.setattr(qi, "confidence", lambda index, q, c, expand=True, only=None: every_conf(index, q, c, expand))
    want = [[(h.row, h.score, h.scores, h.confidence, h.weak, h.snippet) for h in fake_index.search(q, mode="keyword", k=k)]
            for q in queries for k in (1, 5, 30)]
    assert all(len(g) for g in got) and [[h[:3] + h[4:] for h in g] for g in got] == [[h[:3] + h[4:] for h in g] for g in want]
    assert np.allclose([h[3] for g in got for h in g], [h[3] for g in want for h in g], rtol=0, atol=1e-6)
    assert all(only is not None for only in calls)                 # the top-k path was the one replaced
