"""How well each form of the topic prior (kb.topics.prior) ranks sections it never saw: leaving one split out, the
average precision per topic of the regression's log-odds, the neighbour vote's (k nearest labelled sections) and
their mean, pooled over the held-out splits. A labelled section of another split with the same resource
(prior.same_resource) does not vote: parallel writers sometimes chose one resource twice.

    python tests/eval/prior_vote_ap.py --index-dir DIR    # DIR: kb.eval.build_eval_index of every labelled post
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from kb.query.index import open_index
from kb.topics import LABELS_FILE, _labelled, _post_splits, load_labels, load_topics
from kb.topics import prior as topic_prior

NEWEST = ("external26", "external27", "external28", "external29")


def average_precision(score: np.ndarray, labels: np.ndarray) -> float:
    order = np.argsort(-score, kind="stable")
    hit = labels[order].astype(float)
    precision = np.cumsum(hit) / np.arange(1, len(hit) + 1)
    return float((precision * hit).sum() / max(hit.sum(), 1.0))


def held_out_values(vec: np.ndarray, y: np.ndarray, groups: np.ndarray, resources: list[str],
                    ks=(5, 10, 20)) -> dict[str, np.ndarray]:
    """{form: (sections, topics) values, each split's from a prior trained on the other splits}."""
    names = [str(j) for j in range(y.shape[1])]
    out = {"regression": np.zeros(y.shape, dtype=np.float32)}
    out.update({f"vote k={k}": np.zeros(y.shape, dtype=np.float32) for k in ks})
    every = topic_prior.train(vec, y, names, "", votes=False)
    matches = topic_prior.resource_matches(resources)
    for g in np.unique(groups):
        held = groups == g
        p = topic_prior.train(vec[~held], y[~held], names, "", start=every, votes=False)
        out["regression"][held] = p.raw(vec[held])
        skip = topic_prior.resource_skip(matches, held)
        for k in ks:
            topic_prior.NEIGHBOURS = k
            out[f"vote k={k}"][held] = topic_prior.neighbour_vote(vec[held], vec[~held], y[~held], skip=skip)
    for k in ks:
        out[f"mean, k={k}"] = (out["regression"] + out[f"vote k={k}"]) / 2
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index-dir", required=True)
    args = ap.parse_args()
    index, topics = open_index(args.index_dir), load_topics()
    have, vec, y = _labelled(index, load_labels(LABELS_FILE), topics)
    rows = [s for s, h in zip(index.sections, have, strict=True) if h]
    split_of = _post_splits()
    groups = np.array([split_of[Path(s.post_path).name] for s in rows])
    resources = [topic_prior.resource_key(s.heading) for s in rows]
    k_shipped = topic_prior.NEIGHBOURS
    values = held_out_values(vec, y, groups, resources)
    topic_prior.NEIGHBOURS = k_shipped
    newest = np.isin(groups, NEWEST)
    print("| form | " + " | ".join(topics.names) + " | mean | nlp on external26–29 |")
    print("|---" * (len(topics.names) + 3) + "|")
    for form, v in values.items():
        aps = [average_precision(v[:, j], y[:, j]) for j in range(len(topics.names))]
        nlp = topics.names.index("nlp")
        print(f"| {form} | " + " | ".join(f"{a:.3f}" for a in aps)
              + f" | {np.mean(aps):.3f} | {average_precision(v[newest, nlp], y[newest, nlp]):.3f} |")


if __name__ == "__main__":
    main()
