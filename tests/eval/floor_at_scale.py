"""The relevance floor as the corpus grows: every joined set's queries asked of one index of all the labelled posts
(about 12.8k sections, two decades of weekly posts), over its own six posts plus others drawn at random up to each
size (a rows filter: the search runs over that many sections), or over the whole index ("all"). Per set, what
tests/eval/rank_report.py --floor measures on an index of its own posts: off-topic queries with a confident hit, clean
and misspelled on-topic queries whose top hit is confident, and whether that top hit is one of the set's own answers
(a floor, not a measure, on a larger corpus: other writers' posts answer short and topic queries too).

    python tests/eval/floor_at_scale.py DIR [--sizes 300,1000,3000,all] [--every N] [--set MODULE.NAME=VALUE]
        DIR: an index of every labelled post (kb.eval.build_eval_index over kb.topics.SPLITS); --every 2 asks every
        second on-topic query (all off-topic ones); --set kb.query.relevance.SIZE_SLOPE=0 measures without the
        size term; --examples N shows N loud off-topic queries of the last size
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import rank_report as R  # noqa: E402

from kb.query.index import open_index  # noqa: E402


def own_rows(big, posts: list[Path]) -> list[int]:
    names = {f.name for p in posts for f in Path(p).glob("*.md")}
    return [i for i, s in enumerate(big.sections) if s.post_path in names]


def one_set(big, rows, qfiles, offfiles, every: int, shown: dict) -> dict:
    """One set's counts over the given rows (None: the whole index)."""
    out = {"off": 0, "loud": 0, "on": 0, "conf": 0, "right": 0, "typo": 0, "typo_conf": 0}
    for q in (q for f in offfiles for q in R.load_queries(f)):
        out["off"] += 1
        hits = [h for h in big.search(q["query"], k=10, rows=rows) if not h.weak]
        if hits:
            out["loud"] += 1
            shown.setdefault(q["query"], (hits[0].heading, hits[0].confidence))
    k = 0
    for path, prefix in qfiles:
        for q in R.load_queries(path):
            k += 1
            if k % every:
                continue
            hits = big.search(q["query"], k=1, rows=rows)
            sure = bool(hits) and not hits[0].weak
            kind = "typo" if prefix else "on"
            out[kind] += 1
            out["typo_conf" if prefix else "conf"] += sure
            if not prefix:
                out["right"] += bool(hits) and (Path(hits[0].path).name, hits[0].heading) in {
                    (r["post"], r["heading"]) for r in q["relevant"]}
    return out


def meets(s: dict) -> bool:
    """The acceptance's three floor targets on one set (scaled to the queries asked)."""
    return (s["loud"] <= s["off"] / 12 and s["conf"] >= 0.95 * s["on"]
            and (not s["typo"] or s["typo_conf"] >= 11 / 12 * s["typo"]))


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("index_dir")
    p.add_argument("--sizes", default="all", help="comma-separated section counts, 'all' for the whole index")
    p.add_argument("--every", type=int, default=1, help="ask every N-th on-topic query (all off-topic ones)")
    p.add_argument("--set", action="append", default=[], metavar="MODULE.NAME=VALUE")
    p.add_argument("--examples", type=int, default=0, help="show this many loud off-topic queries (distinct)")
    args = p.parse_args(argv)
    for assignment in args.set:
        R.override(assignment)
    big = open_index(args.index_dir)
    everything = list(range(len(big)))
    for size in args.sizes.split(","):
        shown: dict[str, tuple[str, float]] = {}
        per = {}
        for name, (posts, qfiles, offfiles) in R.SETS.items():
            if name == "ours":
                continue
            rows = None
            if size != "all":
                own = own_rows(big, posts)
                rest = sorted(set(everything) - set(own))
                rows = own + random.Random(f"{name}:{size}").sample(rest, max(0, min(len(rest), int(size) - len(own))))
            per[name] = one_set(big, rows, qfiles, offfiles, args.every, shown)
        t = {k: sum(s[k] for s in per.values()) for k in next(iter(per.values()))}
        print(f"{size if size != 'all' else len(big)} sections, {len(per)} sets: off-topic queries with a confident hit "
              f"{t['loud']} of {t['off']} ({t['loud'] / t['off']:.3f}); clean on-topic top hit confident {t['conf']} "
              f"of {t['on']} ({t['conf'] / t['on']:.3f}), its own set's answer {t['right']}; misspelled confident "
              f"{t['typo_conf']} of {t['typo']}; sets meeting the three floor targets {sum(map(meets, per.values()))}",
              flush=True)
    for query, (heading, c) in random.Random(1).sample(sorted(shown.items()), min(args.examples, len(shown))):
        print(f"  {query!r} → {heading} ({c:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
