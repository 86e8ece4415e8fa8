"""How often a Hangul query word's loanword twin in the index is what the query wants: for every query of every
labelled set (rank_report.SETS, each on an index of its own posts), the index's Latin terms whose consonant skeleton
(kb.text.loanword.skeleton) equals a Hangul query word's (particle aside), and whether a relevant section holds the
term. Measures the idea of a loanword bridge in the keyword leg (docs/eval.md, "Issue 17, fifteenth pass").

    python tests/eval/loanword_pairs.py [--work DIR] [-v]      # DIR: rank_report.py's --work (its indexes reused)
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import rank_report

from kb.core.types import KeywordQuery
from kb.eval import load_queries
from kb.query.typos import _stem
from kb.text.loanword import MIN_CONSONANTS, skeleton


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python tests/eval/loanword_pairs.py")
    p.add_argument("--work", default="/tmp/kb-rank-report")
    p.add_argument("-v", action="store_true", help="every pair")
    args = p.parse_args(argv)
    idx = rank_report.indexes(Path(args.work))
    found, pairs = Counter(), Counter()
    for name, (_, files, _) in rank_report.SETS.items():
        backend = idx[name].backend
        twins = defaultdict(list)
        for t in idx[name].typos.vocabulary().df:
            if t.isascii() and t.isalpha() and len(s := skeleton(t)) >= MIN_CONSONANTS:
                twins[s].append(t)
        for path, _ in files:
            for q in load_queries(path):
                want = {(r["post"], r["heading"]) for r in q["relevant"]}
                rows = np.array([i for i, s in enumerate(backend.sections)
                                 if (Path(s.post_path).name, s.heading) in want], dtype=np.int64)
                for w in re.findall(r"[가-힣]+", q["query"]):
                    for t in twins.get(skeleton(_stem(w)[0]), ()):
                        right = bool(len(rows)) and bool((backend.keyword_scores(KeywordQuery([t]), rows) > 0).any())
                        found[right] += 1
                        pairs[(w, t, right)] += 1
                        if args.v:
                            print(f"{name} {w} -> {t} in a relevant section: {right} | {q['query']}")
    print(f"pairs: {found[True] + found[False]}, the Latin term in a relevant section: {found[True]}")
    print("most frequent:", ", ".join(f"{w}->{t} {'+' if r else '-'} {n}" for (w, t, r), n in pairs.most_common(12)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
