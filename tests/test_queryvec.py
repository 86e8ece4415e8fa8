"""How the glossary shapes a query's embedding (kb.embed.queryvec), and the ONNX writer the onnx engine is built with."""

from __future__ import annotations

import numpy as np
import pytest

from kb.core.config import DEFAULT_MODEL
from kb.embed import queryvec
from kb.text.glossary import GROUPS, matched_groups, spell_out


class CountingEmbedder:
    """Deterministic unit vectors from the text; counts what it was asked to embed."""

    name = "fake-model"
    dim = 16

    def __init__(self):
        self.asked: list[str] = []

    def embed_query(self, text: str) -> np.ndarray:
        self.asked.append(text)
        v = np.random.default_rng(abs(hash(text)) % 2**32).standard_normal(self.dim).astype(np.float32)
        return v / np.linalg.norm(v)


def test_plain_and_spelled():
    e = CountingEmbedder()
    assert np.array_equal(queryvec.query_vector(e, "NLP", "plain"), e.embed_query("NLP"))
    assert np.array_equal(queryvec.query_vector(e, "NLP", "spelled"), e.embed_query(spell_out("NLP")))
    with pytest.raises(ValueError, match="unknown query vector mode"):
        queryvec.query_vector(e, "NLP", "both")


def test_mean_adds_the_groups_and_embeds_each_group_once():
    e = CountingEmbedder()
    q = "강화학습 트레이딩"
    groups = matched_groups(q)
    assert len(groups) == 2
    v = queryvec.query_vector(e, q, "mean")
    want = e.embed_query(q) + np.mean([e.embed_query(queryvec.group_text(g)) for g in groups], axis=0)
    assert np.allclose(v, want / np.linalg.norm(want), atol=1e-6)
    e.asked.clear()
    queryvec.query_vector(e, q, "mean")
    assert e.asked == [q]                       # the groups' vectors were kept


def test_mean_leaves_long_queries_and_unknown_words_alone():
    e = CountingEmbedder()
    long = "주식 데이터로 가격 예측하는 신경망"          # more than two words: the model needs no help
    assert np.array_equal(queryvec.query_vector(e, long, "mean"), e.embed_query(long))
    assert np.array_equal(queryvec.query_vector(e, "FlashFormer", "mean"), e.embed_query("FlashFormer"))


def test_shipped_group_vectors_cover_the_glossary():
    """Every group of kb/text/glossary.py has its vector in kb/embed/glossary_vectors.npz (else: python -m kb.embed.queryvec)."""
    shipped = queryvec._shipped()
    missing = [GROUPS[g][0] for g in range(len(GROUPS))
               if queryvec.group_key(DEFAULT_MODEL, queryvec.group_text(g)) not in shipped]
    assert not missing, f"run: python -m kb.embed.queryvec (groups without a vector: {missing[:5]})"


@pytest.mark.slow
def test_shipped_group_vectors_are_the_models():
    from kb.embed.embedder import E5Embedder

    e = E5Embedder(cache_size=0)
    for g in (0, 8, 9, len(GROUPS) - 1):
        got = queryvec.group_vector(e, g)
        assert float(got @ e.embed_query(queryvec.group_text(g))) >= 0.999


def test_eval_takes_the_query_vector_mode():
    from kb.eval.__main__ import parse_args

    assert parse_args(["--query-vector", "spelled"]).query_vector == "spelled"
    assert parse_args([]).query_vector is None


def test_onnx_writer_makes_a_model_onnxruntime_runs():
    ort = pytest.importorskip("onnxruntime")
    from kb.embed.onnxproto import FLOAT, Graph

    g = Graph("t")
    g.input("x", FLOAT, ["n", 3])
    w = g.constant("w", np.arange(6, dtype=np.float32).reshape(3, 2))
    y = g.node("MatMul", ["x", w])
    g.node("LayerNormalization", [y, g.constant("s", np.ones(2, np.float32)), g.constant("b", np.zeros(2, np.float32))],
           "out", axis=-1, epsilon=1e-5)
    g.output("out", FLOAT, ["n", 2])
    sess = ort.InferenceSession(g.model({"": 17}), providers=["CPUExecutionProvider"])
    x = np.array([[1, 2, 3], [-1, 0, 5]], dtype=np.float32)
    got = sess.run(None, {"x": x})[0]
    m = x @ np.arange(6, dtype=np.float32).reshape(3, 2)
    want = (m - m.mean(1, keepdims=True)) / np.sqrt(m.var(1, keepdims=True) + 1e-5)
    assert np.allclose(got, want, atol=1e-4)
