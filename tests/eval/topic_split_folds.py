"""A quick A/B screen of a topics file before a by-split run: the splits (one writer each) in FOLDS groups; for each
group, the score weights, thresholds and prior fitted on the other groups' labels (the sections of a post voting for
none of its own), the group's labelled sections counted at each threshold offset. One index of every labelled post
serves every group, so a held-out section is scored among the others (a by-split run indexes each split alone:
slower, closer to a new corpus). Pooled micro precision / recall and per topic, one line per offset.

    python tests/eval/topic_split_folds.py --index-dir DIR [--topics FILE] [--rival 0.1]
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

from kb.query.index import open_index
from kb.topics import (
    SPLITS,
    _count_offsets,
    _experiment,
    _fit_with_prior,
    _post_splits,
    load_labels,
    load_topics,
    offset_rows,
)
from kb.topics import prior as topic_prior
from kb.topics import score as topic_score

FOLDS = 5
OFFSETS = (-0.2, 0.0, 0.1, 0.2, 0.3, 0.4, 0.6)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index-dir", required=True, help="kb.eval.build_eval_index of every labelled post")
    ap.add_argument("--topics", help="the topics file to screen (default: the shipped one)")
    ap.add_argument("--rival", type=float, default=topic_score.RIVAL_WEIGHT)
    args = ap.parse_args()
    index, labels = open_index(Path(args.index_dir)), load_labels()
    topics = load_topics(path=args.topics) if args.topics else load_topics()
    split_of = _post_splits()
    splits = sorted(SPLITS)
    random.Random(0).shuffle(splits)
    counts: dict = {}
    with _experiment():
        topic_score.RIVAL_WEIGHT = args.rival
        for f in range(FOLDS):
            held = set(splits[f::FOLDS])
            fit = _fit_with_prior(index, {k: v for k, v in labels.items() if split_of.get(k[0]) not in held}, topics,
                                  dict(topic_score.FIXED), topic_prior.C, "post")
            _count_offsets(counts, fit, index, {k: v for k, v in labels.items() if split_of.get(k[0]) in held},
                           topics, OFFSETS)
            print(f"group {f + 1} of {FOLDS} done", file=sys.stderr, flush=True)
    for r in offset_rows(counts, OFFSETS):
        print(f"offset {r['offset']:+.1f}  P {r['precision']:.4f} R {r['recall']:.4f}  "
              + " ".join(f"{t} {v['precision']:.3f}/{v['recall']:.3f}" for t, v in r["topics"].items()))


if __name__ == "__main__":
    main()
