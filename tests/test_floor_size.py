"""The relevance floor rises with the number of sections a search runs over (kb.query.relevance.SIZE_SLOPE): an
off-topic query's best cosine is the best of more draws in a larger corpus. With the real model and the real index
of the seed and evaluation posts: the count follows the filters, and the same hit of the same query is less sure over
the whole index than over its own post, by exactly the size term."""

from __future__ import annotations

import math

import pytest

from kb.backends.filters import parse_filters
from kb.query import relevance
from kb.query.index import searched


def test_searched_counts_the_sections_the_filters_keep(eval_index):
    sections = list(eval_index.sections)
    assert searched(eval_index, parse_filters()) == len(sections)
    post = sections[0].post_path
    assert searched(eval_index, parse_filters(post=post)) == sum(s.post_path == post for s in sections)
    since = sorted(s.date for s in sections if s.date)[len(sections) // 2]
    assert searched(eval_index, parse_filters(since=since)) == sum(bool(s.date) and s.date >= since for s in sections)
    tag = sections[0].tags[0]
    assert searched(eval_index, parse_filters(tags=[tag])) == sum(tag.lower() in {t.lower() for t in s.tags}
                                                                  for s in sections)
    assert searched(eval_index, parse_filters(rows=range(5))) == 5
    assert searched(eval_index, parse_filters(post=post, rows=range(len(sections)))) == \
        searched(eval_index, parse_filters(post=post))


def test_the_same_hit_is_less_sure_over_more_sections(eval_index, monkeypatch):
    monkeypatch.setattr(relevance, "SIZE_FROM", 5)     # the fixture is small: let the term act from 5 sections
    query = "power transformer maintenance"             # a look-alike from another field, near the bar
    top = eval_index.search(query, k=1)[0]
    post = eval_index.sections[top.row].post_path
    n_all, n_post = searched(eval_index, parse_filters()), searched(eval_index, parse_filters(post=post))
    assert n_post < n_all

    def logit(c: float) -> float:
        return relevance.SCALE * math.log(c / (1 - c))

    def sure(**filters) -> float:
        hit = eval_index.search(query, k=1, **filters)[0]
        assert hit.row == top.row and 0.001 < hit.confidence < 0.999, hit
        return logit(hit.confidence)

    with_term = sure(), sure(post=post)
    rise_all, rise_post = relevance.size_margin(n_all), relevance.size_margin(n_post)   # SLOPE × ln(n / 5)
    monkeypatch.setattr(relevance, "SIZE_SLOPE", 0.0)
    without = sure(), sure(post=post)
    drop_all, drop_post = without[0] - with_term[0], without[1] - with_term[1]
    assert drop_all == pytest.approx(rise_all, abs=1e-4) and drop_post == pytest.approx(rise_post, abs=1e-4)
    assert drop_all > drop_post > 0


def test_no_rise_up_to_the_size_the_margins_were_chosen_on():
    assert relevance.size_margin(None) == relevance.size_margin(0) == relevance.size_margin(relevance.SIZE_FROM) == 0
    assert relevance.size_margin(1000) == pytest.approx(relevance.SIZE_SLOPE * math.log(1000 / relevance.SIZE_FROM))


def test_a_hit_weak_only_over_many_sections_says_so(eval_index, monkeypatch):
    from kb.app.results import plain_reasons
    from kb.query import explain

    monkeypatch.setattr(relevance, "SIZE_FROM", 1)
    monkeypatch.setattr(relevance, "SIZE_SLOPE", 0.02)   # over the fixture's sections, a rise that makes a hit weak
    query = "power transformer maintenance"
    hit = eval_index.search(query, k=1)[0]
    post = eval_index.sections[hit.row].post_path
    n = searched(eval_index, parse_filters())
    assert hit.weak and hit.scores["searched"] == n
    why = explain.why(hit, query, eval_index.sections[hit.row])
    assert why.crowd == n and any(f"Among {n:,} sections" in line for line in why.lines())
    assert any(f"among {n:,} sections" in line for line in plain_reasons(why))
    monkeypatch.setattr(relevance, "SIZE_SLOPE", 0.0)    # the same hit without the rise: confident, no such line
    assert not eval_index.search(query, k=1)[0].weak
    monkeypatch.setattr(relevance, "SIZE_SLOPE", 0.02)
    off = eval_index.search("how to repot a snake plant", k=1, post=post)[0]   # weak whatever the size
    assert off.weak and explain.why(off, "how to repot a snake plant", eval_index.sections[off.row]).crowd is None
