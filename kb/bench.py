"""`python -m kb.bench`: measure kb on a synthetic corpus of real-shaped posts (speed, memory, recall, rebuilds).

What it does, in order (every figure is printed; with --json the last line is one JSON object):

1. Writes N sections as Hexo posts (front matter, intro, `## 목차`, `### ` sections of Korean commentary with
   English resource names and 참고링크 links; 6–14 sections a post, dates spread over ten years) into a temp folder.
2. Real model, small sample: builds a corpus of `--sample` sections with the real bundled e5 model through
   kb.build.build_index; each batch the build embeds is embedded once more on its own right before or after it
   (alternating), so the embedder's raw throughput (the ceiling) and the build's are measured at the same moments.
3. Scale: builds the N-section corpus through kb.build.build_index with a *pooled* embedder — each entry text gets
   a deterministic mix of two real e5 passage vectors from step 2 plus Gaussian noise, re-normalised — so 100,000
   sections do not take hours to embed on 2 cores, while the vectors keep e5's geometry. Then a no-op rebuild and a
   rebuild after editing one post.
4. Opens the index (kb.open_index) and times warm queries per mode with real e5 query embeddings, p50/p95/p99.
5. Baselines in the same run: kb's keyword leg against bm25s and rank_bm25 on the same tokens (kb's scores must
   equal bm25s's); FAISS flat against kb's IVF with 8-bit codes (recall@10 of the raw codes, after exact
   re-scoring, and end to end); optionally HNSW (--hnsw) and an IVF-Flat grid (--ivf-scan).
6. From outside, as separate processes: `python -m kb.search` start to first answer, and its peak RSS over a batch;
   `python -m kb.index` on the N-section corpus with nothing changed and after one post gains a section (real
   model), then that section found by `python -m kb.search`; and on a real-shaped corpus of `--rebuild-posts` posts
   with the real model, `python -m kb.index` full build, no-op rebuild and one-post-edit rebuild (ratios to the
   full build), then that the edit is searchable.

`--workdir W` keeps W/content and W/index (a real index of the synthetic posts, built with pooled vectors under the
real model's name) so the CLI can be timed on it from outside: `python -m kb.index --content W/content --index-dir
W/index`, `python -m kb.search --index-dir W/index QUERY`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from kb.build import build_index
from kb.cli import Parser, run
from kb.config import Settings
from kb.embed import E5Embedder
from kb.entries import entry_tokens
from kb.keyword import BM25_B, BM25_K1
from kb.query import open_index
from kb.store import current_version
from kb.tokenize import tokenize_query
from kb.vector import IVF_NPROBE, build_ivf

# ---- synthetic posts ----------------------------------------------------------------------------------------------

_PREFIX = ["Fast", "Deep", "Open", "Ko", "Mega", "Tiny", "Hyper", "Neural", "Meta", "Auto", "Flash", "Sparse", "Graph",
           "Vision", "Speech", "Diffu", "Token", "Prompt", "Retro", "Mix", "Light", "Quant", "Lang", "Robo", "Bio",
           "Geo", "Time", "Rank", "Seg", "Pose", "Med", "Fin", "Chem", "Code", "Music", "Kor", "Poly", "Uni", "Omni",
           "Edge"]
_SUFFIX = ["Former", "BERT", "GPT", "Net", "Book", "Bench", "Flow", "Serve", "Lab", "Diffusion", "RL", "Vec", "Mamba",
           "LM", "Store", "Kit", "Hub", "Gym", "Scope", "Mind", "Tune", "Align", "Search", "Graph", "Vision", "Speech",
           "Track", "Pipe", "Cast", "Gen"]
_KIND = ["", "", "", " tutorial", " 논문", " paper", " 라이브러리", " course", " 강의", " review", " 리뷰", " blog",
         " release", " dataset", " 데이터셋", " survey", " benchmark", " demo"]
_ORGS = ["구글", "Google Research", "DeepMind", "딥마인드", "OpenAI", "Meta AI", "페이스북", "MS", "마이크로소프트",
         "네이버", "카카오브레인", "Hugging Face", "허깅페이스", "스탠포드", "Stanford", "MIT", "버클리", "NVIDIA",
         "엔비디아", "Allen AI", "LG AI연구원", "업스테이지", "Upstage", "KAIST", "서울대", "Apple", "Amazon", "Uber",
         "Netflix", "Spotify", "Salesforce", "Anthropic", "Cohere", "Mistral", "EleutherAI", "BigScience"]
_TOPICS = ["자연어처리", "강화학습", "추천 시스템", "음성인식", "이미지 분류", "시계열 예측", "그래프 신경망", "생성 모델",
           "모델 경량화", "분산 학습", "데이터 파이프라인", "질의응답", "기계번역", "객체 탐지", "이미지 분할",
           "자율주행", "의료 영상", "주식 트레이딩", "추론 최적화", "양자화", "지식 증류", "대조학습", "자기지도학습",
           "멀티모달", "텍스트 요약", "감성 분석", "개체명 인식", "검색 시스템", "벡터 검색", "MLOps", "피처 스토어",
           "하이퍼파라미터 튜닝", "AutoML", "설명가능한 AI", "공정성", "연합학습", "음성 합성", "얼굴 인식",
           "포즈 추정", "3D 복원", "NeRF", "diffusion", "transformer", "LLM", "RAG", "에이전트", "코드 생성",
           "한국어 언어모델", "토크나이저", "임베딩"]
_TECH = ["PyTorch", "TensorFlow", "JAX", "Keras", "scikit-learn", "ONNX", "TensorRT", "Triton", "Ray", "Spark",
         "Kubernetes", "Docker", "Airflow", "MLflow", "Weights & Biases", "FastAPI", "Streamlit", "Gradio", "CUDA",
         "Colab", "Jupyter", "numpy", "pandas", "FAISS", "Elasticsearch", "Redis", "Rust", "C++", "WebGPU"]
_OPEN = [
    "{org}에서 공개한 {topic} 관련 {what}이다.",
    "{org}이 {topic} 분야에서 새로운 {what}를 발표했다.",
    "{topic}에 관심있는 분들이라면 한번쯤 볼만한 {what}.",
    "최근 {topic} 쪽에서 화제가 되고 있는 {name}에 대한 {what}.",
    "{name}은 {tech} 기반으로 {topic} 작업을 손쉽게 해주는 도구라고 한다.",
    "{topic} 모델을 {tech}로 구현해둔 {what}을 발견했다.",
    "커뮤니티에 어떤 분이 {name} 튜토리얼을 공유해주셨다.",
    "{org}의 {topic} 연구를 정리한 {what}인데, 생각보다 내용이 알차다.",
]
_MIDDLE = [
    "기존 방법 대비 학습 속도가 {n}배 정도 빨라졌다고 하는데, 실제로 재현이 되는지는 확인이 필요해 보인다.",
    "{tech}와 같이 쓰기 좋게 API가 정리되어 있어서 바로 가져다 쓰기 좋을듯.",
    "특히 한국어 데이터에 대해서도 실험 결과를 보여주고 있어서 국내 연구자들에게 도움이 될 것 같다.",
    "논문의 핵심 아이디어는 {topic}에서 흔히 쓰이는 구조를 단순화하고 데이터 양을 늘리는 것이다.",
    "코드베이스를 보지는 못했지만 README를 보면 {tech} 버전에 따라 설치 방법이 조금 다르다고 한다.",
    "벤치마크 점수가 SOTA라고는 하지만 파라미터 수가 {n}B 수준이라 서비스에 바로 쓰기에는 무리가 있을듯.",
    "사실 {topic} 분야는 재현성이 늘 문제였는데 이런 시도들이 쌓이면 조금씩 나아지지 않을까 싶다.",
    "예제 노트북이 잘 정리되어 있어서 Colab에서 바로 돌려볼 수 있다.",
    "데이터셋 구성부터 평가 방법까지 꼼꼼하게 설명해주고 있어서 입문자에게도 추천할 만하다.",
    "{org}의 기존 연구인 {name2}의 후속 작업으로 보인다.",
    "실무에서 {topic} 파이프라인을 운영하면서 겪은 문제들을 솔직하게 적어둔 점이 좋았다.",
    "개인적으로는 {tech} 쪽 생태계가 점점 더 커지고 있다는 게 느껴진다.",
    "강의 영상과 슬라이드가 모두 공개되어 있어서 주말에 몰아서 보기 좋을 것 같다.",
    "메모리 사용량을 크게 줄였다는 점이 인상적이고, {n}GB GPU에서도 돌아간다고 한다.",
]
_CLOSE = ["한 번쯤 테스트 해봐도 좋을듯.", "시간되면 읽어볼 예정.", "참고해보면 좋을듯.", "역시 세상에 쉬운 건 없는듯.",
          "다음에 기회가 되면 직접 써보고 후기를 남겨야겠다.", "관심있는 분들은 한번 보시길.", "앞으로가 더 기대된다.",
          "", "", ""]
_TAGS = ["ML", "DL", "NLP", "CV", "RL", "MLOps", "Korean", "Speech", "LLM", "Paper", "Tutorial", "Data"]


@dataclass
class SyntheticCorpus:
    folder: Path
    files: list[Path]
    sections: int


def _name(rng: random.Random) -> str:
    base = rng.choice(_PREFIX) + rng.choice(_SUFFIX)
    if rng.random() < 0.35:
        base += str(rng.randint(2, 9))
    elif rng.random() < 0.2:
        base += f"-{rng.choice(['v2', 'XL', 'Lite', 'Pro', 'Zero', 'S', 'Large'])}"
    return base


def _section(rng: random.Random, long: bool) -> tuple[str, str]:
    """(heading, markdown body) of one section."""
    name = _name(rng)
    heading = name + rng.choice(_KIND)
    slots = {"org": rng.choice(_ORGS), "topic": rng.choice(_TOPICS), "tech": rng.choice(_TECH), "name": name,
             "name2": _name(rng), "n": rng.randint(2, 70),
             "what": rng.choice(["라이브러리", "논문", "블로그 글", "레포", "강의", "발표자료", "데이터셋", "튜토리얼"])}
    owner = rng.choice(["google", "facebookresearch", "microsoft", "huggingface", "openai", "naver", "kakaobrain",
                        "rasbt", "fastai", "lucidrains", "ratsgo", "Beomi", "monologg", "karpathy", "pytorch"])
    kind = rng.random()
    if kind < 0.45:
        links = f"[참고링크](https://github.com/{owner}/{name.lower()})"
    elif kind < 0.7:
        links = f"[참고링크](https://arxiv.org/abs/{rng.randint(15, 24)}{rng.randint(1, 12):02d}.{rng.randint(1, 19999):05d})"
    elif kind < 0.85:
        links = (f"[참고링크](https://{owner.lower()}.github.io/{name.lower()}/), "
                 f"[참고링크2](https://github.com/{owner}/{name.lower()})")
    else:
        links = f"[{name} 블로그](https://blog.{owner.lower()}.com/posts/{name.lower()}-{rng.randint(1, 999)})"
    paras = [rng.choice(_OPEN).format(**slots)]
    for _ in range(rng.randint(1, 3) + (rng.randint(6, 14) if long else 0)):
        paras.append(rng.choice(_MIDDLE).format(**slots))
    close = rng.choice(_CLOSE)
    if close:
        paras.append(close)
    # wrap like the real posts: a blank line between 1–2 sentence paragraphs
    body, cur = [], []
    for p in paras:
        cur.append(p)
        if len(cur) >= rng.randint(1, 2):
            body.append(" ".join(cur))
            cur = []
    if cur:
        body.append(" ".join(cur))
    return heading, links + "\n\n" + "\n\n".join(body)


def post_text(rng: random.Random, d: date, n_sections: int) -> str:
    """One Hexo post in the shape of content/2020-06-27-weekly-ml-dl-news.md."""
    week = (d.day - 1) // 7 + 1
    tags = ["ML", "DL"] + rng.sample(_TAGS[2:], rng.randint(0, 3))
    cats = ["news"] if rng.random() < 0.85 else [rng.choice(["paper", "tutorial", "news"])]
    secs = [_section(rng, long=rng.random() < 0.05) for _ in range(n_sections)]
    lines = ["---", f"title: Weekly ML/DL News ({d.month}월 {week}주차)", f"date: {d:%Y.%m.%d} 12:00:00",
             "categories:", *[f"- {c}" for c in cats], "tags:", *[f"- {t}" for t in tags], "---", "", "",
             f"이번주도 {rng.choice(_TOPICS)} 쪽 소식이 많았다. {rng.choice(_MIDDLE).format(topic=rng.choice(_TOPICS), tech=rng.choice(_TECH), org=rng.choice(_ORGS), name2=_name(rng), n=3)}",
             "", "자 그러면 이번주 소식도 한번 알아보시죠.", "", "", "## 목차", ""]
    lines += [f"- [{h}](#{h.lower().replace(' ', '-')})" for h, _ in secs]
    lines += ["", ""]
    for h, body in secs:
        lines += [f"### {h}", "", body, ""]
    return "\n".join(lines) + "\n"


def write_corpus(folder: Path, n_sections: int | None = None, seed: int = 0, start: date = date(2015, 1, 3),
                 years: float = 10.0, posts: int | None = None) -> SyntheticCorpus:
    """Write posts of 6–14 sections into folder — n_sections in total, or `posts` posts — dated over `years`."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    sizes: list[int] = []
    if posts is not None:
        sizes = [rng.randint(6, 14) for _ in range(posts)]
    else:
        while sum(sizes) < n_sections:
            sizes.append(min(rng.randint(6, 14), n_sections - sum(sizes)))
    span = int(365.25 * years)
    files = []
    for i, k in enumerate(sizes):
        d = start + timedelta(days=int(i * span / max(1, len(sizes))))
        path = folder / f"{d:%Y-%m-%d}-weekly-ml-dl-news-{i:05d}.md"
        path.write_text(post_text(rng, d, k), encoding="utf-8")
        files.append(path)
    return SyntheticCorpus(folder, files, sum(sizes))


# ---- embedders ----------------------------------------------------------------------------------------------------

class PooledEmbedder:
    """Stands in for e5 at scale: entry text → mix of two real e5 passage vectors from a pool + Gaussian noise.

    Deterministic per text (the text's hash seeds the choice and the noise), so an unchanged section gets the same
    vector on a rebuild, and it carries the real model's name so queries are embedded by the real model. Vector =
    normalise(pool[i] + MIX·pool[j] + NOISE·g), g ~ N(0, I/dim): a continuum around the real vectors rather than a
    few hundred tight clusters.
    """

    MIX = 0.5
    NOISE = 0.35

    def __init__(self, pool, name: str = "multilingual-e5-small"):
        import numpy as np

        self.pool = np.asarray(pool, dtype=np.float32)
        self.dim = int(self.pool.shape[1])
        self.name = name
        self.calls = 0
        self.seconds = 0.0

    def embed_passages(self, texts: list[str]):
        import numpy as np

        t0 = time.perf_counter()
        self.calls += len(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for r, t in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(t.encode("utf-8"), digest_size=8).digest(), "little")
            g = np.random.default_rng(seed)
            i, j = g.integers(len(self.pool), size=2)
            out[r] = self.pool[i] + self.MIX * self.pool[j] + g.standard_normal(self.dim, dtype=np.float32) * (
                self.NOISE / np.sqrt(self.dim))
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        self.seconds += time.perf_counter() - t0
        return out

    def embed_query(self, text: str):  # pragma: no cover - queries always use the real model
        raise NotImplementedError("the pooled embedder only stands in for passages")


# ---- measuring ----------------------------------------------------------------------------------------------------

QUERIES = [
    "강화학습 트레이딩", "KorGPT2 tutorial", "딥마인드 자연어처리 강의", "vector search library", "모델 경량화 양자화 논문",
    "음성인식 공부 자료", "fast.ai book", "주식 데이터로 가격 예측하는 신경망", "이미지 생성 diffusion 모델",
    "한국어 BERT 사전학습", "Hugging Face 데이터셋 공개", "추천 시스템 실무 경험", "그래프 신경망 튜토리얼",
    "LLM agent framework", "MLOps 파이프라인 운영", "객체 탐지 벤치마크", "self-supervised contrastive learning",
    "텍스트 요약 모델", "PyTorch 분산 학습", "explainable AI fairness", "FlashFormer", "구글에서 공개한 기계번역 논문",
    "Colab에서 바로 돌려볼 수 있는 예제", "메모리 사용량을 줄인 LLM", "의료 영상 분할 데이터셋", "NeRF 3D 복원",
    "Kubernetes model serving", "하이퍼파라미터 튜닝 AutoML", "자율주행 포즈 추정", "speech synthesis 음성 합성",
    "카카오브레인 언어모델", "Streamlit demo app", "RAG 검색 시스템 임베딩", "time series forecasting",
    "지식 증류로 작은 모델 만들기", "연합학습 개인정보", "code generation benchmark", "MetaMind2 논문 리뷰",
    "얼굴 인식 공정성 문제", "JAX transformer 구현",
]
MODES = ("keyword", "semantic", "hybrid")


def _pct(ms: list[float]) -> dict[str, float]:
    import numpy as np

    a = np.asarray(ms, dtype=np.float64)
    return {"p50": round(float(np.percentile(a, 50)), 2), "p95": round(float(np.percentile(a, 95)), 2),
            "p99": round(float(np.percentile(a, 99)), 2), "n": int(a.size)}


def _rss_mb() -> float:
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _folder_bytes(folder: Path) -> dict[str, int]:
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            out[p.relative_to(folder).as_posix()] = p.stat().st_size
    return out


def machine() -> dict:
    import platform

    import numpy as np

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1 << 20)
    except (ValueError, OSError):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_mb": mem, "python": platform.python_version(),
            "numpy": np.__version__, "load_avg_1m": round(os.getloadavg()[0], 2)}


def _settings(content: Path, index: Path):

    return Settings.load(content, index)


def _env() -> dict:
    """Environment for child processes: this kb on the import path, and quiet."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    for k in ("KB_CONTENT_DIR", "KB_INDEX_DIR", "KB_MODEL"):
        env.pop(k, None)
    return env


# Runs a command as a grandchild: Linux carries a process's peak RSS across vfork+exec, so a child spawned straight
# from this (large) process would report the bench's own peak as its peak; a fork from this small launcher does not.
_LAUNCHER = """
import json, os, sys, time
t0 = time.monotonic()
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, ru = os.wait4(pid, 0)
print(json.dumps({"start": t0, "end": time.monotonic(), "code": os.waitstatus_to_exitcode(status),
                  "maxrss_kb": ru.ru_maxrss}), file=sys.stderr)
"""


def _run(cmd: list[str], first_line: bool = False) -> tuple[float, float, float, str]:
    """Run a command as a separate process: (seconds from its start to its first stdout line, seconds to its exit,
    its peak RSS in MB, its stdout). The times start when the command's process is forked."""
    p = subprocess.Popen([sys.executable, "-c", _LAUNCHER, *cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=_env(), text=True, encoding="utf-8")
    first = p.stdout.readline() if first_line else ""
    t_first = time.monotonic()
    rest = p.stdout.read()
    err = p.stderr.read()
    p.wait()
    try:
        info = json.loads(err.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise RuntimeError(f"{' '.join(cmd[:4])} … did not run: {err.strip()[-300:]}") from None
    if info["code"] != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} … exited {info['code']}: {err.strip()[-300:]}")
    t_exit = info["end"] - info["start"]
    return (t_first - info["start"] if first_line else t_exit), t_exit, info["maxrss_kb"] / 1024, first + rest


def _edit_post(path: Path, token: str) -> None:
    """Append a sentence holding `token` to the post's first section (a one-post edit)."""
    text = path.read_text(encoding="utf-8")
    i = text.index("\n### ")
    j = text.find("\n### ", i + 5)
    j = len(text) if j < 0 else j
    path.write_text(text[:j].rstrip("\n") + f"\n\n추가 메모: {token} 관련 내용을 덧붙였다.\n\n" + text[j:].lstrip("\n"),
                    encoding="utf-8")


class _Interleaved:
    """The real embedder as build_index sees it, for the throughput figure. Each batch the build asks for is also
    embedded once more on its own, right before or right after (alternating), so the embedder's raw speed and the
    build's are measured at the same moments — on a shared, noisy machine two separate runs minutes apart differ
    more than the figure being measured."""

    def __init__(self, emb):
        self.emb, self.name, self.dim = emb, emb.name, emb.dim
        self.raw_s = self.in_build_s = 0.0
        self.batches = 0

    def _raw(self, texts: list[str]) -> None:
        t0 = time.perf_counter()
        self.emb.embed_passages(texts)
        self.raw_s += time.perf_counter() - t0

    def embed_passages(self, texts: list[str]):
        self.batches += 1
        if self.batches % 2:
            self._raw(texts)
        t0 = time.perf_counter()
        out = self.emb.embed_passages(texts)
        self.in_build_s += time.perf_counter() - t0
        if not self.batches % 2:
            self._raw(texts)
        return out

    def embed_query(self, text: str):
        return self.emb.embed_query(text)


def measure_throughput(work: Path, n_sections: int, log) -> tuple[dict, object]:
    """Real model: the build's throughput against the embedder's own on the same texts, interleaved batch by batch.
    Returns (figures, the sample's vectors: the pool for the pooled embedder)."""


    t = time.perf_counter()
    emb = E5Embedder()
    load_s = time.perf_counter() - t
    corpus = write_corpus(work / "sample", n_sections, seed=1)
    log(f"throughput: {n_sections} sections with the real model, build and raw interleaved batch by batch …")
    timer = _Interleaved(emb)
    report = build_index(_settings(corpus.folder, work / "sample-index"), full=True, embedder=timer)
    build_s = report.seconds - timer.raw_s            # the build's own wall time, the interleaved raw calls taken out
    q_ms = []
    for q in QUERIES:
        t0 = time.perf_counter()
        emb.embed_query(q)
        q_ms.append((time.perf_counter() - t0) * 1000)
    idx = open_index(work / "sample-index")
    pool = all_vectors(idx)
    fig = {
        "model": emb.name, "model_load_s": round(load_s, 3), "sample_sections": n_sections,
        "entries_embedded": report.embedded, "raw_s": round(timer.raw_s, 2), "build_s": round(build_s, 2),
        "model_in_build_s": round(timer.in_build_s, 2),
        "raw_sections_per_s": round(n_sections / timer.raw_s, 3),
        "build_sections_per_s": round(n_sections / build_s, 3),
        "build_vs_raw": round(timer.raw_s / build_s, 3),
        "model_share_of_build": round(timer.in_build_s / build_s, 3),
        "query_embed_ms": _pct(q_ms),
    }
    log(f"  raw {fig['raw_sections_per_s']} sections/s, build {fig['build_sections_per_s']} sections/s "
        f"→ build/raw {fig['build_vs_raw']:.1%} (model {fig['model_share_of_build']:.1%} of the build); "
        f"query embedding p50 {fig['query_embed_ms']['p50']} ms")
    return fig, pool


def measure_build(work: Path, n_sections: int, pool, log, raw_sections_per_s: float, profile: Path | None) -> dict:
    """The N-section corpus through build_index with the pooled embedder: full, no-op, one-post edit."""

    corpus = write_corpus(work / "content", n_sections, seed=0)
    settings = _settings(corpus.folder, work / "index")
    emb = PooledEmbedder(pool)
    log(f"build: {n_sections} sections in {len(corpus.files)} posts (pooled vectors) …")
    with _profiled(profile, "build"):
        full = build_index(settings, full=True, embedder=emb)
    rss_build = _rss_mb()
    pooled_s = emb.seconds
    noop = build_index(settings, embedder=emb)
    edited = corpus.files[len(corpus.files) // 2]
    token = "kbbenchedit" + hashlib.sha1(str(time.time()).encode()).hexdigest()[:8]
    _edit_post(edited, token)
    edit = build_index(settings, embedder=emb)
    vdir = current_version(work / "index")
    files = _folder_bytes(vdir)
    fig = {
        "posts": len(corpus.files), "full_s": round(full.seconds, 2), "noop_s": round(noop.seconds, 3),
        "noop_up_to_date": noop.up_to_date, "edit_s": round(edit.seconds, 2), "edit_embedded": edit.embedded,
        "noop_vs_full": round(noop.seconds / full.seconds, 4), "edit_vs_full": round(edit.seconds / full.seconds, 4),
        "index_bytes": sum(files.values()), "index_files": files, "peak_rss_mb_after_build": rss_build,
        "edited_post": edited.name, "edit_token": token,
        "pooled_embedding_s": round(pooled_s, 2),
        "full_without_embedding_s": round(full.seconds - pooled_s, 2),
        # the same build with the real model: everything but embedding, plus N sections at the raw model speed
        "projected_full_real_model_s": round(full.seconds - pooled_s + n_sections / raw_sections_per_s, 1),
    }
    log(f"  full {fig['full_s']} s, no-op {fig['noop_s']} s, one-post edit {fig['edit_s']} s "
        f"({edit.embedded} entries embedded); index {fig['index_bytes'] / 1e6:.1f} MB")
    return fig


class _profiled:
    """cProfile a block into DIR/<name>.prof and print its top functions to stderr (no-op without a DIR)."""

    def __init__(self, folder: Path | None, name: str):
        self.folder, self.name, self.prof = folder, name, None

    def __enter__(self):
        if self.folder is not None:
            import cProfile

            self.prof = cProfile.Profile()
            self.prof.enable()
        return self

    def __exit__(self, *exc):
        if self.prof is not None:
            import io
            import pstats

            self.prof.disable()
            self.folder.mkdir(parents=True, exist_ok=True)
            self.prof.dump_stats(str(self.folder / f"{self.name}.prof"))
            out = io.StringIO()
            pstats.Stats(self.prof, stream=out).sort_stats("cumulative").print_stats(25)
            print(f"--- profile: {self.name} ---\n{out.getvalue()}", file=sys.stderr)
        return False


def _top(scores, k: int = 10) -> list[int]:
    import numpy as np

    k = min(k, len(scores))
    top = np.argpartition(-scores, k - 1)[:k]
    return [int(i) for i in top[np.argsort(-scores[top], kind="stable")]]


def measure_queries(work: Path, build_fig: dict, rounds: int, log, profile: Path | None) -> tuple[dict, object]:
    """Open the index and time warm queries per mode (real e5 query embeddings). Returns (figures, index)."""
    import kb

    t = time.perf_counter()
    idx = kb.open_index(work / "index")
    open_s = time.perf_counter() - t
    rss_open = _rss_mb()
    for q in QUERIES:                                # warm: model loaded, pages touched, caches filled
        for mode in MODES:
            idx.search(q, mode=mode, k=10)
    times: dict[str, list[float]] = {m: [] for m in MODES}
    log(f"queries: {len(QUERIES)} queries × {rounds} rounds × {len(MODES)} modes, warm …")
    with _profiled(profile, "query"):
        for _ in range(rounds):
            for q in QUERIES:
                for mode in MODES:
                    t0 = time.perf_counter()
                    idx.search(q, mode=mode, k=10)
                    times[mode].append((time.perf_counter() - t0) * 1000)
    hits = idx.search(build_fig["edit_token"], mode="keyword", k=3)
    fig = {"open_s": round(open_s, 2), "peak_rss_mb_after_open": rss_open,
           "query_ms": {m: _pct(times[m]) for m in MODES}, "vector_index": idx.manifest.vector_index,
           "segments": [s["rows"] for s in idx.manifest.segments],
           "edit_searchable": bool(hits) and Path(hits[0].path).name == build_fig["edited_post"]}
    log("  " + "; ".join(f"{m} p50 {v['p50']} / p95 {v['p95']} / p99 {v['p99']} ms" for m, v in fig["query_ms"].items()))
    return fig, idx


def _timed(index, Q, rounds: int, k: int = 10):
    """(latency percentiles, top-k ids per query) of a FAISS index over the query vectors."""
    ms, ids = [], []
    for _ in range(rounds):
        ids = []
        for i in range(len(Q)):
            t0 = time.perf_counter()
            _, got = index.search(Q[i:i + 1], k)
            ms.append((time.perf_counter() - t0) * 1000)
            ids.append([int(x) for x in got[0] if x >= 0])
    return _pct(ms), ids


def _recall(got, exact) -> float:
    import numpy as np

    return float(np.mean([len(set(a) & set(e)) / max(1, len(e)) for a, e in zip(got, exact, strict=True)]))


def all_vectors(idx):
    """Every entry vector of an index in kb.entries order (n section entries, then n title entries), in memory."""
    import numpy as np

    sec, title = idx.backend.entry_vectors(np.arange(len(idx)))
    return np.ascontiguousarray(np.vstack([sec, title]), dtype=np.float32)


def measure_vectors(idx, rounds: int, hnsw: bool, log, ivf_scan: bool = False) -> dict:
    """FAISS flat against kb's IVF (8-bit codes, built here over all entries exactly as a full build builds it): raw
    recall@10 of the codes, recall@10 after kb's exact re-scoring of the IVF's best candidates, end to end."""
    import faiss
    import numpy as np

    V = all_vectors(idx)
    Q = np.vstack([idx.query_vector(q) for q in QUERIES]).astype(np.float32)
    flat = faiss.IndexFlatIP(V.shape[1])
    flat.add(V)
    t = time.perf_counter()
    ivf = build_ivf(V)
    ivf_build_s = round(time.perf_counter() - t, 2)
    ivf.nprobe = IVF_NPROBE
    flat_ms, exact = _timed(flat, Q, rounds)
    ivf_ms, approx = _timed(ivf, Q, rounds)
    rescored = _rescored(ivf, V, Q, 200)
    e2e = _semantic_end_to_end(idx, Q)
    fig = {"entries": int(V.shape[0]), "ivf_codes": "sq8", "ivf_nlist": int(ivf.nlist), "ivf_nprobe": int(ivf.nprobe),
           "ivf_built_here_s": ivf_build_s, "recall_at_10_ivf_vs_flat": round(_recall(approx, exact), 4),
           "recall_at_10_ivf_rescored_vs_flat": round(_recall(rescored, exact), 4),
           "recall_at_10_semantic_end_to_end": round(float(np.mean(e2e)), 4) if e2e else None,
           "flat_search_ms": flat_ms, "ivf_search_ms": ivf_ms,
           "hybrid_with_flat_ms": _hybrid_with_flat(idx, V, rounds), "hnsw": None}
    log(f"  vectors: IVF-SQ8(nlist {fig['ivf_nlist']}, nprobe {fig['ivf_nprobe']}) recall@10 raw "
        f"{fig['recall_at_10_ivf_vs_flat']}, re-scored {fig['recall_at_10_ivf_rescored_vs_flat']} (end to end "
        f"{fig['recall_at_10_semantic_end_to_end']}); search p50 flat {flat_ms['p50']} ms, IVF {ivf_ms['p50']} ms")
    if ivf_scan:
        fig["ivf_scan"] = _ivf_scan(V, Q, exact, rounds, log)
    if hnsw:
        fig["hnsw"] = _hnsw(V, Q, exact, rounds, log)
    return fig


def _rescored(ivf, V, Q, candidates: int, k: int = 10) -> list[list[int]]:
    """Top-k ids after exact inner products over the IVF's best `candidates` ids (what kb's query layer does)."""
    import numpy as np

    out = []
    for i in range(len(Q)):
        _, ids = ivf.search(Q[i:i + 1], candidates)
        ids = ids[0][ids[0] >= 0]
        s = V[ids] @ Q[i]
        out.append([int(x) for x in ids[np.argsort(-s, kind="stable")][:k]])
    return out


def _semantic_end_to_end(idx, Q) -> list[float]:
    """The semantic mode's top 10 sections against exact scoring of every section, per query."""
    import numpy as np

    out = []
    for q, qv in zip(QUERIES, Q, strict=True):
        got = [h.row for h in idx.search(q, mode="semantic", k=10) if "exact_name" not in h.scores]
        if len(got) < 10:
            continue                                   # a pinned exact-name match took a place: not comparable
        truth = _top(idx.semantic_scores(qv, np.arange(len(idx))), 10)
        out.append(len(set(got) & set(truth)) / 10)
    return out


def _hybrid_with_flat(idx, V, rounds: int) -> dict:
    """Hybrid latency with exact vector search (numpy over all vectors in RAM) standing in for the backend's."""
    import numpy as np

    backend, n = idx.backend, len(idx)

    def exact(qv, filters, limit):
        s = V @ qv
        top = np.argpartition(-s, 2 * limit - 1)[:2 * limit]
        top = top[np.argsort(-s[top], kind="stable")]
        return np.fromiter(dict.fromkeys((top % n).tolist()), dtype=np.int64)

    backend.vector_search = exact                  # an instance attribute shadows the method for this measurement
    ms = []
    try:
        for _ in range(rounds):
            for q in QUERIES:
                t0 = time.perf_counter()
                idx.search(q, mode="hybrid", k=10)
                ms.append((time.perf_counter() - t0) * 1000)
    finally:
        del backend.vector_search
    return _pct(ms)


def _ivf_scan(V, Q, exact, rounds: int, log) -> list[dict]:
    """Recall@10 and latency over a grid of IVF nlist × nprobe."""
    import faiss
    import numpy as np

    out = []
    for nlist in sorted({max(16, int(f * np.sqrt(len(V)))) for f in (1, 2, 4)}):
        t = time.perf_counter()
        quant = faiss.IndexFlatIP(V.shape[1])
        scan = faiss.IndexIVFFlat(quant, V.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
        sample = V[np.random.default_rng(0).choice(len(V), size=min(len(V), nlist * 40), replace=False)]
        scan.train(sample)
        scan.add(V)
        build_s = time.perf_counter() - t
        for nprobe in (16, 32, 64, 128):
            scan.nprobe = nprobe
            ms, got = _timed(scan, Q, rounds)
            rec = _recall(got, exact)
            out.append({"nlist": nlist, "nprobe": nprobe, "build_s": round(build_s, 1),
                        "recall_at_10": round(rec, 4), "search_ms": ms})
            log(f"  IVF scan: nlist {nlist:5d} nprobe {nprobe:3d}: recall@10 {rec:.4f}, search p50 {ms['p50']} ms")
    return out


def _hnsw(V, Q, exact, rounds: int, log) -> dict:
    import faiss

    h = faiss.IndexHNSWFlat(V.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    h.hnsw.efConstruction = 80
    t = time.perf_counter()
    h.add(V)
    build_s = time.perf_counter() - t
    h.hnsw.efSearch = 128
    ms, got = _timed(h, Q, rounds)
    rec = _recall(got, exact)
    log(f"  HNSW(M 32, efSearch 128) build {build_s:.1f} s, recall@10 {rec:.3f}, search p50 {ms['p50']} ms")
    return {"M": 32, "efConstruction": 80, "efSearch": 128, "build_s": round(build_s, 1),
            "recall_at_10_vs_flat": round(rec, 4), "search_ms": ms}


def measure_keyword(idx, log, rank_bm25: bool = True) -> dict:
    """kb's keyword leg (postings with term frequencies, BM25 at query time over the live segments) against bm25s
    (scores precomputed at index time) and rank_bm25, on the same entry tokens and query tokens; kb's per-section
    scores are checked equal to bm25s's."""
    import bm25s
    import numpy as np

    sections = list(idx.sections)
    n = len(sections)
    docs = [t if t else [""] for t in entry_tokens(sections)]
    del sections
    t = time.perf_counter()
    ref = bm25s.BM25(k1=BM25_K1, b=BM25_B)
    ref.index(docs, show_progress=False)
    bm25s_build = time.perf_counter() - t
    BM25Okapi = None
    if rank_bm25:
        try:
            from rank_bm25 import BM25Okapi
        except ImportError:
            log("  rank_bm25 is not installed (pip install -e '.[test]'): baseline skipped")
    queries = [tokenize_query(q) for q in QUERIES]
    k_ms, k_top, a_ms, a_top, same = [], [], [], [], True
    for toks in queries:
        t0 = time.perf_counter()
        mine = idx.backend._per_section(toks)
        k_ms.append((time.perf_counter() - t0) * 1000)
        k_top.append(_top(mine))
        ids = [ref.vocab_dict[x] for x in toks if x in ref.vocab_dict]
        t0 = time.perf_counter()
        theirs = np.asarray(ref.get_scores(ids), dtype=np.float32) if ids else np.zeros(2 * n, np.float32)
        a_ms.append((time.perf_counter() - t0) * 1000)
        a_top.append(_top(theirs))
        same = same and bool(np.array_equal(mine, np.maximum(theirs[:n], theirs[n:])))
    fig = {"entries": len(docs), "kb": {"query_ms": _pct(k_ms)}, "kb_equals_bm25s": same,
           "bm25s": {"build_s": round(bm25s_build, 2), "query_ms": _pct(a_ms)}, "rank_bm25": None}
    del ref
    if BM25Okapi is not None:
        t = time.perf_counter()
        other = BM25Okapi(docs, k1=1.2, b=0.75)
        rb_build = time.perf_counter() - t
        b_ms, b_top = [], []
        for toks in queries:
            t0 = time.perf_counter()
            b_top.append(_top(np.asarray(other.get_scores(toks))))
            b_ms.append((time.perf_counter() - t0) * 1000)
        del other
        overlap = float(np.mean([len(set(x) & set(y)) / 10 for x, y in zip(a_top, b_top, strict=True)]))
        fig["rank_bm25"] = {"build_s": round(rb_build, 2), "query_ms": _pct(b_ms)}
        fig["top10_overlap"] = round(overlap, 3)
    rb = fig["rank_bm25"]
    log(f"  keyword leg: kb p50 {fig['kb']['query_ms']['p50']} ms (per-section scores equal to bm25s: {same}); "
        f"bm25s build {fig['bm25s']['build_s']} s, query p50 {fig['bm25s']['query_ms']['p50']} ms"
        + (f"; rank_bm25 build {rb['build_s']} s, query p50 {rb['query_ms']['p50']} ms, top-10 overlap "
           f"{fig['top10_overlap']}" if rb else ""))
    return fig


def measure_cli(work: Path, log, runs: int = 3) -> dict:
    """`python -m kb.search` as a user runs it: start to first answer, and a batch in one process (one model load)."""
    import statistics

    base = [sys.executable, "-m", "kb.search", "--index-dir", str(work / "index"), "--json", "-k", "10"]
    out: dict = {}
    for mode in ("hybrid", "keyword"):
        firsts, exits, rss = [], [], []
        for i in range(runs):
            f, e, r, _ = _run(base + ["--mode", mode, QUERIES[i % len(QUERIES)]], first_line=True)
            firsts.append(f)
            exits.append(e)
            rss.append(r)
        out[f"first_answer_s_{mode}"] = round(statistics.median(firsts), 3)
        out[f"process_s_{mode}"] = round(statistics.median(exits), 3)
        out[f"peak_rss_mb_{mode}"] = round(max(rss), 1)
    _, e, r, text = _run(base + QUERIES)
    answered = sum(1 for line in text.splitlines() if line.startswith("{"))
    out["batch"] = {"queries": len(QUERIES), "answered": answered, "process_s": round(e, 2), "peak_rss_mb": round(r, 1),
                    "per_query_after_first_ms": round((e - out["process_s_hybrid"]) / max(1, len(QUERIES) - 1) * 1000,
                                                      1)}
    log(f"  CLI: first answer {out['first_answer_s_hybrid']} s (hybrid), {out['first_answer_s_keyword']} s (keyword);"
        f" batch of {len(QUERIES)} in {e:.2f} s, peak RSS {r:.0f} MB")
    return out


def measure_index_cli(work: Path, log, runs: int = 3) -> dict:
    """`python -m kb.index` from outside on the N-section corpus (W/content, W/index): nothing changed, then one
    post gaining a section (embedded by the real model) and that section found by `python -m kb.search`."""
    import statistics

    content, index = work / "content", work / "index"
    cmd = [sys.executable, "-m", "kb.index", "--content", str(content), "--index-dir", str(index), "-q"]
    noops = [_run(cmd)[1] for _ in range(runs)]
    files = sorted(content.glob("*.md"))
    edits, searchable = [], []
    for i in range(runs):
        post = files[(i * 7919 + 3) % len(files)]
        token = f"kbscaleedit{i}x{os.getpid()}"
        add_section(post, token)
        edits.append(_run(cmd)[1])
        _, _, _, text = _run([sys.executable, "-m", "kb.search", "--index-dir", str(index), "--mode", "keyword",
                              "--json", "-k", "3", token])
        res = json.loads(text.splitlines()[-1])["results"]
        searchable.append(bool(res) and Path(res[0]["path"]).name == post.name)
    fig = {"index_noop_s": round(statistics.median(noops), 3), "index_noop_runs_s": [round(x, 3) for x in noops],
           "index_edit_s": round(statistics.median(edits), 3), "index_edit_runs_s": [round(x, 3) for x in edits],
           "index_edit_searchable": all(searchable)}
    log(f"  CLI kb.index on {content}: no-op {fig['index_noop_s']} s, one post gains a section "
        f"{fig['index_edit_s']} s (searchable: {fig['index_edit_searchable']})")
    return fig


def add_section(path: Path, token: str) -> None:
    """Append a new `###` section about `token` to a post (a post gaining a section)."""
    text = path.read_text(encoding="utf-8").rstrip("\n")
    path.write_text(text + f"\n\n### {token} 소개\n\n[참고링크](https://github.com/kb/{token})\n\n"
                    f"{token}은 새로 추가된 섹션이다. 관련 메모를 남겼다.\n", encoding="utf-8")


def measure_rebuild_cli(work: Path, posts: int, log, runs: int = 3) -> dict:
    """`python -m kb.index` from outside on a real-shaped corpus with the real model: full, no-op, one-post edit."""
    import statistics

    corpus = write_corpus(work / "rebuild-content", posts=posts, seed=2, years=1.2)
    index = work / "rebuild-index"
    cmd = [sys.executable, "-m", "kb.index", "--content", str(corpus.folder), "--index-dir", str(index), "-q"]
    log(f"rebuild (CLI, real model): {posts} posts, {corpus.sections} sections …")
    _, full, full_rss, _ = _run(cmd)
    noops = [_run(cmd)[1] for _ in range(runs)]
    edits, searchable = [], []
    for i in range(runs):
        post = corpus.files[(i * 7 + 3) % len(corpus.files)]
        token = f"kbbenchedit{i}x{os.getpid()}"
        _edit_post(post, token)
        edits.append(_run(cmd)[1])
        _, _, _, text = _run([sys.executable, "-m", "kb.search", "--index-dir", str(index), "--mode", "keyword",
                              "--json", "-k", "3", token])
        res = json.loads(text.splitlines()[-1])["results"]
        searchable.append(bool(res) and Path(res[0]["path"]).name == post.name)
    noop, edit = statistics.median(noops), statistics.median(edits)
    fig = {"posts": posts, "sections": corpus.sections, "full_s": round(full, 2), "noop_s": [round(x, 3) for x in noops],
           "edit_s": [round(x, 3) for x in edits], "noop_vs_full": round(noop / full, 4),
           "edit_vs_full": round(edit / full, 4), "edit_searchable": all(searchable), "peak_rss_mb_full": round(full_rss, 1)}
    log(f"  full {full:.1f} s; no-op {noop:.2f} s ({fig['noop_vs_full']:.1%}); one-post edit {edit:.2f} s "
        f"({fig['edit_vs_full']:.1%}); edit searchable: {fig['edit_searchable']}")
    return fig


def targets(r: dict) -> dict:
    """The issue's targets next to the measured values (met is None when the run did not measure it)."""
    def t(value, limit, higher_is_better=False):
        if value is None:
            return {"value": None, "target": limit, "met": None}
        return {"value": value, "target": limit, "met": bool(value >= limit if higher_is_better else value <= limit)}

    q = r["query_ms"]
    rb = r.get("rebuild_cli") or {}
    cli = r["cli"]
    return {
        "hybrid_p95_ms": t(q["hybrid"]["p95"], 50),
        "keyword_p95_ms": t(q["keyword"]["p95"], 20),
        "search_peak_rss_mb": t(cli["batch"]["peak_rss_mb"], 700),
        "first_answer_s_hybrid": t(cli["first_answer_s_hybrid"], 1.5),
        "index_noop_s": t(cli.get("index_noop_s"), 2),
        "index_edit_s": t(cli.get("index_edit_s"), 5),
        "ivf_recall_at_10": t(r["vector"]["recall_at_10_ivf_rescored_vs_flat"], 0.98, True),
        "noop_rebuild_vs_full": t(rb.get("noop_vs_full"), 0.10),
        "edit_rebuild_vs_full": t(rb.get("edit_vs_full"), 0.15),
        "build_vs_raw_throughput": t(r["embed"]["build_vs_raw"], 0.90, True),
    }


# ---- the command --------------------------------------------------------------------------------------------------

def parse_args(argv=None) -> argparse.Namespace:
    p = Parser(prog="python -m kb.bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sections", type=int, default=10_000, help="sections in the synthetic corpus (default 10000)")
    p.add_argument("--sample", type=int, help="sections embedded with the real model for the throughput figures "
                   "and the vector pool (default 200 from 10000 sections up, else sections/20, at least 10)")
    p.add_argument("--rebuild-posts", type=int, help="posts in the CLI rebuild corpus, real model (default 60 from "
                   "10000 sections up, else 2; 0 skips it)")
    p.add_argument("--rounds", type=int, default=3, help="timed passes over the query set per mode (default 3)")
    p.add_argument("--hnsw", action="store_true", help="also build and measure a FAISS HNSW index (slow at 100k)")
    p.add_argument("--ivf-scan", action="store_true", help="also measure recall@10 and latency of IVF indexes over "
                   "a grid of nlist (1, 2, 4 x sqrt(entries)) and nprobe (16 to 128)")
    p.add_argument("--no-rank-bm25", action="store_true", help="skip the rank_bm25 baseline")
    p.add_argument("--profile", metavar="DIR", help="cProfile the full build and the timed queries into DIR")
    p.add_argument("--workdir", metavar="DIR", help="where to write corpora and indexes (default: a temp folder, "
                   "removed at the end)")
    p.add_argument("--json", action="store_true", help="end with one line: all figures as a JSON object")
    args = p.parse_args(argv)
    if args.sections < 20:
        p.error("--sections must be at least 20")
    big = args.sections >= 10_000
    if args.sample is None:
        args.sample = 200 if big else max(10, args.sections // 20)
    if args.rebuild_posts is None:
        args.rebuild_posts = 60 if big else 2
    if args.sample < 4:
        p.error("--sample must be at least 4")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    t_start = time.perf_counter()

    def log(msg: str) -> None:
        print(msg, file=sys.stderr if args.json else sys.stdout, flush=True)

    made = args.workdir is None
    work = Path(tempfile.mkdtemp(prefix="kb-bench-")) if made else Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    for sub in ("sample", "sample-index", "content", "index", "rebuild-content", "rebuild-index"):
        shutil.rmtree(work / sub, ignore_errors=True)     # a reused --workdir starts from nothing
    profile = Path(args.profile) if args.profile else None
    cmd = "python -m kb.bench " + " ".join(argv if argv is not None else sys.argv[1:])
    try:
        r: dict = {"command": cmd.strip(), "sections": args.sections, "entries": 2 * args.sections,
                   "machine": machine(), "vectors": "pooled real e5 passage vectors, mixed + noise (PooledEmbedder)"}
        log(f"kb.bench: {args.sections} sections in {work}")
        r["embed"], pool = measure_throughput(work, args.sample, log)
        r["build"] = measure_build(work, args.sections, pool, log, r["embed"]["raw_sections_per_s"], profile)
        q, idx = measure_queries(work, r["build"], args.rounds, log, profile)
        r.update(q)
        r["vector"] = measure_vectors(idx, args.rounds, args.hnsw, log, args.ivf_scan)
        r["keyword_leg"] = measure_keyword(idx, log, rank_bm25=not args.no_rank_bm25)
        del idx
        r["cli"] = measure_cli(work, log)
        r["cli"].update(measure_index_cli(work, log))
        r["rebuild_cli"] = measure_rebuild_cli(work, args.rebuild_posts, log) if args.rebuild_posts > 0 else None
        r["peak_rss_mb_bench_process"] = _rss_mb()
        r["targets"] = targets(r)
        r["seconds"] = round(time.perf_counter() - t_start, 1)
        r["machine"]["load_avg_1m_end"] = round(os.getloadavg()[0], 2)
    finally:
        if made:
            shutil.rmtree(work, ignore_errors=True)
    for name, v in r["targets"].items():
        mark = "—" if v["met"] is None else ("ok" if v["met"] else "MISSED")
        log(f"target {name}: {v['value']} (target {v['target']}) {mark}")
    log(f"done in {r['seconds']} s")
    if args.json:
        print(json.dumps(r, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    run(main)
