"""Second-stage choices for the topic pages, checked leaving one split out twice (nested): fit weights, thresholds
and prior on all splits but one, score that split on an index of its own posts (as `kb.topics --check --by-split`
does, subjects not competing), then choose the second-stage rule on the other splits' scores only and apply it to
the held-out one. Prints, as mean (and worst) precision / recall over the splits:

* one threshold offset for every topic; an offset per topic (by F1, or by recall at precision 0.93);
* the rival rule (kb.topics.score.rivalry) at weights 0–1.5, each with its offset chosen on the other splits;
* a stacked logistic regression on every topic's margin (a weight per topic pair).

    OPENBLAS_NUM_THREADS=1 python tests/eval/topic_nested.py [--scores FILE] [--caps 2 3 4]   # ~5 minutes;
                                                                    # FILE caches the scores
"""

from __future__ import annotations

import argparse
import dataclasses
import pickle
from pathlib import Path

import numpy as np

from kb.eval import index_family
from kb.topics import (
    LABELS_FILE,
    SPLITS,
    Topics,
    _experiment,
    _fit_with_prior,
    _label_matrix,
    assign,
    load_labels,
    load_topics,
)
from kb.topics import prior as topic_prior
from kb.topics import score as topic_score

OFFSET = 0.3            # where the scores are taken (the rule's choice without rivalry); shifts are relative to it
SHIFTS = np.round(np.arange(-0.5, 1.51, 0.1), 2)
FLOOR = topic_score.PRECISION_FLOOR
TARGET = (0.92, 0.90)   # the acceptance's precision and recall for one set of new posts


def split_scores() -> dict:
    """{split: {"margin": (sections, topics) score − threshold, "y": labels, "names": topics}} from fits on the
    other splits, subjects not competing."""
    topics = load_topics(None)
    out = {}
    saved = topic_score.RIVAL_WEIGHT
    topic_score.RIVAL_WEIGHT = 0.0
    try:
        with index_family([p for d in SPLITS.values() for p in d]) as subset:
            for split in SPLITS:
                others = [s for s in SPLITS if s != split]
                fit_labels = {k: v for s in others for k, v in load_labels(LABELS_FILE, s).items()}
                labels = load_labels(LABELS_FILE, split)
                index = subset(SPLITS[split])
                with _experiment():
                    r = _fit_with_prior(subset([p for s in others for p in SPLITS[s]]), fit_labels, topics, None,
                                        topic_prior.C, "post")
                    topic_score.WEIGHTS.update(r["weights"])
                    moved = tuple(dataclasses.replace(
                        t, threshold=r["thresholds"][t.name] + topic_score.BALANCE_OFFSET - OFFSET) for t in topics)
                    a = assign(index, Topics(moved, topics.source))
                    have, y = _label_matrix(index, a.topics, labels)
                    thr = np.array([t.threshold for t in moved], dtype=np.float32)
                    out[split] = {"margin": (a.score - thr)[have], "y": y[have], "names": a.topics.names,
                                  "facet": np.array([bool(t.facet) for t in a.topics]),
                                  "features": a.evidence.features()[have], "weights": dict(topic_score.WEIGHTS),
                                  "thresholds": thr, "heading": [
                                      index.sections[i].heading for i in np.flatnonzero(have)]}
                print(f"# {split}: {int(have.sum())} labelled sections scored", flush=True)
    finally:
        topic_score.RIVAL_WEIGHT = saved
    return out


def _members(d: dict, lam: float, shift) -> np.ndarray:
    """Membership at thresholds moved by `shift` (a number or one per topic), subjects competing at weight lam."""
    margin = d["margin"] + np.asarray(shift, dtype=np.float32)
    rival, _ = topic_score.rivalry(margin, np.zeros(margin.shape[1], np.float32), ~d["facet"])
    return margin - lam * rival >= 0


def _pr(m: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    tp, fp, fn = (m & y).sum(), (m & ~y).sum(), (~m & y).sum()
    return tp / max(tp + fp, 1), tp / max(tp + fn, 1)


def _report(name: str, rows: list[tuple[float, float]]) -> None:
    p, r = np.array(rows).T
    both = int(((p >= TARGET[0]) & (r >= TARGET[1])).sum())
    print(f"{name}: mean {p.mean():.3f} / {r.mean():.3f}  worst {p.min():.3f} / {r.min():.3f}  "
          f"meeting both targets {both} of {len(rows)}")


def nested_offset(res: dict, lam: float, rule: str = "mean") -> list[tuple[float, float]]:
    """One shift (and the rival weight lam), chosen on the other splits: by the by-split rule ("mean": best mean
    recall at mean precision ≥ FLOOR) or ("count") by the most splits meeting both targets, ties to that rule."""
    table = {(s, sh): _pr(_members(res[s], lam, sh), res[s]["y"]) for s in res for sh in SHIFTS}
    rows = []
    for held in res:
        best = None
        for sh in SHIFTS:
            pr = [table[(s, sh)] for s in res if s != held]
            p, r = np.mean([a for a, _ in pr]), np.mean([b for _, b in pr])
            count = sum(a >= TARGET[0] and b >= TARGET[1] for a, b in pr) if rule == "count" else 0
            if p >= FLOOR and (best is None or (count, r, p) > best[0]):
                best = ((count, r, p), sh)
        rows.append(table[(held, best[1] if best else 0.0)])
    return rows


def nested_per_topic(res: dict, by: str) -> list[tuple[float, float]]:
    """A shift per topic, chosen on the other splits' pooled counts (by F1, or recall at precision ≥ FLOOR)."""
    t = len(next(iter(res.values()))["names"])
    counts = {}
    for s, d in res.items():
        for sh in SHIFTS:
            m, y = _members(d, 0.0, sh), d["y"]
            counts[(s, sh)] = np.stack([(m & y).sum(0), (m & ~y).sum(0), (~m & y).sum(0)], 1)
    rows = []
    for held in res:
        shifts = np.zeros(t)
        for j in range(t):
            def key(sh, j=j, held=held):
                tp, fp, fn = sum(counts[(s, sh)][j] for s in res if s != held)
                p, r = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
                return (2 * p * r / max(p + r, 1e-9),) if by == "f1" else (p >= FLOOR, r if p >= FLOOR else p)
            shifts[j] = max(SHIFTS, key=key)
        rows.append(_pr(_members(res[held], 0.0, shifts), res[held]["y"]))
    return rows


def _logistic(x: np.ndarray, y: np.ndarray, c: float) -> np.ndarray:
    z = np.hstack([x, np.ones((len(x), 1))])
    b = np.zeros(z.shape[1])
    reg = np.eye(z.shape[1])
    reg[-1, -1] = 1e-6
    for _ in range(50):
        p = 1 / (1 + np.exp(-z @ b))
        step = np.linalg.solve(c * (z * (p * (1 - p))[:, None]).T @ z + reg, c * z.T @ (p - y) + reg @ b)
        b -= step
        if np.abs(step).max() < 1e-8:
            break
    return b


def nested_stacked(res: dict, c: float) -> list[tuple[float, float]]:
    """Per topic a logistic regression on every topic's margin (clipped to ±3), trained on the other splits; its
    offset chosen on them too."""
    def logits(d, coef):
        x = np.hstack([np.clip(d["margin"], -3, 3), np.ones((len(d["margin"]), 1))])
        return np.stack([x @ b for b in coef], 1)

    rows = []
    for held in res:
        others = [s for s in res if s != held]
        x = np.vstack([np.clip(res[s]["margin"], -3, 3) for s in others])
        y = np.vstack([res[s]["y"] for s in others])
        coef = [_logistic(x, y[:, j].astype(float), c) for j in range(y.shape[1])]
        best = None
        for sh in SHIFTS:
            pr = [_pr(logits(res[s], coef) + sh >= 0, res[s]["y"]) for s in others]
            p, r = np.mean([a for a, _ in pr]), np.mean([b for _, b in pr])
            if p >= FLOOR and (best is None or r > best[0]):
                best = (r, sh)
        rows.append(_pr(logits(res[held], coef) + (best[1] if best else 0.0) >= 0, res[held]["y"]))
    return rows


def offset_table(res: dict, lam: float) -> None:
    """The by-split table from the cached scores: per offset (OFFSET + shift), subjects competing at weight lam, the
    mean and worst precision / recall over the splits and how many meet both targets (as `--check --by-split`
    prints it, but with each split's example sections picked at the scores' offset, not re-picked per offset)."""
    for sh in SHIFTS:
        rows = [_pr(_members(d, lam, sh), d["y"]) for d in res.values()]
        p, r = np.array(rows).T
        both = int(((p >= TARGET[0]) & (r >= TARGET[1])).sum())
        print(f"offset {OFFSET + sh:4.1f}: mean {p.mean():.3f} / {r.mean():.3f}  worst {p.min():.3f} / {r.min():.3f}"
              f"  meeting both targets {both} of {len(rows)}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scores", type=Path, help="cache of the by-split scores (written when missing)")
    ap.add_argument("--caps", type=float, nargs="*", default=[topic_score.RIVAL_CAP], metavar="CAP",
                    help=f"rival caps to try (default: the shipped {topic_score.RIVAL_CAP})")
    ap.add_argument("--table", type=float, metavar="W", help="only print the by-split table at rival weight W")
    args = ap.parse_args()
    if args.scores and args.scores.exists():
        res = pickle.loads(args.scores.read_bytes())
    else:
        res = split_scores()
        if args.scores:
            args.scores.write_bytes(pickle.dumps(res))
    if args.table is not None:
        offset_table(res, args.table)
        return 0
    _report("one offset", nested_offset(res, 0.0))
    _report("an offset per topic, by F1", nested_per_topic(res, "f1"))
    _report(f"an offset per topic, by recall at precision {FLOOR}", nested_per_topic(res, "floor"))
    for cap in args.caps:
        topic_score.RIVAL_CAP = cap
        for lam in (0.5, 1.0, 1.5):
            _report(f"rival weight {lam}, cap {cap}, its offset", nested_offset(res, lam))
            _report(f"rival weight {lam}, cap {cap}, its offset by splits meeting both targets",
                    nested_offset(res, lam, "count"))
    for c in (0.01, 0.1):
        _report(f"stacked regression, C {c}", nested_stacked(res, c))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
