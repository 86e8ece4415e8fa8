"""A prior learned from the labelled sections: per topic, an L2-regularised logistic regression on the section
vectors (the index's own embeddings) of tests/eval/topic_labels.jsonl, shipped as prior.npz with the name of the
model it was trained for. Its log-odds, clipped to ±CLIP, are one term of the topic score (kb.topics.score); on
another embedding model, or for a topic it was not trained for, the term is 0.

The vectors are centred and scaled per dimension by the training set's mean and standard deviation (stored with
the weights) before the regression, so one regularisation strength C suits every dimension. Retrain with
`python -m kb.topics --check --train-prior` (an index of every labelled post is built for it).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PRIOR_FILE = Path(__file__).with_name("prior.npz")
C = 0.03          # inverse L2 strength per section (chosen by `--check --by-split --prior-c`, docs/eval.md)
CLIP = 4.0        # log-odds beyond ±4 (probability 0.018 / 0.982) say nothing more


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
        z = np.clip(((vectors - self.mean) / self.scale) @ self.weights[:, ks] + self.bias[ks], -self.clip, self.clip)
        out[:, [j for j, _ in cols]] = z - (0.0 if self.centre is None else self.centre[ks])
        return out


def train(vectors: np.ndarray, y: np.ndarray, names, model: str, c: float = C, clip: float | None = None,
          start: Prior | None = None) -> Prior:
    """A prior from labelled sections: vectors (sections, dim), y (sections, topics) bool, one column per name;
    its log-odds clipped to ±clip (default CLIP). `start`: a prior of the same shape to start the fit from."""
    x = np.asarray(vectors, dtype=np.float64)
    mean = x.mean(axis=0)
    scale = x.std(axis=0) + 1e-6
    z = (x - mean) / scale
    w = np.zeros((x.shape[1], y.shape[1]))
    b = np.zeros(y.shape[1])
    for j in range(y.shape[1]):
        init = None if start is None else np.append(start.weights[:, j], start.bias[j]).astype(np.float64)
        w[:, j], b[j] = _logistic(z, y[:, j].astype(np.float64), c, init)
    prior = Prior(model, tuple(names), mean.astype(np.float32), scale.astype(np.float32), w.astype(np.float32),
                  b.astype(np.float32), CLIP if clip is None else clip)
    centre = np.median(prior.log_odds(x.astype(np.float32), model, names), axis=0)
    return dataclasses.replace(prior, centre=centre.astype(np.float32))


def out_of_fold(vectors: np.ndarray, y: np.ndarray, groups, c: float = C, clip: float | None = None) -> np.ndarray:
    """(sections, topics) log-odds of every section from a prior trained without its group's sections (stacking:
    the values a fit of the score weights may see)."""
    groups = np.asarray(groups)
    out = np.zeros(y.shape, dtype=np.float32)
    names = [str(j) for j in range(y.shape[1])]
    every = train(vectors, y, names, "", c, clip)           # each fold starts from it: a few Newton steps
    for g in np.unique(groups):
        held = groups == g
        p = train(vectors[~held], y[~held], names, "", c, clip, every)
        out[held] = p.log_odds(vectors[held], "", names)
    return out


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
    np.savez_compressed(f, model=np.array(prior.model), topics=np.array(prior.topics), mean=prior.mean,
                        scale=prior.scale, weights=prior.weights.astype(np.float32), bias=prior.bias,
                        clip=np.array(prior.clip, dtype=np.float32), centre=prior.centre)


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
            return Prior(str(f["model"]), tuple(str(t) for t in f["topics"]), f["mean"], f["scale"], f["weights"],
                         f["bias"], float(f["clip"]), f["centre"])
    except (OSError, KeyError, ValueError):
        return None


def signature(prior: Prior | None) -> str:
    """A short key of the prior's contents (assignments are cached per prior)."""
    if prior is None:
        return "none"
    centre = b"" if prior.centre is None else prior.centre.tobytes()
    digest = hashlib.sha1(repr((prior.model, prior.topics, prior.clip)).encode())
    for part in (prior.mean.tobytes(), prior.scale.tobytes(), prior.weights.tobytes(), prior.bias.tobytes(), centre):
        digest.update(part)
    return digest.hexdigest()[:12]


ACTIVE: dict = {}     # {"prior": Prior | None} while an experiment scores with another prior (kb.topics.transfer)


def in_use() -> Prior | None:
    """The prior the topic score uses: the one an experiment set in ACTIVE, else the shipped file."""
    return ACTIVE["prior"] if "prior" in ACTIVE else load()
