"""Topic evidence from words: where a topic's keywords (and their glossary synonyms) occur in a section — its heading
and resource names, its text, its links — and whether its post is tagged with the topic.

Matching rules (the same for every topic, shipped or user-written):

* A Korean keyword matches inside words ("트레이딩을", "알고리즘트레이딩"; "언어 모델" also meets "언어모델"), except
  a one-syllable keyword ("책"), which must stand as a word, optionally followed by a particle ("책을", "책이";
  not "책임", "정책").
* A Latin keyword matches whole words and the case/digit parts of a word, as kb.text.tokenize splits them, so `GPT`
  meets `KorGPT2` and `BERT` meets `KcBERT`; a plural s/es is ignored ("tokenizers" meets "tokenizer").
* Glossary synonyms of a keyword (the kb.text.glossary groups that contain the keyword) and a topic's weak keywords
  (words that often, not always, mean the topic: "토큰", "투자", "배포") count at GLOSSARY_WEIGHT.
* A link contributes the words of its host and path ("machine-learning-for-trading", "tutorials.pytorch.kr") plus a
  word its kind of site implies: a course platform → "course", a publisher or bookshop → "book", a YouTube
  playlist or channel → "lecture", a Korean site (`.kr`, a `ko` language part) → "korean", a preprint server → "paper".
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import numpy as np

from kb.text.glossary import GROUPS
from kb.text.tokenize import tokenize
from kb.text.words import PARTICLES, norm, split_sentences

GLOSSARY_WEIGHT = 0.5
# Switches for measuring what each part is worth (`python -m kb.topics --check --cv --no-glossary / --no-lead`;
# lead_names, korean_makers, billions: parts of implied_words, docs/eval.md "Issue 17, fourth pass").
OPTIONS = {"glossary": True, "lead": True, "implied": True, "lead_names": True, "korean_makers": True, "billions": True,
           "passing": True}
MAX_GRAM = 4                      # Latin keywords of up to this many words
_HANGUL = re.compile(r"[가-힣]")
_LATIN_WORD = re.compile(r"[a-z0-9]+(?:[.+#][a-z0-9]+)*\+*")
_LATIN_RUN = re.compile(r"[A-Za-z0-9]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")

# Kinds of site (general web knowledge, not tied to any post): host pattern → the word a link there implies.
_HOST_WORDS: list[tuple[re.Pattern, str]] = [(re.compile(p), w) for p, w in [
    (r"(^|\.)(coursera\.org|edx\.org|udemy\.com|udacity\.com|khanacademy\.org|inflearn\.com|fastcampus\.co\.kr"
     r"|boostcourse\.org|kmooc\.kr)$|^courses?\.", "course"),
    (r"(^|\.)(oreilly\.com|manning\.com|packtpub\.com|wiley\.com|springer\.com|leanpub\.com|nostarch\.com"
     r"|hanbit\.co\.kr|yes24\.com|aladin\.co\.kr|kyobobook\.co\.kr|gilbut\.co\.kr|amazon\.[a-z.]+)$", "book"),
    (r"(^|\.)(arxiv\.org|openreview\.net|aclanthology\.org|proceedings\.neurips\.cc)$", "paper"),
    (r"\.kr$", "korean"),
    # Korean institutions and platforms outside .kr (general knowledge, the way a .kr host is)
    (r"(^|\.)(naver\.com|navercorp\.com|kakao\.com|kakaocorp\.com|kakaobrain\.com|daum\.net|tistory\.com"
     r"|wikidocs\.net|velog\.io|brunch\.co\.kr|edwith\.org|kaist\.edu|snu\.edu|postech\.edu|yonsei\.edu"
     r"|ncsoft\.com|samsung\.com|lgresearch\.ai|upstage\.ai|scatterlab\.co\.kr)$", "korean"),
    (r"(^|\.)(wikidocs\.net|gitbook\.io|leanpub\.com)$|^(book|books|d2l)\.", "book"),
    (r"(^|\.)(edwith\.org|mooc\.|classcentral\.com|ocw\.mit\.edu)$", "course"),
]]
# GitHub/Hugging Face owners that are Korean companies, labs or communities (the first path part of such a link)
_KOREAN_OWNERS = frozenset("""naver navercorp naver-ai clovaai kakao kakaobrain kakaoenterprise skt sktbrain skt-ai
ncsoft lg-ai-research samsung samsungsds-research-papers upstage upstageai tunib-ai scatterlab etri kaist kaist-ai
snu snuailab postech yonsei korea-university monologg beomi haven-jeon sktelecom kor-ai ko-nlp kakaoenterprise
pytorchkorea 9bow tensorflowkorea teddylee777 ratsgo""".split())
# What a link's path says about the resource's form (URL shapes, any site)
_PATH_WORDS: list[tuple[re.Pattern, str]] = [(re.compile(p), w) for p, w in [
    (r"(^|/)(courses?|lectures?|syllabus|class|classes|mooc)(/|$|[-_.])", "course"),
    (r"(^|/)(books?|ebooks?|textbooks?|chapters?)(/|$|[-_.])|(^|[-_/])book([-_/.]|$)", "book"),
    (r"(^|/)(tutorials?|guides?)(/|$|[-_.])", "tutorial"),
    (r"cheat-?sheets?", "cheatsheet"),
    (r"(^|/)playlist(/|$)", "lecture"),
]]
# A course code in a heading, name or path ("CS231n", "cs224n", "6.S191", "EE 364"): the resource is a course
# ... or a course's own kind of name in a heading or name ("MLOps Zoomcamp", "Deep Learning Bootcamp", "Summer School")
_COURSE_NAME = re.compile(r"(?i)(?<![a-z])(?:boot|zoom)camp|summer school|winter school|study jam")
_COURSE_CODE = re.compile(r"(?i)(?<![a-z0-9])(?:cs|ee|stat|stats|math|ece|cse|dl|ml|6\.s)\s?\d{3}[a-z]?(?![a-z0-9])")
_HANGUL_CHARS = re.compile(r"[가-힣]")
_LATIN_CHARS = re.compile(r"[A-Za-z]")
HANGUL_TITLE_SHARE = 0.5   # a linked title at least this Hangul (of its letters) is Korean material
# A heading at least this Hangul is the resource's own Korean title; a Latin name with Korean words ("Silero 음성 인식
# 모델", "Acme: 강화학습 프레임워크") describes a named resource, in whatever language it is (docs/eval.md, fourth pass:
# mean precision over the splits +0.011, the same recall on the outside-written splits; any share from 0.6 to 0.99
# gives the same figures)
HANGUL_HEADING_SHARE = 0.8

# What a well-known tool does, in its topic's words (general knowledge of the ecosystem, not tied to any post): a
# section that names the tool in its heading or resource names gets these words as implied link evidence.
_TOOL_WORDS = {
    "mlops": """mlflow kubeflow airflow dvc wandb neptune comet tensorboard optuna hyperopt nni ray-tune raytune
        bentoml seldon kserve torchserve tfserving triton onnxruntime tensorrt openvino streamlit gradio
        label-studio labelstudio labelbox prodigy cvat great-expectations evidently feast prefect dagster metaflow
        zenml clearml polyaxon deepchecks whylogs pachyderm lakefs sagemaker vertex-ai
        keras-tuner mlem kedro vllm sglang text-generation-inference tgi tensorrt-llm deepspeed pytorch-lightning
        lightning-fabric openlineage delta-lake deltalake kubernetes docker gguf llama.cpp mlc-llm""",
    "nlp": """spacy nltk gensim fasttext sentencepiece konlpy mecab khaiii kiwi kiwipiepy soynlp hanspell pykospacing
        kss klue korquad fairseq allennlp flair stanza word2vec glove huggingface hugging-face""",
    "computer vision": """opencv detectron detectron2 mmdetection yolo yolov5 timm albumentations torchvision kornia
        imgaug segmentation-models stylegan""",
    "speech": """librosa espnet kaldi whisper wav2vec speechbrain tacotron wavenet deepspeech torchaudio pyannote
        magenta nemo""",
    "reinforcement learning": """gym openai-gym stable-baselines stable-baselines3 rllib dopamine pettingzoo mujoco
        dm-control""",
    "trading": """zipline backtrader quantlib pyfolio alphalens qlib ccxt ta-lib yfinance pandas-datareader""",
    # tools made for the Korean language (a Korean morphological analyser is Korean material whatever its README's
    # language)
    "korean": """konlpy khaiii kiwi kiwipiepy soynlp hanspell pykospacing kss klue korquad hyperclova""",
}
# What a well-known model or architecture is, the same way (a resource named after one is about its field): whole
# names, and families by their prefix (`yolo` meets YOLOX and YOLOv7, `convnext` ConvNeXt V2). Not ViT and VITS:
# a plural s is dropped before matching, so the two would be one name (a vision and a speech model).
_MODEL_WORDS = {
    "computer vision": """deit swin mobilevit resnext regnet detr mask-rcnn faster-rcnn retinanet unet u-net
        segformer segment-anything nerf instant-ngp gaussian-splatting biggan dall-e stable-diffusion imagen
        controlnet simclr moco byol clip""",
    "nlp": """bert roberta albert electra xlnet gpt chatgpt t5 bart bloom codex copilot hyperclova sbert
        sentence-bert nemo alpaca vicuna falcon palm chinchilla gopher flan-t5 pythia dolly bard claude gemini
        olmo solar glm phi-2 phi-3 phi-4 gpt-oss""",
    "speech": """fastpitch hifi-gan hifigan melgan waveglow glow-tts conformer citrinet hubert coqui""",
}
_MODEL_FAMILIES = {
    "computer vision": "yolo convnext resnet efficientnet mobilenet stylegan dalle",
    "nlp": """llama kogpt kobert koelectra mistral mixtral qwen gemma deepseek minimax kimi nemotron exaone kanana
        chatglm baichuan internlm starcoder codellama wizardlm""",
    "korean": "kogpt kobert koelectra kcbert kcelectra koalpaca exaone kanana",
    "speech": "tacotron fastspeech wav2vec",
}


def _name_table(*tables: dict[str, str]) -> dict[tuple[str, ...], list[str]]:
    """name (its words) → the topic words it implies, from tables of {topic words: names}; a name may imply
    several."""
    out: dict[tuple[str, ...], list[str]] = {}
    for table in tables:
        for words, names in table.items():
            for name in names.split():
                out.setdefault(tuple(name.split("-")), []).append(words)
    return out


_TOOLS = _name_table(_TOOL_WORDS, _MODEL_WORDS)
_FAMILIES = [(re.compile(rf"(?<![a-z0-9])(?:{'|'.join(names.split())})[a-z0-9]*"), words)
             for words, names in _MODEL_FAMILIES.items()]


def link_words(url: str) -> str:
    """The words a link contributes: its host, path and fragment split into words, plus what its kind of site
    implies."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    host = (parts.hostname or "").lower().removeprefix("www.")
    path = unquote(parts.path or "")
    words = [re.sub(r"[/._\-+=&?#%:]+", " ", f"{host} {path} {unquote(parts.fragment or '')}")]
    words += [w for rx, w in _HOST_WORDS if rx.search(host)]
    if re.search(r"(^|\.)ko\.", host) or re.search(r"(^|/)ko(/|$)", path):
        words.append("korean")
    if _video_series(host, path, parts.query or ""):
        words.append("lecture")
    words += [w for rx, w in _PATH_WORDS if rx.search(path.lower())]
    return " ".join(dict.fromkeys(words))


def _video_series(host: str, path: str, query: str) -> bool:
    """A YouTube playlist or channel: a series of videos, not one."""
    return ("youtube." in host or host == "youtu.be") and (
        "playlist" in path or "list=" in query or bool(re.match(r"/(@|c/|channel/|user/)", path)))


def video_series(url: str) -> bool:
    if "youtu" not in url:
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return _video_series((parts.hostname or "").lower().removeprefix("www."), parts.path or "", parts.query or "")


def korean_maker(section, lead: str = "") -> bool:
    """The section names a Korean maker in Hangul (_KOREAN_MAKER) in its heading, its first sentence or a linked
    title."""
    if _KOREAN_MAKER.search(f"{section.heading}\n{lead}"):
        return True
    return any(lk.text and _KOREAN_MAKER.search(lk.text) and not _generic_anchor(lk.text) for lk in section.links)


def hangul_share(text: str) -> float:
    """Hangul syllables over Hangul syllables plus Latin letters (0 when there are neither)."""
    h, latin = len(_HANGUL_CHARS.findall(text or "")), len(_LATIN_CHARS.findall(text or ""))
    return h / (h + latin) if h + latin else 0.0


def implied_words(section, head: Text | None = None, lead: Text | None = None) -> str:
    """What a section's links, titles and names imply beyond their words: its language (a heading or a linked
    title mostly in Hangul, a Korean owner or institution in a link → "korean"), its form (a course code → "course"; URL
    shapes are in link_words) and what a named tool or model does or is (_TOOL_WORDS, _MODEL_WORDS)."""
    words = ["korean"] if hangul_share(section.heading) >= HANGUL_HEADING_SHARE else []
    for link in section.links:
        owner = _owner(link.url)
        if owner in _KOREAN_OWNERS or (OPTIONS["korean_makers"] and _KOREAN_OWNER_NAME.search(owner)):
            words.append("korean")
        if link.text and hangul_share(link.text) >= HANGUL_TITLE_SHARE and not _generic_anchor(link.text):
            words.append("korean")
    if any(_COURSE_CODE.search(x) for x in [section.heading, *section.names, *(lk.url for lk in section.links)]):
        words.append("course")
    if any(_COURSE_NAME.search(x) for x in [section.heading, *section.names]):
        words.append("course")
    head = head or Text.of("\n".join([section.heading, *section.names]))
    lead_text = lead.text if lead is not None else ""
    if OPTIONS["korean_makers"] and korean_maker(section, lead_text):
        words.append("korean")
    if OPTIONS["billions"] and _BILLIONS.search("\n".join([section.heading, *section.names, lead_text])):
        words.append("nlp")
    tools = _stemmed_tools()
    named = [head, lead] if lead is not None and OPTIONS["lead_names"] else [head]
    grams = frozenset().union(*(f.grams for f in named))
    text = "\n".join(f.text for f in named)
    words += [w for key in sorted(grams & tools.keys()) for w in tools[key]]
    words += [w for rx, w in _FAMILIES if rx.search(text)]
    return " ".join(dict.fromkeys(words))


# A model's size in billions of parameters ("7B", "OPT-175B", "12.8B 모델"): since 2020 that is how large language
# models are named and compared; image and speech models rarely are
_BILLIONS = re.compile(r"(?<![\w.])\d+(?:\.\d+)?[Bb](?![A-Za-z])")
# A GitHub owner named after Korea ("sharebook-kr", "korea-ai", "kor-nlp")
_KOREAN_OWNER_NAME = re.compile(r"(^|[-_])(kr|kor|korea|korean)([-_]|$)|^korea")
# A Korean maker of Korean-language material named in Hangul: a university's lab, professor or lecture ("고려대 …
# 교수님 연구실", "서울대학교 데이터마이닝 연구실"), a Korean author or developer ("국내 저자"). Not a Korean research
# team ("… 연구진이 발표한"): a Korean team's English paper is not Korean material (docs/eval.md, labelling rules).
# (a university's name starts a word and is not one of the common words that end in 대: 최대, 시대, 세대, …)
_KOREAN_MAKER = re.compile(r"(?<![가-힣])(?!최대|시대|세대|기대|반대|확대|거대|절대|상대|대대)[가-힣]{1,4}대(?:학교)?\s?"
                           r"(?:[가-힣A-Za-z]+\s){0,3}(?:[가-힣]{2,4}\s)?(?:교수|연구실|랩|강의)|카이스트|포스텍|"
                           r"국내\s?(?:저자|개발자)|"
                           # a person named in Hangul with the honorific 님 ("나동빈님이", "테디노트님의"), not a title
                           r"(?<![가-힣])(?!교수|선생|박사|사장|회장|부장|고객|손님|여러)[가-힣]{2,5}님(?=이|의|께서|이\s|\s)")


_GENERIC_ANCHORS = ("참고링크", "링크", "바로가기", "원문", "논문", "깃헙", "깃허브", "코드", "블로그", "홈페이지", "영상", "자료")


def _generic_anchor(text: str) -> bool:
    """An anchor like "참고링크" or "논문" names no title: its language says nothing about the resource."""
    t = re.sub(r"\s+", "", text)
    return len(t) <= 6 or any(t.startswith(a) for a in _GENERIC_ANCHORS)


def _owner(url: str) -> str:
    """The owner part of a GitHub / Hugging Face / GitLab link ("kakaobrain" in github.com/kakaobrain/pororo)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    host = (parts.hostname or "").lower().removeprefix("www.")
    if host not in ("github.com", "huggingface.co", "gitlab.com") and not host.endswith(".github.io"):
        return ""
    if host.endswith(".github.io"):
        return host.split(".")[0]
    first = (parts.path or "/").strip("/").split("/")[0]
    return first.lower()


@functools.cache
def _stemmed_tools() -> dict[tuple[str, ...], list[str]]:
    """_TOOLS with its names stemmed the way Text.of stems a field's words."""
    out: dict[tuple[str, ...], list[str]] = {}
    for key, ws in _TOOLS.items():
        out.setdefault(tuple(_stem(x) for x in key), []).extend(ws)
    return out


@functools.lru_cache(maxsize=1 << 16)
def _stem(t: str) -> str:
    if len(t) > 3 and t.endswith("es") and t[-3] in "sxz":
        return t[:-2]
    if len(t) > 2 and t.endswith("s") and not t.endswith(("ss", "us", "is")):
        return t[:-1]
    return t


def _latin_key(term: str) -> tuple[str, ...]:
    return tuple(_stem(x) for x in _LATIN_WORD.findall(norm(term)))[:MAX_GRAM]


# Multi-word Latin glossary terms: a word inside one of them belongs to that term ("speech" in "hate speech",
# "book" in "order book"), unless the topic knows the term itself (longest match, as an analyzer would).
_MULTI = {k for group in GROUPS for t in group if not _HANGUL.search(t) and len(k := _latin_key(t)) > 1}


@dataclass(frozen=True)
class Text:
    """One field of a section, prepared once for every topic: its normalised text, its Latin word n-grams, and
    the words that occur only inside multi-word glossary terms (word → those terms)."""
    text: str
    grams: frozenset
    inside: dict

    @classmethod
    def of(cls, text: str) -> Text:
        # kb.text.tokenize on each stretch of ASCII text (Korean words break a phrase: no n-gram spans them)
        segments = [tokenize(seg) for seg in _NON_ASCII.split(text) if _LATIN_RUN.search(seg)]
        toks: list[str] = []
        grams: set = set()
        covered: dict[int, set] = {}
        for seg in segments:
            seg = [_stem(t) for t in seg]
            base = len(toks)
            toks += seg
            grams.update(zip(seg, strict=True))
            for n in range(2, min(MAX_GRAM, len(seg)) + 1):
                ngrams = list(zip(*(seg[k:] for k in range(n)), strict=False))      # every n words in a row
                grams.update(ngrams)
                if _MULTI.isdisjoint(ngrams):
                    continue
                for i, g in enumerate(ngrams):
                    if g in _MULTI:
                        for p in range(base + i, base + i + n):
                            covered.setdefault(p, set()).add(g)
        inside: dict[str, set] = {}
        for t in {toks[p] for p in covered}:
            spots = [p for p, x in enumerate(toks) if x == t]
            if all(p in covered for p in spots):
                inside[t] = set().union(*(covered[p] for p in spots))
        return cls(norm(text), frozenset(grams), inside)


@dataclass(frozen=True)
class Matcher:
    """A topic's keywords (weight 1) and their glossary synonyms (GLOSSARY_WEIGHT), ready to look for in a Text."""
    latin: dict                                   # word tuple → weight
    korean: tuple[tuple[re.Pattern, float], ...]  # one pattern per weight, best weight first

    def score(self, field: Text) -> float:
        """The best weight among the terms found in the field (0 when none is)."""
        best = 0.0
        for pattern, w in self.korean:
            if w > best and pattern.search(field.text):
                best = w
                break
        if len(self.latin) < len(field.grams):
            found = ((term, w) for term, w in self.latin.items() if w > best and term in field.grams)
        else:
            found = ((g, self.latin[g]) for g in field.grams if self.latin.get(g, 0.0) > best)
        for term, w in found:
            if w > best and not (len(term) == 1 and term[0] in field.inside
                                 and field.inside[term[0]].isdisjoint(self.latin)):
                best = w
        return best


def _korean_part(term: str) -> str:
    t = norm(term).replace(" ", "")
    body = r"\s*".join(re.escape(c) for c in t)     # "언어 모델" also meets "언어모델"
    if len(t) == 1:
        return rf"(?<![가-힣]){body}(?=$|[^가-힣]|(?:{'|'.join(PARTICLES)})(?![가-힣]))"
    return body


def synonyms(keyword: str) -> list[str]:
    """Glossary terms in the groups that contain the keyword (the keyword itself excluded)."""
    k = norm(keyword)
    out: list[str] = []
    for group in GROUPS:
        if k in {norm(t) for t in group}:
            out += [t for t in group if norm(t) != k and t not in out]
    return out


def matcher(keywords, weak=(), glossary: bool = True) -> Matcher:
    """The Matcher for a topic's keywords (weight 1), weak keywords and the keywords' glossary synonyms (unless
    glossary=False) (weight GLOSSARY_WEIGHT)."""
    weighted = [(k, 1.0) for k in keywords] + [(k, GLOSSARY_WEIGHT) for k in weak]
    if glossary and OPTIONS["glossary"]:
        weighted += [(s, GLOSSARY_WEIGHT) for k in keywords for s in synonyms(k)]
    latin: dict = {}
    korean: dict[float, list[str]] = {}
    for term, w in weighted:
        if not term.strip():
            continue
        if _HANGUL.search(term):
            korean.setdefault(w, []).append(_korean_part(term))
        else:
            key = _latin_key(term)
            if key and latin.get(key, 0.0) < w:
                latin[key] = w
    pats = tuple((re.compile("|".join(sorted(set(parts), key=len, reverse=True))), w)
                 for w, parts in sorted(korean.items(), reverse=True))
    return Matcher(latin, pats)


@dataclass(frozen=True)
class Fields:
    """The words of one section, by where they occur."""
    head: Text            # heading and referenced resource names
    lead: Text            # the commentary's first sentence (which usually says what the resource is)
    body: Text            # the rest of the commentary (where passing mentions are)
    links: Text           # link words
    implied: Text         # what links, titles and names imply: language, form, a named tool's use (implied_words)
    tags: frozenset       # the post's tags, normalised




# "Supports Korean too": the Korean language named in passing in the commentary — with the particle 도/까지 ("also"),
# directly or after one word ("한국어도", "한글까지", "한국어 모델도"; not "한국어로도", available in Korean), or as a
# language supported or included ("한국어를 지원", "한국어를 포함"). The labelling rules keep such a resource out of the
# Korean topic (a multilingual model is not Korean material): of the 20 labelled sections with one, 18 are not in it
# (docs/eval.md, "Issue 17, tenth pass"). The commentary's keyword evidence does without the word there.
_PASSING_LANGUAGE = re.compile(r"(?:한국어|한글)(?=(?:에서|에|를|가)?(?:도|까지)(?![가-힣])"
                               r"|\s?(?!번역)[가-힣A-Za-z]{1,6}(?<!로)(?<!으로)(?:에서|에)?도(?![가-힣])"
                               r"|(?:를|을|가|이|도)?\s?(?:지원|포함))")


def without_passing_language(text: str) -> str:
    """The commentary without the Korean language's passing mentions (_PASSING_LANGUAGE)."""
    return _PASSING_LANGUAGE.sub("", text) if OPTIONS["passing"] else text


def fields(section) -> Fields:
    links = " ".join(link_words(link.url) for link in section.links)
    head = Text.of("\n".join([section.heading, *section.names]))
    parts = split_sentences(section.text)
    lead, rest = (parts[0], " ".join(parts[1:])) if parts else ("", "")
    if (OPTIONS["korean_makers"] and OPTIONS["implied"] and any(video_series(lk.url) for lk in section.links)
            and korean_maker(section, lead)):
        links += " korean"     # a Korean university's or lab's own video series is in Korean, like a .kr site
    if not OPTIONS["lead"]:
        lead, rest = "", section.text or ""
    lead, rest = without_passing_language(lead), without_passing_language(rest)
    lead_text = Text.of(lead)
    implied = implied_words(section, head, lead_text) if OPTIONS["implied"] else ""
    return Fields(head, lead_text, Text.of(rest), Text.of(links), Text.of(implied),
                  frozenset(norm(t) for t in section.tags))


FIELDS = ("heading", "lead", "text", "link", "implied", "tag")


def keyword_evidence(sections_fields: list[Fields], keywords, names=(), weak=()) -> np.ndarray:
    """(sections, 6): the best keyword weight found in the heading/names, the first sentence, the rest of the text,
    the links and the implied words, and 1 when the post is tagged with one of the keywords or the topic's
    name/label. Computed a field at a time over every section (Matcher.score's rules): Korean terms by one regex
    pass over the field's text of all sections, Latin terms by set intersections."""
    m = matcher(keywords, weak)
    tag_words = {norm(k) for k in (*keywords, *names)}
    joined = _joined(sections_fields)
    out = np.zeros((len(sections_fields), len(FIELDS)), dtype=np.float32)
    for col, attr in enumerate(_TEXT_FIELDS):
        out[:, col] = np.maximum(joined.korean(attr, m.korean), _latin_best(sections_fields, attr, m.latin))
    out[:, 5] = [not tag_words.isdisjoint(f.tags) for f in sections_fields]
    return out


_TEXT_FIELDS = ("head", "lead", "body", "links", "implied")
_SEP = "\x00"        # between sections' texts: no keyword pattern (Hangul, spaces) reaches over it


class _Joined:
    """One field's normalised text of every section, joined, with where each section starts."""

    def __init__(self, sections_fields: list[Fields]):
        self.fields = sections_fields
        self._text: dict[str, tuple[str, np.ndarray]] = {}

    def korean(self, attr: str, patterns) -> np.ndarray:
        """Per section, the best weight of the Korean patterns found in the field."""
        best = np.zeros(len(self.fields), dtype=np.float32)
        if not patterns or not self.fields:
            return best
        if attr not in self._text:
            texts = [getattr(f, attr).text for f in self.fields]
            starts = np.cumsum([0] + [len(t) + 1 for t in texts[:-1]])
            self._text[attr] = (_SEP.join(texts), starts)
        text, starts = self._text[attr]
        for pattern, w in patterns:
            at = [hit.start() for hit in pattern.finditer(text)]
            if at:
                rows = np.searchsorted(starts, np.asarray(at), side="right") - 1
                best[rows] = np.maximum(best[rows], w)
        return best


_JOINED: dict = {}


def _joined(sections_fields: list[Fields]) -> _Joined:
    """The _Joined of these fields, kept for the last list asked about (every topic of an assignment asks)."""
    if _JOINED.get("of") is not sections_fields:
        _JOINED.clear()
        _JOINED.update(of=sections_fields, joined=_Joined(sections_fields))
    return _JOINED["joined"]


def _latin_best(sections_fields: list[Fields], attr: str, latin: dict) -> np.ndarray:
    """Per section, the best weight of the Latin terms among the field's word n-grams (a word that occurs only
    inside a multi-word glossary term the topic does not know does not count)."""
    best = np.zeros(len(sections_fields), dtype=np.float32)
    if not latin:
        return best
    terms = set(latin)
    for i, f in enumerate(sections_fields):
        field = getattr(f, attr)
        common = terms.intersection(field.grams)
        if common:
            best[i] = max((latin[g] for g in common if not (len(g) == 1 and g[0] in field.inside
                                                             and field.inside[g[0]].isdisjoint(latin))), default=0.0)
    return best
