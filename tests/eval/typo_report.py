"""Per-kind report on a misspelled query set: hybrid nDCG@10, top hybrid hit confident, keyword MRR@10, and how
"Did you mean" behaves: offered at all; offered the intended query (the line's `"intended"`, or its query with
its `"typo": [wrong, right]` put right); offered where nothing is misspelled (`"intended": null`: Konglish, spacing).

    python tests/eval/typo_report.py --queries tests/eval/typos_human.jsonl [--index-dir DIR] [--posts DIR ...]
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

from kb.eval import load_queries, metrics, opened_index


def _ranked(hits) -> list[tuple[str, str]]:
    return [(Path(h.path).name, h.heading) for h in hits]


def measure(index, q: dict) -> dict:
    rel = {(r["post"], r["heading"]) for r in q["relevant"]}
    hy = index.search(q["query"], mode="hybrid", k=10)
    kw = index.search(q["query"], mode="keyword", k=10)
    want = q["intended"] if "intended" in q else q["query"].replace(*q["typo"], 1) if "typo" in q else ""
    dym = hy.did_you_mean
    return {"ndcg": metrics(_ranked(hy), rel)[1], "confident": float(bool(hy) and not hy[0].weak),
            "kw_mrr": metrics(_ranked(kw), rel)[0], "offered": float(dym is not None),
            "right": float(bool(want) and dym is not None and dym.lower() == want.lower()),
            "false": float(want is None and dym is not None), "typo": float(want is not None)}


def report(rows: dict[str, list[dict]]) -> str:
    lines = ["| kind | n | hybrid nDCG@10 | confident top | keyword MRR@10 | did you mean: right / offered, of the "
             "misspelled | offered where nothing is misspelled |", "|---|---|---|---|---|---|---|"]
    for kind in sorted(rows, key=lambda k: (k == "all", k)):
        r = rows[kind]
        n = len(r)
        s = {k: sum(x[k] for x in r) for k in r[0]}
        lines.append(f"| {kind} | {n} | {s['ndcg'] / n:.3f} | {int(s['confident'])}/{n} | {s['kw_mrr'] / n:.3f} | "
                     f"{int(s['right'])} / {int(s['offered'] - s['false'])} of {int(s['typo'])} | {int(s['false'])} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--queries", default="tests/eval/typos_human.jsonl")
    p.add_argument("--index-dir")
    p.add_argument("--posts", nargs="*")
    p.add_argument("-v", "--verbose", action="store_true", help="one line per query")
    args = p.parse_args(argv)
    rows: dict[str, list[dict]] = defaultdict(list)
    with opened_index(args.index_dir, args.posts) as index:
        for q in load_queries(Path(args.queries)):
            m = measure(index, q)
            rows[q.get("kind", "?")].append(m)
            rows["all"].append(m)
            if args.verbose:
                print(f"{q['kind']:11} nDCG {m['ndcg']:.2f} conf {int(m['confident'])} kwRR {m['kw_mrr']:.2f} "
                      f"dym {int(m['offered'])}{'✓' if m['right'] else ''} {q['query']}", file=sys.stderr)
    print(report(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
