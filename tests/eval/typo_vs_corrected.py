"""Keyword-mode MRR@10 of every set's misspelled queries as typed and as kb corrects them (the whole corrected query
searched as if typed so): when the two are equal, what the misspelled queries still miss is keyword mode's ranking
of the query meant, not the typo. Lists each query whose typed or corrected form misses the first place.

    python tests/eval/typo_vs_corrected.py [--work DIR]      # rank_report.py's sets and indexes
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import rank_report  # noqa: E402

from kb.eval import load_queries  # noqa: E402


def reciprocal_rank(hits, want: set[tuple[str, str]]) -> float:
    return next((1 / (i + 1) for i, h in enumerate(hits[:10]) if (Path(h.path).name, h.heading) in want), 0.0)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work", default="/tmp/kb-rank-report", help="where rank_report.py builds and keeps its indexes")
    args = p.parse_args()
    indexes = rank_report.indexes(Path(args.work))
    n, typed_sum, fixed_sum = 0, 0.0, 0.0
    for name, (_, files, _) in rank_report.SETS.items():
        for path, prefix in files:
            if prefix != "typo-":
                continue
            for q in load_queries(path):
                want = {(r["post"], r["heading"]) for r in q["relevant"]}
                index = indexes[name]
                fix = index.typos.correct(q["query"])
                typed = reciprocal_rank(index.search(q["query"], k=10, mode="keyword"), want)
                fixed = reciprocal_rank(index.search(fix.fixed, k=10, mode="keyword"), want) if fix else typed
                n, typed_sum, fixed_sum = n + 1, typed_sum + typed, fixed_sum + fixed
                if min(typed, fixed) < 1:
                    print(f"{name:11s} typed {typed:.2f} corrected {fixed:.2f} {q['query']!r} -> "
                          f"{fix.fixed if fix else None!r}")
    print(f"{n} misspelled queries: keyword MRR@10 typed {typed_sum / n:.3f}, corrected {fixed_sum / n:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
