"""What every benchmark shares: synthetic real-shaped posts, a pooled embedder with e5's geometry, the benchmark
queries, percentile and process-timing helpers (benchmarks.bench, benchmarks.querycost, benchmarks.backends, benchmarks.browser)."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from kb.core.config import Settings

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


def start_server(data_dir: Path, timeout: float = 60, port: int | None = None, ready=None,
                 log_suffix: str = ".log") -> tuple[subprocess.Popen, str]:
    """Start `milvus-lite server` (the one installed next to this Python) on `port` (default: a free loopback
    port); returns (process, http URI) once it accepts connections, or once `ready(uri)` is true. Its output goes
    to <data_dir><log_suffix> next to the folder."""
    if port is None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    uri = f"http://127.0.0.1:{port}"
    exe = shutil.which("milvus-lite", path=str(Path(sys.executable).parent)) or shutil.which("milvus-lite")
    if exe is None:
        raise RuntimeError("milvus-lite is not installed (pip install -e '.[milvus]')")
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    log = Path(data_dir).with_name(Path(data_dir).name + log_suffix)
    with open(log, "wb") as out:
        proc = subprocess.Popen([exe, "server", "--data-dir", str(data_dir), "--host", "127.0.0.1", "--port",
                                 str(port)], stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"milvus-lite server exited: {log.read_text(errors='replace')[-2000:]}")
        if ready(uri) if ready is not None else _accepts(port):
            return proc, uri
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("milvus-lite server did not start in time")


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False
