"""Unit tests: the Korean-aware tokenizer, the glossary expansion and the score fusion."""

from __future__ import annotations

import numpy as np

from kb.query import fusion
from kb.text.glossary import expansion_terms, spell_out
from kb.text.tokenize import tokenize, tokenize_query


def test_hangul_bigrams_match_across_particles():
    assert tokenize("트레이딩을") == ["트레", "레이", "이딩", "딩을"]
    assert set(tokenize("트레이딩")) <= set(tokenize("주식 트레이딩을 했다"))
    assert tokenize("책") == ["책"]


def test_latin_words_are_case_insensitive_and_split_into_parts():
    assert tokenize("KorGPT2") == ["korgpt2", "kor", "gpt", "2"]
    assert set(tokenize("GPT2")) & set(tokenize("KorGPT2 tutorial"))
    assert tokenize("Hummingbird") == tokenize("HUMMINGBIRD".lower()) == ["hummingbird"]
    assert tokenize("fast.ai") == ["fast.ai", "fast", "ai"]


def test_mixed_script_runs_are_separated():
    assert tokenize("RL을 활용한") == ["rl", "을", "활용", "용한"]


def test_query_tokens_are_deduplicated_and_bounded():
    assert tokenize_query("nlp NLP nlp") == ["nlp"]
    assert len(tokenize_query("가나" * 50_000)) <= 2000


def test_glossary_expands_across_languages():
    assert "음성" in expansion_terms("speech recognition toolkit")
    assert "trading" in expansion_terms("트레이딩 봇")
    assert expansion_terms("nothing relevant here") == []
    assert spell_out("NLP").startswith("NLP (") and "자연어처리" in spell_out("NLP")
    assert spell_out("a long query about speech models") == "a long query about speech models"


def test_minmax_and_convex():
    assert np.allclose(fusion.minmax(np.array([2.0, 4.0, 3.0])), [0.0, 1.0, 0.5])
    assert np.allclose(fusion.minmax(np.array([1.0, 1.0])), [0.0, 0.0])
    mixed = fusion.convex(np.array([1.0, 0.0]), np.array([0.5, 0.9]), keyword_weight=0.3)
    assert np.allclose(mixed, [0.3, 0.7])


def test_rrf_prefers_agreement():
    s = fusion.rrf(np.array([3.0, 2.0, 1.0]), np.array([0.9, 0.1, 0.5]))
    assert s.argmax() == 0
