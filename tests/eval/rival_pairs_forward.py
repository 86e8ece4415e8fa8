"""Rivalry by pair of subjects, forward: fit the weights, thresholds and prior on the splits before externalFIRST
(without the sections whose resource a later split has too), learn a rival weight per (rival, topic) pair from the
fit's out-of-fold scores (the grid weight with the fewest errors on the pair's sections, when at least GAIN fewer
than the shared 0.2), and score each split externalFIRST..externalLAST on an index of its own posts with the shared
weight and with the pairs. Issue 17's twenty-sixth pass (docs/eval.md); the eleventh pass's nested version is
tests/eval/topic_rival_variants.py.

    python tests/eval/rival_pairs_forward.py FIRST LAST [--gain 3] [--start DIR]     # e.g. 158 169; DIR: an index
                                          # of every labelled post to begin from, so nothing in it is embedded again
"""
import argparse
import dataclasses
from pathlib import Path

import numpy as np

import kb.topics as T
from kb.eval import index_family
from kb.topics import score as S
from kb.topics.__main__ import _other_resources

LAB = Path("tests/eval/topic_labels.jsonl")
GRID = [round(x, 1) for x in np.arange(0, 1.61, 0.1)]
BASE = 0.2


def later(s: str, last: int) -> bool:
    return s.startswith("external") and s[8:].isdigit() and int(s[8:]) > last


def listed(total, thr, subject, w):
    """Membership with rival weights w[rival, topic] (kb.topics.score.rivalry's margins, weighted by pair)."""
    margins, who = S.rivalry(total, thr, subject)
    cols = np.broadcast_to(np.arange(total.shape[1])[None, :], total.shape)
    return total - margins * np.where(who >= 0, w[np.maximum(who, 0), cols], 0.0) >= thr[None, :]


def learn_pairs(tot, y, thr, subject, names, gain):
    w = np.full((len(names), len(names)), BASE)
    margins, who = S.rivalry(tot, thr, subject)
    for x in np.flatnonzero(subject):
        for j in np.flatnonzero(subject):
            rows = who[:, j] == x
            if x == j or not rows.any():
                continue
            errs = [int(((tot[rows, j] - g * margins[rows, j] >= thr[j]) != y[rows, j]).sum()) for g in GRID]
            e0, k = errs[GRID.index(BASE)], int(np.argmin(errs))
            if e0 - errs[k] >= gain:
                w[x, j] = GRID[k]
            print(f"{names[x]:>8s} -> {names[j]:8s} n={rows.sum():4d} pos={int(y[rows, j].sum()):4d} "
                  f"err@{BASE}={e0:3d} best {GRID[k]} err={errs[k]:3d} -> {w[x, j]}")
    return w


def main(argv=None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("first", type=int)
    p.add_argument("last", type=int)
    p.add_argument("--gain", type=int, default=3, help="errors a pair must remove to leave the shared weight")
    p.add_argument("--start", type=Path, help="an index of every labelled post to begin from")
    args = p.parse_args(argv)
    targets = [f"external{n}" for n in range(args.first, args.last + 1)]
    fit_splits = [s for s in T.SPLITS if s not in targets and not later(s, args.last)]
    topics = T.load_topics(None)
    names = topics.names
    subject = np.array([not t.facet for t in topics], dtype=bool)
    held = {k: v for s in targets for k, v in T.load_labels(LAB, s).items()}
    fit_labels = _other_resources(held, {k: v for s in fit_splits for k, v in T.load_labels(LAB, s).items()})
    every = [p for d in T.SPLITS.values() for p in d]
    with index_family(every, start=args.start) as subset, T._experiment():
        fit_index = subset([p for s in fit_splits for p in T.SPLITS[s]])
        r = T._fit_with_prior(fit_index, fit_labels, topics, None, T.topic_prior.C, "post")
        print("fit", {k: r[k] for k in ("weights", "thresholds")}, flush=True)
        S.WEIGHTS.update(r["weights"])
        thr = np.array([r["thresholds"][n] for n in names], dtype=np.float32)
        with T._vectors_held():         # the fit's own sections scored with an out-of-fold prior
            values = T.stacked_prior(fit_index, fit_labels, topics, T.topic_prior.C, "post")
            first = dataclasses.replace(T.score_parts(fit_index, topics), prior=np.asarray(values, np.float32),
                                        prior_known=None)
            ev = T.with_examples(fit_index, first, S.score(first, example=False), thr)
        have, y = T._label_matrix(fit_index, topics, fit_labels)
        pairs = learn_pairs(S.score(ev)[have], y[have], thr, subject, names, args.gain)
        counts = {"shared": [0, 0, 0], "pairs": [0, 0, 0]}
        per = {"shared": [], "pairs": []}
        tops = T.Topics(tuple(dataclasses.replace(t, threshold=r["thresholds"][t.name]) for t in topics),
                        topics.source)
        for s in targets:
            idx = subset(T.SPLITS[s])
            T._CACHE.clear()
            S.RIVAL_WEIGHT = 0.0                # the scores before rivalry
            raw = T.assign(idx, tops).score
            S.RIVAL_WEIGHT = BASE
            hv, yl = T._label_matrix(idx, topics, T.load_labels(LAB, s))
            for name, w in (("shared", np.full_like(pairs, BASE)), ("pairs", pairs)):
                m, want = listed(raw[hv], thr, subject, w), yl[hv]
                tp, fp, fn = int((m & want).sum()), int((m & ~want).sum()), int((~m & want).sum())
                counts[name] = [a + b for a, b in zip(counts[name], (tp, fp, fn), strict=True)]
                per[name].append((tp / max(tp + fp, 1), tp / max(tp + fn, 1)))
                print(s, name, f"P {per[name][-1][0]:.3f} R {per[name][-1][1]:.3f}", flush=True)
        for name, rows in per.items():
            tp, fp, fn = counts[name]
            meet = sum(p >= S.TARGET_PRECISION and q >= S.TARGET_RECALL for p, q in rows)
            print(f"{name}: pooled P {tp / (tp + fp):.3f} R {tp / (tp + fn):.3f} mean P "
                  f"{np.mean([p for p, _ in rows]):.3f} R {np.mean([q for _, q in rows]):.3f} "
                  f"meeting {meet}/{len(rows)}")


if __name__ == "__main__":
    main()
