"""The learned topic prior (kb.topics.prior): training, out-of-fold values, the shipped file, and what it does on
a real index of a post no tuning saw."""

from __future__ import annotations

import numpy as np

from kb import topics
from kb.topics import prior as topic_prior
from kb.topics import score as topic_score


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
    p = topic_prior.train(x, y, ["a", "b"], "m", c=1.0, clip=3.0)
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


def test_out_of_fold_values_come_from_a_prior_that_never_saw_the_group():
    """Stacking: a group holding the only examples of a topic gets no credit for them out of fold."""
    x, y = _clusters(per=20)
    x[:5] = np.eye(16)[2] + 0.1 * x[:5]                        # topic "c": five sections of their own, all in group 0
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y = np.hstack([y, np.zeros((40, 1), dtype=bool)])
    y[:5, 2] = True
    groups = np.array([0] * 5 + [1 + i % 7 for i in range(35)])
    inside = topic_prior.train(x, y, list("abc"), "", c=1.0).log_odds(x, "", list("abc"))
    oof = topic_prior.out_of_fold(x, y, groups, c=1.0)
    assert (inside[:5, 2] > 2.0).all()                         # in sample: well above the typical section
    assert (oof[:5, 2] <= 1e-6).all()                          # out of fold: no better than the typical section
    assert (oof[5:20, 0] > oof[20:, 0].max()).mean() > 0.9     # the rest still learn from the others


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
    assert topic_score.WEIGHTS["prior"] > 0
