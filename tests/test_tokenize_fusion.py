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


def test_edit_distance_counts_a_swap_as_one_edit():
    from kb.text.fuzzy import edit_distance

    assert edit_distance("transformer", "transformer") == 0
    assert edit_distance("tranformer", "transformer") == 1
    assert edit_distance("transofrmer", "transformer") == 1
    assert edit_distance("abcdef", "uvwxyz", limit=2) == 3          # capped at limit + 1


def test_latin_lexicon_finds_near_terms_by_length_and_ranks_a_wrong_first_letter_behind():
    from kb.text.fuzzy import FIRST_LETTER_COST, LatinLexicon

    lex = LatinLexicon([("transformer", 5), ("transformers", 2), ("hummingbird", 1), ("korpora", 1), ("model", 9),
                        ("book", 3), ("look", 9)])
    assert lex.candidates("tranformer")[0] == (1, "transformer")
    assert lex.candidates("hummingbrid")[0][1] == "hummingbird"
    assert lex.candidates("transformer") == []                      # a known word is not corrected
    assert lex.candidates("mdl") == []                              # under 4 letters
    assert lex.candidates("modl") == [(1, "model")]                 # 4 letters: one edit
    assert lex.candidates("ransformer") == [(1 + FIRST_LETTER_COST, "transformer")]   # the first letter: one edit
    assert lex.candidates("bookk") == [(1, "book")]
    assert lex.candidates("corpora") == [(1 + FIRST_LETTER_COST, "korpora")]
    assert lex.candidates("tranformerss")[0] == (2, "transformers")  # 8+ letters: two edits
    assert LatinLexicon([("interpretability", 1)]).candidates("interpretabilty")[0][1] == "interpretability"


def test_hangul_words_are_corrected_within_a_few_jamo_keys():
    from kb.text.fuzzy import HangulLexicon, keys, syllable_distance

    assert keys("과") == "ㄱㅗㅏ" and keys("닭") == "ㄷㅏㄹㄱ"
    assert syllable_distance("움", "음") == 0.75                    # ㅜ and ㅡ are neighbouring keys
    assert syllable_distance("모", "도") == 1 and syllable_distance("과", "고") == 1
    df = {"음성": 3, "성인": 1, "인식": 4, "분석": 5, "석기": 2, "강화": 6, "화학": 3, "학습": 9, "모음": 2, "도움": 5}
    lex = HangulLexicon(lambda b: df.get(b, 0), df)
    assert lex.candidates("음서")[0][1] == "음성"
    assert lex.candidates("분서기")[0][1] == "분석기"
    assert lex.candidates("강화학슴")[0][1] == "강화학습"            # a final consonant slip
    assert lex.candidates("강화습")[0][1] == "강화학습"              # a dropped syllable (3+ syllables)
    assert lex.candidates("강호학숩")[0][1] == "강화학습"            # two keys wrong in a word of 4 syllables
    assert lex.candidates("모움")[0][1] == "모음"                    # the neighbouring key before the more frequent
    assert lex.candidates("음성") == []


def test_a_verb_made_of_a_noun_the_index_holds_is_no_typo():
    """"분류하는" is 분류 + 하는 even where the posts only write "분류한는" (a post's own slip) or "분류한다": its nearest
    written spelling is no correction. A slip inside the noun is still corrected."""
    from kb.query.typos import Vocabulary, correct_word

    df = {"분류": 5, "류한": 2, "한는": 1, "한다": 3, "학습": 4, "습하": 1}
    written = {"분류", "분류한는", "분류한다", "학습", "학습하"}
    vocab = Vocabulary(df, attested=lambda w: any(x.startswith(w) for x in written))
    assert correct_word("분류하는", vocab) is None
    assert correct_word("분류하고", vocab) is None and correct_word("학습시킨", vocab) is None
    assert correct_word("븐류한다", vocab) == ("분류한다", 0.75)            # a slip inside the noun is still one
    assert correct_word("분류하는", Vocabulary(df, attested=lambda w: w == "분류한")) == ("분류한는", 1.0)   # no word 분류


def test_hangul_glossary_words_are_measured_as_the_index_spellings_are():
    """hangul_distance counts what HangulLexicon's walk counts: a jamo key per syllable slip, a dropped syllable or
    one typed twice from three syllables, no other extra syllable undone."""
    from kb.query.typos import Vocabulary, correct_word
    from kb.text.fuzzy import hangul_distance

    assert hangul_distance("강확학습", "강화학습", 2) == 1                   # a final added
    assert hangul_distance("객제", "객체", 1) == 1 and hangul_distance("생셩", "생성", 1) == 0.75   # ㅕ beside ㅓ
    assert hangul_distance("강화습", "강화학습", 2) == 1                     # a dropped syllable
    assert hangul_distance("자동매매매", "자동매매", 2) == 1                 # one typed twice
    assert hangul_distance("주문장", "문장", 1) > 1                          # a word, not "문장" misspelled
    assert hangul_distance("학습", "학", 1) > 1                              # two syllables: nothing dropped
    vocab = Vocabulary({"학습": 3})                                          # posts that never write "강화"
    assert correct_word("강확학습을", vocab) == ("강화학습을", 1)               # a glossary word, particle kept
    assert correct_word("강화학습", vocab) is None and correct_word("음악", vocab) is None   # glossary words are words


def test_did_you_mean_leaves_words_the_model_reads_whole_as_typed():
    """The confirmed corrections are offered, but a typed word the model knows whole stays as the user wrote it."""
    from kb.query.typos import Vocabulary, correct, did_you_mean

    fix = correct("validate table columns by value ranhes", Vocabulary({"stable": 2, "ranges": 1, "columns": 1}))
    assert dict(fix.words) == {"table": "stable", "ranhes": "ranges"}
    assert did_you_mean(fix, fix.words) == "validate stable columns by value ranges"
    assert did_you_mean(fix, fix.words, whole=lambda w: w == "table") == "validate table columns by value ranges"
    assert did_you_mean(fix, [("table", "stable")], whole=lambda w: w == "table") is None
    assert did_you_mean(None, []) is None


def test_a_correction_suggests_only_real_typos_not_inflections():
    from kb.query.typos import Vocabulary, correct, inflection

    assert inflection("tutorials", "tutorial") and inflection("빠른", "빠르") and not inflection("음서", "음성")
    assert inflection("찾아내서", "찾아내고") and not inflection("강이", "강의")     # an ending swapped; a particle is not
    assert not inflection("이미가", "이미지") and not inflection("모델도", "모델고")   # a slip, or a particle for an ending
    assert inflection("optimisation", "optimization") and inflection("optimising", "optimizing")
    assert not inflection("dtreevis", "dtreeviz") and not inflection("resemblyser", "resemblyzer")
    assert not inflection("tracing", "trading")
    vocab = Vocabulary({"transformer": 3, "slide": 2, "음성": 4, "인식": 3})
    fix = correct("tranformer slides 음성 인싁", vocab)
    assert fix.fixed == "transformer slide 음성 인식"
    assert fix.suggestion() == "transformer slides 음성 인식"
    assert correct("transformer 음성 인식", vocab) is None


def test_a_typo_is_corrected_to_the_domain_word_and_real_words_and_names_are_left_alone():
    """kb.query.typos on vocabularies written here: a domain word (the topics' words count as the glossary's) wins
    over a common word as near, also when the typed word looks like a stem and a particle ("보코도": "보코더", not
    "보고" + "도"); a two-syllable word one far key from a non-domain word is a word the posts lack ("시세" is not
    "시스"), while a dropped key is still a slip; a 4-letter word needs one edit; the letters of a name with digits
    the index holds are no word; an English ending or appended letters are no typo to suggest."""
    from kb.query.typos import Vocabulary, correct, correct_word, inflection, topic_words
    from kb.text.fuzzy import far_key
    from kb.topics import Topic

    assert far_key("수천", "추천") and far_key("보코", "보고") and not far_key("생셩", "생성") and not far_key("음서", "음성")
    words = topic_words([Topic("speech", "Speech & audio", (), ("vocoder", "보코더", "노래 생성", "TTS"))])
    assert words == {"speech", "audio", "vocoder", "보코더", "노래", "생성", "tts"} and topic_words(None) == set()
    vocab = Vocabulary({"시스": 2, "스템": 2, "보고": 3, "고도": 1}, domain=words)
    assert correct_word("보코도", vocab) == ("보코더", 0.75)
    assert correct_word("시세", vocab) is None and correct_word("보코", vocab) is None     # far keys, no domain word
    assert correct_word("보곡", vocab) == ("보고", 1.0)                                     # a final typed too many
    assert correct_word("보코더", vocab) is None                                            # a domain word is a word
    assert correct_word("long", Vocabulary({}, domain=frozenset({"song"}))) is None         # a wrong first letter
    assert correct_word("bokk", Vocabulary({})) == ("book", 1.0)                            # a glossary word
    assert correct("yolov6", Vocabulary({"yolov6": 1, "yolo": 2})) is None
    assert correct("mask2fromer", Vocabulary({"former": 1, "mask": 1})).fixed == "mask2former"
    assert inflection("detecting", "detection") and inflection("codec", "code")
    assert not inflection("learningg", "learning") and not inflection("trackng", "tracking")
    assert inflection("학습시킬", "학습시켰") and not inflection("강화학슴", "강화학습")    # a tense, not a slip


def test_a_name_typed_without_its_version_and_another_ending_of_the_same_stem_are_no_typos():
    """kb.query.typos on a vocabulary written here: "ctranslate" and "exllama" are names the index holds with a version
    ("ctranslate2", "exllamav2"); they are read as those names (so the keyword leg finds them) and never offered as a
    "Did you mean", and no other word ("translate", one letter off) stands for them. "evaluating" and "evaluation"
    share the stem "evaluat" (a change of form, not a typo to offer), while "trackng" is still a typo of "tracking"."""
    from kb.query.typos import Vocabulary, correct, inflection

    vocab = Vocabulary({"ctranslate2": 1, "translate": 4, "exllamav2": 1, "exllamav": 1, "evaluation": 2, "tracking": 2})
    for typed, name in (("ctranslate", "ctranslate2"), ("exllama", "exllamav2")):
        fix = correct(typed, vocab)
        assert fix.fixed == name and inflection(typed, name) and fix.suggestion() is None
    assert correct("evaluating", vocab).suggestion() is None and inflection("evaluating", "evaluation")
    assert correct("trackng", vocab).suggestion() == "tracking" and not inflection("ctranslate", "translate")
    assert not inflection("gpt", "gpt-4o") and correct("translat", vocab).fixed == "translate"


def test_the_topics_in_use_are_the_correction_targets_and_a_changed_topics_file_is_read_again():
    """A Corrector lists its vocabulary once, and again when the topics it is given change (the user edited
    topics.toml): a keyword of the topics now in use is a domain word to correct to, one no longer there is not."""
    from types import SimpleNamespace

    from kb.query.typos import Corrector
    from kb.topics import Topic

    current = [[Topic("speech", "Speech", (), ("vocoder",))]]
    backend = SimpleNamespace(vocabulary=lambda: {"trading": 2})
    corrector = Corrector(backend, topics=lambda: current[0])
    assert corrector.correct("neural vocodr").fixed == "neural vocoder"
    first = corrector.vocabulary()
    assert corrector.vocabulary() is first                                  # the same topics: listed once
    current[0] = [Topic("speech", "Speech", (), ("codec",))]
    assert corrector.correct("neural vocodr") is None and corrector.correct("neural codecc").fixed == "neural codec"


def test_a_hangul_loanword_and_its_english_original_are_one_word():
    """kb.text.loanword: equal consonant skeletons (3+), across scripts only; a topic that lists both spellings links
    them for typo corrections (kb.query.typos.topic_loanwords), and other words of the topic stay apart."""
    from kb.query.typos import topic_loanwords
    from kb.text.loanword import same_word, skeleton
    from kb.topics import Topic

    for ko, en in (("보코더", "vocoder"), ("트레이딩", "trading"), ("세그멘테이션", "segmentation"),
                   ("트랜스포머", "transformer"), ("토크나이저", "tokenizer"), ("하이퍼파라미터", "hyperparameter")):
        assert same_word(ko, en) and same_word(en, ko), (ko, en, skeleton(ko), skeleton(en))
    assert not same_word("음성", "machine") and not same_word("챗봇", "speech") and not same_word("코인", "coin")
    assert not same_word("vocoder", "vocoder") and skeleton("gpt-4") == ""
    pairs = topic_loanwords([Topic("speech", "Speech & audio", (), ("vocoder", "보코더", "음성", "speech", "보컬"))])
    assert pairs == {"보코더": ("vocoder",), "vocoder": ("보코더",)}


def test_stop_words_are_never_highlighted():
    from kb.app import html as render
    from kb.query.explain import match_terms

    assert not {"in", "the", "a"} & {t.lower() for t in match_terms("speech recognition in the wild with a GPU")}
    marked = render.highlight("A model in the wild", "model in the wild")
    assert marked == "A <mark>model</mark> in the <mark>wild</mark>"


def test_a_korean_particle_on_a_latin_word_is_no_word_of_its_own():
    """"CNN으로", "tracking이랑": the particle ends the Latin word; it is neither highlighted ("으로" is in most Korean
    sentences) nor a unit of the query that a section must hold (kb.query.explain.coverage_patterns)."""
    from kb.app import html as render
    from kb.query.explain import content_words, match_terms

    assert "으로" not in match_terms("CNN으로 이미지 분류") and "이랑" not in match_terms("tracking이랑 registry")
    assert content_words("experiment tracking이랑 model registry") == ["experiment", "tracking", "model", "registry"]
    assert "데이터셋이랑" in match_terms("데이터셋이랑 모델")                 # a Korean word keeps its particle
    assert render.highlight("CNN으로 학습한다", "CNN으로") == "<mark>CNN</mark>으로 학습한다"


def _sentences_to_check() -> list[str]:
    """Sentences of the bundled posts and of the messy fixtures, and text that case-folds or normalises unusually."""
    from pathlib import Path

    from kb.text.words import split_sentences

    root = Path(__file__).resolve().parent.parent
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in sorted((root / "content").glob("*.md"))]
    texts.append((root / "tests" / "fixtures" / "messy.py").read_text(encoding="utf-8"))
    texts += ["ΟΔΟΣA and ὈΔΟΣ.", "İstanbul İI GPT-4o", "ＧＰＴ２ ｋｏｒＢＥＲＴ ㄱㅏ 한글ﾊﾝｸﾞﾙ", "ǅemal ﬁne-tuning Straße",
              "KorGPT2와 fast.ai C++ C# node.js 3.14e5"]
    return [x for t in texts for x in split_sentences(t)]


def test_shared_counter_counts_exactly_the_shared_tokens():
    """The snippet's token count (kb.text.tokenize.shared_counter) is len(tokens & set(tokenize(x))) on every sentence,
    for queries of Hangul bigrams and lone syllables, Latin words and parts, and other scripts."""
    from kb.text.tokenize import shared_counter

    sentences = _sentences_to_check()
    assert len(sentences) > 200
    queries = ["트레이딩 GPT2", "fast.ai 강화학습", "İstanbul ΟΔΟΣ", "Straße bert", "한글 kor 책", "gpt ai 데이터 모델 c++",
               "ＧＰＴ２ ㄱㅏ"]
    matched = 0
    for q in queries:
        tokens = set(tokenize(q))
        count = shared_counter(tokens)
        for x in sentences:
            want = len(tokens & set(tokenize(x)))
            assert count(x) == want, (q, x)
            matched += want > 0
    assert matched > 50


def test_snippets_are_those_of_tokenizing_every_sentence():
    """The snippet is the sentence sharing most query tokens, exactly as when every sentence is tokenized."""
    from kb.core.types import Section
    from kb.query.snippets import snippet
    from kb.text.words import cut, split_sentences

    sentences = _sentences_to_check()
    sections = [Section(post_path="p", position=0, heading="h", text=" ".join(sentences[i:i + 6]), markdown="",
                        links=[], url="", names=[], post_title="t", date="", week="", tags=[], categories=[])
                for i in range(0, len(sentences), 6)]
    for q in ("트레이딩 GPT2", "fast.ai 강화학습", "İstanbul", "데이터 모델", "pytorch 논문"):
        tokens = set(tokenize(q))
        for s in sections:
            parts = split_sentences(s.text)
            top = max((len(tokens & set(tokenize(x))), -i, x) for i, x in enumerate(parts))
            want = cut(top[2] if top[0] > 0 else parts[0], 220)
            assert snippet(s, tokens) == want


def test_best_sentence_is_the_first_of_those_sharing_most_tokens():
    """kb.query.snippets.best_sentence tokenizes only sentences that could still win; its answer is the plain one:
    the earliest sentence with the most shared tokens, None when none shares any."""
    import random

    from kb.query.snippets import best_sentence

    sentences = _sentences_to_check()
    rng = random.Random(7)
    queries = ["트레이딩 GPT2", "fast.ai 강화학습", "데이터 모델 ai", "pytorch 논문 코드", "한글 kor 책", "İstanbul ΟΔΟΣ",
               "데이터셋 공개 hugging face"]
    decided = 0
    for _ in range(400):
        parts = rng.sample(sentences, rng.randint(2, 9))
        parts += rng.sample(parts, rng.randint(0, 2))               # repeated sentences: ties
        for q in queries:
            tokens = set(tokenize(q))
            counts = [len(tokens & set(tokenize(x))) for x in parts]
            want = counts.index(max(counts)) if max(counts) > 0 else None
            assert best_sentence(parts, tokens) == want, (q, parts)
            decided += want is not None
    assert decided > 300
