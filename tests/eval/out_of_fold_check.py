"""kb.topics.prior.out_of_fold by one Newton step per post (the default) against training again without each post
(exact=True), on an index of the labelled posts: the time of each and how far apart their values are.

    python tests/eval/out_of_fold_check.py DIR     # DIR: kb.eval.build_eval_index of every split's posts
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from kb.query.index import open_index
from kb.topics import LABELS_FILE, _labelled, load_labels, load_topics
from kb.topics import prior as topic_prior


def main(index_dir: str) -> None:
    index = open_index(Path(index_dir))
    have, vectors, y = _labelled(index, load_labels(LABELS_FILE), load_topics())
    rows = [s for s, h in zip(index.sections, have, strict=True) if h]
    posts = [Path(s.post_path).name for s in rows]
    resources = [topic_prior.resource_key(s.heading) for s in rows]
    start = time.perf_counter()
    steps = topic_prior.out_of_fold(vectors, y, posts, resources=resources)
    t_steps = time.perf_counter() - start
    start = time.perf_counter()
    again = topic_prior.out_of_fold(vectors, y, posts, resources=resources, exact=True)
    t_again = time.perf_counter() - start
    gap = np.abs(steps - again)
    print(f"{len(rows)} labelled sections in {len(set(posts))} posts: one step {t_steps:.1f} s, training again "
          f"{t_again:.1f} s; values apart by max {gap.max():.3f}, mean {gap.mean():.4f}, 99th percentile "
          f"{np.quantile(gap, 0.99):.3f} log-odds")


if __name__ == "__main__":
    main(sys.argv[1])
