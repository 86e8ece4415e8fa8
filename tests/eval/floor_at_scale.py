"""The relevance floor on one large index: every joined set's off-topic queries (and its clean on-topic queries)
asked of one index of all the labelled posts (about 12k sections, two decades of weekly posts), against each set on
an index of its own six posts (what tests/eval/rank_report.py --floor measures). Off-topic queries stay off-topic
whatever the index; an on-topic query's "right" counts only its own set's relevant sections, so on the large index
it is a floor, not a measure (other writers' posts answer short and topic queries too).

    python tests/eval/floor_at_scale.py DIR [--examples N]      # DIR: an index of every labelled post
                                                                 # (kb.eval.build_eval_index over kb.topics.SPLITS)
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import rank_report as R  # noqa: E402

from kb.query.index import open_index  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("index_dir")
    p.add_argument("--examples", type=int, default=20, help="show this many loud off-topic queries (distinct)")
    args = p.parse_args(argv)
    big = open_index(args.index_dir)
    loud, asked, conf, right, on = 0, 0, 0, 0, 0
    shown: dict[str, tuple[str, float]] = {}
    for name, (_, qfiles, offfiles) in R.SETS.items():
        if name == "ours":
            continue
        for q in (q for f in offfiles for q in R.load_queries(f)):
            asked += 1
            hits = [h for h in big.search(q["query"], k=10) if not h.weak]
            if hits:
                loud += 1
                shown.setdefault(q["query"], (hits[0].heading, hits[0].confidence))
        for q in R.load_queries(qfiles[0][0]):
            hits = big.search(q["query"], k=1)
            on += 1
            conf += bool(hits) and not hits[0].weak
            right += bool(hits) and (Path(hits[0].path).name, hits[0].heading) in {(r["post"], r["heading"])
                                                                                   for r in q["relevant"]}
    print(f"{len(big)} sections: off-topic queries with a confident hit {loud} of {asked} "
          f"({len(shown)} distinct); clean on-topic top hit confident {conf} of {on}, its own set's answer {right}")
    for query, (heading, c) in random.Random(1).sample(sorted(shown.items()), min(args.examples, len(shown))):
        print(f"  {query!r} → {heading} ({c:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
