"""A prior learned from the labelled sections, shipped as prior.npz with the name of the model it was trained for.
Per topic it averages two log-odds, each clipped to ±CLIP:

* an L2-regularised logistic regression on the section vectors (the index's own embeddings) of
  tests/eval/topic_labels.jsonl: what the topic's region of the embedding space looks like as a whole;
* the vote of the NEIGHBOURS labelled sections nearest to the section (cosine, weighted by exp(cosine / TEMPERATURE)),
  smoothed towards the topic's base rate: what sections like this one were labelled. A topic whose sections are
  spread over the space (NLP: tokenizers, LLM agents, code models, QA datasets) is not one linear region; its
  neighbours still know it. The labelled vectors ship with the prior (float16).

Their mean is one term of the topic score (kb.topics.score); on another embedding model, or for a topic it was not
trained for, the term is 0.

The vectors are centred and scaled per dimension by the training set's mean and standard deviation (stored with
the weights) before the regression, so one regularisation strength C suits every dimension. Retrain with
`python -m kb.topics --check --train-prior` (an index of every labelled post is built for it).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PRIOR_FILE = Path(__file__).with_name("prior.npz")
C = 0.03          # inverse L2 strength per section (chosen by `--check --by-split --prior-c`, docs/eval.md)
CLIP = 4.0        # log-odds beyond ±4 (probability 0.018 / 0.982) say nothing more
# The neighbour vote: how many labelled sections vote, how sharply the nearer ones count, and how much the vote is
# pulled towards the topic's base rate (leaving one split out over the labelled set, docs/eval.md)
NEIGHBOURS = 10
TEMPERATURE = 0.02
SMOOTHING = 0.1
_CHUNK = 2048     # sections per block of the vote (bounds its memory: _CHUNK × labelled sections)


@dataclass(frozen=True)
class Prior:
    """Per-topic logistic weights over standardised section vectors, for one embedding model."""
    model: str
    topics: tuple[str, ...]
    mean: np.ndarray            # (dim,)
    scale: np.ndarray           # (dim,)
    weights: np.ndarray         # (dim, topics)
    bias: np.ndarray            # (topics,)
    clip: float = CLIP
    centre: np.ndarray | None = None    # (topics,) the median clipped log-odds over the training sections
    memory: np.ndarray | None = None    # (labelled, dim) their unit vectors: the neighbour vote (None: regression only)
    memory_y: np.ndarray | None = None  # (labelled, topics) their labels

    def covers(self, model: str, name: str) -> bool:
        """Whether the prior speaks for this topic on vectors of this model."""
        return model == self.model and name in self.topics

    def log_odds(self, vectors: np.ndarray, model: str, names) -> np.ndarray:
        """(sections, len(names)) clipped log-odds less the topic's median over the training sections, so that a
        typical section scores 0, as does every section when the prior does not apply: a topic the prior does not
        know, or vectors from another model."""
        names = list(names)
        out = np.zeros((len(vectors), len(names)), dtype=np.float32)
        if model != self.model or vectors.ndim != 2 or vectors.shape[1] != len(self.mean) or not len(vectors):
            return out
        cols = [(j, self.topics.index(n)) for j, n in enumerate(names) if n in self.topics]
        if not cols:
            return out
        ks = [k for _, k in cols]
        out[:, [j for j, _ in cols]] = self.raw(vectors)[:, ks] - (0.0 if self.centre is None else self.centre[ks])
        return out

    def regression(self, vectors: np.ndarray, cols: list[int] | None = None) -> np.ndarray:
        """(sections, topics or cols) the regression's clipped log-odds."""
        w, b = (self.weights, self.bias) if cols is None else (self.weights[:, cols], self.bias[cols])
        return np.clip(((vectors - self.mean) / self.scale) @ w + b, -self.clip, self.clip)

    def with_corrections(self, vectors: np.ndarray, name: str, corrected: np.ndarray, labels) -> np.ndarray:
        """One topic's column of log_odds with sections a reader corrected (their vectors, and whether each was
        included in the topic or excluded) joining the labelled sections in the vote."""
        k = self.topics.index(name)
        z = self.regression(vectors, [k])[:, 0]
        extra = np.asarray(corrected, dtype=np.float32).reshape(-1, vectors.shape[1])
        extra = extra / np.maximum(np.linalg.norm(extra, axis=1, keepdims=True), 1e-12)
        memory = np.vstack([np.asarray(self.memory, dtype=np.float32), extra])
        voted = np.concatenate([np.asarray(self.memory_y[:, k], dtype=np.float32), np.asarray(labels, np.float32)])
        vote = neighbour_vote(vectors, memory, voted[:, None], self.clip)[:, 0]
        return (z + vote) / 2 - (0.0 if self.centre is None else self.centre[k])

    def raw(self, vectors: np.ndarray, skip=None) -> np.ndarray:
        """(sections, topics) the clipped log-odds before centring: the regression's, averaged with the neighbour
        vote's when the prior holds labelled vectors. `skip(rows, block)`: a mask of the labelled sections that
        may not vote for a block of rows (their own, or the same resource)."""
        z = self.regression(vectors)
        if self.memory is None:
            return z
        return (z + neighbour_vote(vectors, self.memory, self.memory_y, self.clip, skip)) / 2


def train(vectors: np.ndarray, y: np.ndarray, names, model: str, c: float = C, clip: float | None = None,
          start: Prior | None = None, votes: bool | None = None) -> Prior:
    """A prior from labelled sections: vectors (sections, dim), y (sections, topics) bool, one column per name;
    its log-odds clipped to ±clip (default CLIP). `start`: a prior of the same shape to start the fit from.
    `votes=False` (default: NEIGHBOURS > 0): the regression alone, no neighbour vote."""
    votes = NEIGHBOURS > 0 if votes is None else votes
    x = np.asarray(vectors, dtype=np.float64)
    mean = x.mean(axis=0)
    scale = x.std(axis=0) + 1e-6
    z = (x - mean) / scale
    w = np.zeros((x.shape[1], y.shape[1]))
    b = np.zeros(y.shape[1])
    for j in range(y.shape[1]):
        init = None if start is None else np.append(start.weights[:, j], start.bias[j]).astype(np.float64)
        w[:, j], b[j] = _logistic(z, y[:, j].astype(np.float64), c, init)
    return _centred(Prior(model, tuple(names), mean.astype(np.float32), scale.astype(np.float32),
                          w.astype(np.float32), b.astype(np.float32), CLIP if clip is None else clip), x, y, votes)


def _centred(prior: Prior, x: np.ndarray, y: np.ndarray, votes: bool) -> Prior:
    """The prior with its training sections (x, y) as the voters when `votes`, and its centre: the median of its
    log-odds over them (a section does not vote for itself)."""
    if votes:
        unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        prior = dataclasses.replace(prior, memory=unit.astype(np.float16), memory_y=np.asarray(y, dtype=np.uint8))
    centre = np.median(prior.raw(np.asarray(x, dtype=np.float32), skip=_self_skip), axis=0)
    return dataclasses.replace(prior, centre=centre.astype(np.float32))


def _self_skip(rows: slice, n: int) -> np.ndarray:
    mask = np.zeros((rows.stop - rows.start, n), dtype=bool)
    mask[np.arange(rows.stop - rows.start), np.arange(rows.start, rows.stop)] = True
    return mask


def neighbour_vote(vectors: np.ndarray, memory: np.ndarray, memory_y: np.ndarray, clip: float = CLIP,
                   skip=None) -> np.ndarray:
    """(sections, topics) clipped log-odds of the labels of each section's NEIGHBOURS nearest labelled sections,
    weighted by exp(cosine / TEMPERATURE) and smoothed towards the base rate by SMOOTHING. `skip(rows, n)`: a
    (rows, n) mask of the labelled sections that may not vote for that block of rows."""
    x = np.asarray(vectors, dtype=np.float32)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    mem, lab = np.asarray(memory, dtype=np.float32), np.asarray(memory_y, dtype=np.float32)
    base = lab.mean(axis=0)
    k = min(NEIGHBOURS, len(mem))
    out = np.zeros((len(x), lab.shape[1]), dtype=np.float32)
    for start in range(0, len(x), _CHUNK):
        rows = slice(start, min(start + _CHUNK, len(x)))
        sim = x[rows] @ mem.T
        if skip is not None:
            sim[skip(rows, len(mem))] = -np.inf
        top = np.argpartition(-sim, k - 1, axis=1)[:, :k]
        near = np.take_along_axis(sim, top, axis=1)
        w = np.exp((near - near.max(axis=1, keepdims=True)) / TEMPERATURE)
        w[~np.isfinite(near)] = 0.0
        w /= np.maximum(w.sum(axis=1, keepdims=True), 1e-12)
        p = (np.einsum("nk,nkt->nt", w, lab[top]) + SMOOTHING * base) / (1 + SMOOTHING)
        p = np.clip(p, 1e-6, 1 - 1e-6)
        out[rows] = np.clip(np.log(p / (1 - p)), -clip, clip)
    return out


def out_of_fold(vectors: np.ndarray, y: np.ndarray, groups, c: float = C, clip: float | None = None,
                resources=None, votes: bool | None = None, exact: bool = False) -> np.ndarray:
    """(sections, topics) log-odds of every section from a prior trained without its group's sections (stacking:
    the values a fit of the score weights may see). `resources`: a key per section (its heading, normalised); a
    section in another group with the same resource (one key inside the other) does not vote for it: new posts
    bring resources the labelled set does not hold. Each group's prior is the one trained on every section, its
    regression moved one Newton step without the group (FoldSteps), the group not voting; `exact`: trained again
    on the other groups instead. On the 2754 labelled sections grouped by post: 9.6 s against 186 s, values within
    0.043 (mean 0.002) of training again."""
    groups = np.asarray(groups)
    votes = NEIGHBOURS > 0 if votes is None else votes
    out = np.zeros(y.shape, dtype=np.float32)
    names = [str(j) for j in range(y.shape[1])]
    every = train(vectors, y, names, "", c, clip, votes=False)     # each fold starts from it
    steps = None if exact else FoldSteps(vectors, y, every, c)
    full = None if exact else _centred(every, np.asarray(vectors, dtype=np.float64), y, votes)
    matches = None if resources is None else resource_matches(list(resources))
    for g in np.unique(groups):
        held = groups == g
        p = train(vectors[~held], y[~held], names, "", c, clip, every, votes) if steps is None else \
            steps.without(held, full)
        skip = None if matches is None else resource_skip(matches, held)
        out[held] = p.log_odds(vectors[held], "", names) if skip is None else \
            p.raw(vectors[held], skip) - p.centre
    return out


class FoldSteps:
    """The regression of a prior trained on every section, moved one Newton step towards the regression trained
    without some of them: their terms leave the gradient and Hessian of the full objective at its optimum (the
    standardisation stays the full one). A held-out post is a few sections of thousands, so the step lands within
    a small fraction of the log-odds of training again (measured in tests/test_topic_prior.py)."""

    def __init__(self, vectors: np.ndarray, y: np.ndarray, every: Prior, c: float):
        x = np.asarray(vectors, dtype=np.float64)
        self.every = every
        self.z = np.hstack([(x - every.mean) / every.scale, np.ones((len(x), 1))])
        self.beta = np.vstack([every.weights, every.bias[None, :]]).astype(np.float64)     # (dim + 1, topics)
        reg = np.ones(self.z.shape[1])
        reg[-1] = 1e-4
        p = 1.0 / (1.0 + np.exp(-np.clip(self.z @ self.beta, -30, 30)))
        self.resid = c * (p - np.asarray(y, dtype=np.float64))
        self.curv = c * p * (1 - p)
        self.grad = self.z.T @ self.resid + reg[:, None] * self.beta
        self.hess = [(self.z * self.curv[:, j, None]).T @ self.z + np.diag(reg) for j in range(y.shape[1])]

    def without(self, held: np.ndarray, full: Prior) -> Prior:
        """The prior without the `held` sections (a bool mask): the regression one step on, and from `full` (the
        prior of every section, centred, with or without its voters) the other sections as voters and its centre: a
        post's few sections hardly move a median over thousands."""
        zh = self.z[held]
        beta = self.beta.copy()
        for j in range(beta.shape[1]):
            g = self.grad[:, j] - zh.T @ self.resid[held, j]
            h = self.hess[j] - (zh * self.curv[held, j, None]).T @ zh
            beta[:, j] -= np.linalg.solve(h, g)
        voters = full.memory is not None
        return dataclasses.replace(self.every, weights=beta[:-1].astype(np.float32), bias=beta[-1].astype(np.float32),
                                   centre=full.centre, memory=full.memory[~held] if voters else None,
                                   memory_y=full.memory_y[~held] if voters else None)


def resource_key(heading: str) -> str:
    """A heading reduced to its letters and digits, lower case: one resource's key (out_of_fold)."""
    return "".join(ch for ch in heading.lower() if ch.isalnum())


def same_resource(a: str, b: str) -> bool:
    """Whether two resource keys name one resource: equal, or one starts the other and is at least half of it
    ("vinvl" and "vinvlv2" yes; "bert" and "kobert", "gpt" and "gpt4all" no)."""
    short, long = sorted((a, b), key=len)
    return bool(short) and long.startswith(short) and (short == long or (len(short) >= 4 and 2 * len(short) >= len(long)))


def resource_matches(keys: list[str]) -> list[list[int]]:
    """For each key, the positions of the keys that name the same resource (same_resource; itself included unless
    empty), through an index of the keys' long enough prefixes instead of comparing every pair."""
    exact: dict[str, list[int]] = defaultdict(list)
    starts: dict[str, list[int]] = defaultdict(list)       # a prefix that same_resource lets stand for the key
    for j, k in enumerate(keys):
        if k:
            exact[k].append(j)
            for n in _prefix_lengths(k):
                starts[k[:n]].append(j)
    return [sorted({*exact.get(k, ()), *starts.get(k, ()), *(j for n in _prefix_lengths(k) for j in exact.get(k[:n], ()))})
            if k else [] for k in keys]


def _prefix_lengths(key: str) -> range:
    """The lengths of the key's proper prefixes that name the same resource: 4 letters or more, half of it or more."""
    return range(max(4, (len(key) + 1) // 2), len(key))


def resource_skip(matches: list[list[int]], held: np.ndarray):
    """skip(rows, n) for out_of_fold: the other groups' sections with a held section's resource (`matches`:
    resource_matches of every section's key)."""
    rows, others = np.flatnonzero(held), np.flatnonzero(~held)
    column = np.full(len(held), -1)
    column[others] = np.arange(len(others))
    mask = np.zeros((len(rows), len(others)), dtype=bool)
    for r, i in enumerate(rows):
        cols = column[matches[i]]
        mask[r, cols[cols >= 0]] = True
    return lambda rows, n: mask[rows]


def _logistic(z: np.ndarray, y: np.ndarray, c: float, init: np.ndarray | None = None,
              iters: int = 30) -> tuple[np.ndarray, float]:
    """Weights and intercept minimising c·Σ log-loss + ½|w|² (the intercept all but unpenalised), by Newton
    steps from `init` (default 0)."""
    n, d = z.shape
    zb = np.hstack([z, np.ones((n, 1))])
    reg = np.ones(d + 1)
    reg[-1] = 1e-4
    beta = np.zeros(d + 1) if init is None else init.copy()
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(zb @ beta, -30, 30)))
        grad = c * zb.T @ (p - y) + reg * beta
        hess = c * (zb * (p * (1 - p))[:, None]).T @ zb + np.diag(reg)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-5:
            break
    return beta[:d], float(beta[d])


def save(prior: Prior, path: Path = PRIOR_FILE) -> Path:
    """Write the prior to `path` (exactly that name: numpy would add .npz to a bare path handed to it)."""
    with open(path, "wb") as f:
        _write(prior, f)
    _load.cache_clear()
    return Path(path)


def _write(prior: Prior, f) -> None:
    extra = {} if prior.memory is None else {"memory": prior.memory.astype(np.float16),
                                             "memory_y": prior.memory_y.astype(np.uint8)}
    np.savez_compressed(f, model=np.array(prior.model), topics=np.array(prior.topics), mean=prior.mean,
                        scale=prior.scale, weights=prior.weights.astype(np.float32), bias=prior.bias,
                        clip=np.array(prior.clip, dtype=np.float32), centre=prior.centre, **extra)


def load(path: Path = PRIOR_FILE) -> Prior | None:
    """The prior in `path` (default: the shipped one), None when there is none or it cannot be read."""
    try:
        st = Path(path).stat()
    except OSError:
        return None
    return _load(str(path), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _load(path: str, size: int, mtime: int) -> Prior | None:
    try:
        with np.load(path, allow_pickle=False) as f:
            memory = (f["memory"], f["memory_y"]) if "memory" in f.files else (None, None)
            return Prior(str(f["model"]), tuple(str(t) for t in f["topics"]), f["mean"], f["scale"], f["weights"],
                         f["bias"], float(f["clip"]), f["centre"], *memory)
    except (OSError, KeyError, ValueError):
        return None


def signature(prior: Prior | None) -> str:
    """A short key of the prior's contents (assignments are cached per prior)."""
    if prior is None:
        return "none"
    centre = b"" if prior.centre is None else prior.centre.tobytes()
    digest = hashlib.sha1(repr((prior.model, prior.topics, prior.clip)).encode())
    votes = b"" if prior.memory is None else prior.memory.tobytes() + prior.memory_y.tobytes()
    for part in (prior.mean.tobytes(), prior.scale.tobytes(), prior.weights.tobytes(), prior.bias.tobytes(), centre,
                 votes):
        digest.update(part)
    return digest.hexdigest()[:12]


ACTIVE: dict = {}     # {"prior": Prior | None} while an experiment scores with another prior (kb.topics.transfer)


def in_use() -> Prior | None:
    """The prior the topic score uses: the one an experiment set in ACTIVE, else the shipped file."""
    return ACTIVE["prior"] if "prior" in ACTIVE else load()
