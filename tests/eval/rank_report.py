"""Ranking and the relevance floor per query kind over every labelled query set, each set on an index of its own
posts: kb's own (the seed post and tests/eval/posts: queries.jsonl, short.jsonl, typos.jsonl), the first helper's
(tests/eval/topic_posts/external: external/queries.jsonl, typos.jsonl) and the second's (external2). One process,
one model load; the indexes are built once into --work and reused.

    python tests/eval/rank_report.py [--work DIR] [--mode hybrid] [--floor] [--set kb.query.fusion.NAME=VALUE]
    python tests/eval/rank_report.py --sweep kb.query.fusion.NAME=V1,V2,...     # leave one set out

`--set` overrides a module constant for the run (a sweep measures a parameter without editing the code).
`--sweep` scores every value on every set and then, for each set left out, picks the value with the best mean
hybrid nDCG@10 over the other sets and reports the left-out set's score at it, against the shipped value's.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections import defaultdict
from pathlib import Path

from kb.eval import build_eval_index, load_queries, metrics
from kb.query.index import open_index

ROOT = Path(__file__).resolve().parents[2]
EVAL = ROOT / "tests" / "eval"
# set name → (post folders, [(query file, label)], off-topic file)
SETS = {
    "ours": ([ROOT / "content", EVAL / "posts"],
             [(EVAL / "queries.jsonl", ""), (EVAL / "short.jsonl", ""), (EVAL / "typos.jsonl", "typo-")],
             EVAL / "offtopic.jsonl"),
    "external": ([EVAL / "topic_posts" / "external"],
                 [(EVAL / "external" / "queries.jsonl", ""), (EVAL / "external" / "typos.jsonl", "typo-")],
                 EVAL / "external" / "offtopic.jsonl"),
    "external2": ([EVAL / "topic_posts" / "external2"],
                  [(EVAL / "external2" / "queries.jsonl", ""), (EVAL / "external2" / "typos.jsonl", "typo-")],
                  EVAL / "external2" / "offtopic.jsonl"),
}


def indexes(work: Path) -> dict:
    out = {}
    for name, (posts, _, _) in SETS.items():
        where = work / name / "index"
        if not (where / "CURRENT").exists():
            print(build_eval_index(posts, where).summary(), file=sys.stderr)
        out[name] = open_index(where)
    return out


def override(assignment: str) -> None:
    """`module.NAME=VALUE`: set a float constant of a kb module for this run."""
    target, value = assignment.split("=", 1)
    module, attr = target.rsplit(".", 1)
    setattr(importlib.import_module(module), attr, float(value))


def per_query(index, queries: list[dict], prefix: str, mode: str) -> list[tuple[str, float, bool]]:
    """(kind, nDCG@10, top hit confident) per query."""
    out = []
    for q in queries:
        hits = index.search(q["query"], mode=mode, k=10)
        ranked = [(Path(h.path).name, h.heading) for h in hits]
        nd = metrics(ranked, {(r["post"], r["heading"]) for r in q["relevant"]})[1]
        kind = q.get("kind", "?")
        out.append((kind if kind.startswith(prefix) else prefix + kind, nd, bool(hits) and not hits[0].weak))
    return out


def run(idx: dict, mode: str) -> dict[str, list[tuple[str, float, bool]]]:
    return {name: [r for path, prefix in SETS[name][1] for r in per_query(idx[name], load_queries(path), prefix, mode)]
            for name in SETS}


def table(result: dict) -> str:
    lines = ["| set | kind | n | nDCG@10 | top hit confident |", "|---|---|---|---|---|"]
    for name, rows in result.items():
        kinds = defaultdict(list)
        for kind, nd, conf in rows:
            kinds[kind].append((nd, conf))
            if not kind.startswith("typo"):
                kinds["all (clean)"].append((nd, conf))
        for kind in sorted(kinds):
            v = kinds[kind]
            lines.append(f"| {name} | {kind} | {len(v)} | {sum(x for x, _ in v) / len(v):.3f} | "
                         f"{sum(c for _, c in v)}/{len(v)} |")
    return "\n".join(lines)


def floor(idx: dict, mode: str) -> str:
    lines = []
    for name, (_, _, offtopic) in SETS.items():
        off = load_queries(offtopic)
        loud = [q["query"] for q in off if any(not h.weak for h in idx[name].search(q["query"], mode=mode, k=10))]
        lines.append(f"{name}: off-topic with no confident hit {len(off) - len(loud)}/{len(off)}"
                     + (f" (confident: {'; '.join(loud)})" if loud else ""))
    return "\n".join(lines)


def clean_mean(rows) -> float:
    v = [nd for kind, nd, _ in rows if not kind.startswith("typo")]
    return sum(v) / len(v)


def sweep(idx: dict, spec: str, mode: str) -> str:
    target, values = spec.split("=", 1)
    module, attr = target.rsplit(".", 1)
    mod = importlib.import_module(module)
    shipped = getattr(mod, attr)
    scores = {}
    for v in [float(x) for x in values.split(",")]:
        setattr(mod, attr, v)
        scores[v] = {name: clean_mean(rows) for name, rows in run(idx, mode).items()}
        print(f"{attr}={v}: " + ", ".join(f"{n} {s:.3f}" for n, s in scores[v].items()), file=sys.stderr)
    setattr(mod, attr, shipped)
    lines = [f"| left out | {attr} fitted on the others | its nDCG@10 there | at {shipped} |", "|---|---|---|---|"]
    for out in SETS:
        best = max(scores, key=lambda v: sum(s for n, s in scores[v].items() if n != out))
        lines.append(f"| {out} | {best} | {scores[best][out]:.3f} | "
                     f"{scores[shipped][out]:.3f} |" if shipped in scores else f"| {out} | {best} | {scores[best][out]:.3f} | — |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python tests/eval/rank_report.py")
    p.add_argument("--work", default="/tmp/kb-rank-report", help="where the three indexes are built and kept")
    p.add_argument("--mode", default="hybrid", choices=["hybrid", "keyword", "semantic"])
    p.add_argument("--floor", action="store_true", help="also the off-topic queries of each set")
    p.add_argument("--set", action="append", default=[], metavar="MODULE.NAME=VALUE")
    p.add_argument("--sweep", metavar="MODULE.NAME=V1,V2,...")
    args = p.parse_args(argv)
    for a in args.set:
        override(a)
    idx = indexes(Path(args.work))
    if args.sweep:
        print(sweep(idx, args.sweep, args.mode))
        return 0
    print(table(run(idx, args.mode)))
    if args.floor:
        print(floor(idx, args.mode))
    return 0


if __name__ == "__main__":
    sys.exit(main())
