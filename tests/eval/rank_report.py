"""Ranking and the relevance floor per query kind over every labelled query set, each set on an index of its own
posts: kb's own (the seed post and tests/eval/posts: queries.jsonl, short.jsonl, typos.jsonl) and the 205 helpers'
(tests/eval/topic_posts/S with tests/eval/S/queries.jsonl, typos.jsonl, offtopic.jsonl for S = external,
external2, …, external205). One process, one model load; the indexes are built once into --work and reused.

    python tests/eval/rank_report.py [--work DIR] [--from ALL] [--mode hybrid] [--floor] [--set kb.query.fusion.NAME=VALUE]
    python tests/eval/rank_report.py --sweep kb.query.fusion.NAME=V1,V2,...     # leave one set out
    python tests/eval/rank_report.py --floor --sweep kb.query.relevance.NAME=V1,V2,...   # the floor per value

`--set` overrides a module constant for the run (a sweep measures a parameter without editing the code).
`--sweep` scores every value on every set and then, for each set left out, picks the value with the best mean
hybrid nDCG@10 over the other sets and reports the left-out set's score at it, against the shipped value's. With
`--floor` it counts, per set, the queries the floor judges right (off-topic queries with no confident hit, on-topic
queries whose top hit is confident when it is relevant and weak when it is not) and leaves one set out the same way.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# This checkout's kb, also when the script runs from a worktree of other code (the venv's editable install points
# at one checkout only): a start-of-pass measurement must not silently import today's kb.
sys.path.insert(0, str(ROOT))
from kb.eval import build_eval_index, build_from, load_queries, metrics  # noqa: E402
from kb.query import fusion  # noqa: E402
from kb.query.index import open_index  # noqa: E402
from kb.topics import SPLITS  # noqa: E402

EVAL = ROOT / "tests" / "eval"
# set name → (post folders, [(query file, kind prefix)], off-topic files)
SETS = {
    "ours": ([ROOT / "content", EVAL / "posts"],
             [(EVAL / "queries.jsonl", ""), (EVAL / "short.jsonl", ""), (EVAL / "typos.jsonl", "typo-"),
              (EVAL / "typos_human.jsonl", "typo-human-")],
             [EVAL / "offtopic.jsonl", EVAL / "offtopic_lookalikes.jsonl"]),
}
# the helpers' sets (posts in tests/eval/topic_posts/S, queries in tests/eval/S): external by the first helper, …
for _name in [s for s in SPLITS if s.startswith("external")]:
    SETS[_name] = ([EVAL / "topic_posts" / _name],
                   [(EVAL / _name / "queries.jsonl", ""), (EVAL / _name / "typos.jsonl", "typo-")],
                   [EVAL / _name / "offtopic.jsonl"])


def indexes(work: Path, start: Path | None = None) -> dict:
    """Each set's index in work/NAME/index, built when missing: from scratch, or (`start`: an index of every labelled
    post, floor_at_scale.py's) as a copy of it updated to the set's posts, which embeds nothing (the same hits, scores
    and confidences as a fresh build) and keeps only the current version."""
    out = {}
    for name, (posts, _, _) in SETS.items():
        where = work / name / "index"
        if not (where / "CURRENT").exists() and start is None:
            print(build_eval_index(posts, where).summary(), file=sys.stderr)
        elif not (where / "CURRENT").exists():
            shutil.rmtree(where, ignore_errors=True)
            print(build_from(start, posts, where).summary(), file=sys.stderr)
            current = (where / "CURRENT").read_text(encoding="utf-8").strip()
            for old in (v for v in where.glob("v-*") if v.name != current):     # start's version, copied
                shutil.rmtree(old)
        out[name] = open_index(where)
    return out


def override(assignment: str) -> None:
    """`module.NAME=VALUE`: set a float constant of a kb module for this run."""
    target, value = assignment.split("=", 1)
    module, attr = target.rsplit(".", 1)
    setattr(importlib.import_module(module), attr, float(value))


def sync(idx: dict) -> None:
    """Copy the fusion constants an Index reads once, when it is opened, into the open indexes (a sweep changes the
    module's value after they are open)."""
    for index in idx.values():
        index.semantic_min_range, index.full_match_bonus = fusion.SEMANTIC_MIN_RANGE, fusion.FULL_MATCH_BONUS


def per_query(index, queries: list[dict], prefix: str, mode: str) -> list[tuple[str, float, bool, bool]]:
    """(kind, nDCG@10, top hit confident, top hit relevant) per query."""
    out = []
    for q in queries:
        hits = index.search(q["query"], mode=mode, k=10)
        ranked = [(Path(h.path).name, h.heading) for h in hits]
        nd = metrics(ranked, {(r["post"], r["heading"]) for r in q["relevant"]})[1]
        kind = q.get("kind", "?")
        right = bool(hits) and ranked[0] in {(r["post"], r["heading"]) for r in q["relevant"]}
        out.append((kind if kind.startswith(prefix.rstrip("-")) else prefix + kind, nd, bool(hits) and not hits[0].weak,
                    right))
    return out


def misses(idx: dict, mode: str) -> str:
    """Every clean on-topic query not ranked perfectly: its kind, nDCG@10, where its relevant sections stand and the
    first three hits with each leg's rank (keyword / semantic) and the hybrid score."""
    lines = []
    for name, (_, files, _) in SETS.items():
        for path, prefix in files:
            if prefix.startswith("typo"):
                continue
            for q in load_queries(path):
                hits = idx[name].search(q["query"], mode=mode, k=10)
                want = {(r["post"], r["heading"]) for r in q["relevant"]}
                ranked = [(Path(h.path).name, h.heading) for h in hits]
                nd = metrics(ranked, want)[1]
                if nd >= 0.999:
                    continue
                at = [i + 1 for i, x in enumerate(ranked) if x in want]
                top = "; ".join(f"{h.heading[:30]} (kw {h.ranks.get('keyword', '-')}, sem {h.ranks.get('semantic')}, "
                                f"{h.scores.get('hybrid', h.score):.2f}{'' if not h.weak else ', weak'})" for h in hits[:3])
                lines.append(f"{name} {q.get('kind')} {nd:.2f} {q['query']!r} relevant at {at} of "
                             f"{len(want)} | {top}")
    return "\n".join(lines)


def run(idx: dict, mode: str) -> dict[str, list[tuple[str, float, bool]]]:
    sync(idx)
    return {name: [r for path, prefix in SETS[name][1] for r in per_query(idx[name], load_queries(path), prefix, mode)]
            for name in SETS}


def table(result: dict) -> str:
    lines = ["| set | kind | n | nDCG@10 | top hit confident | top hit confident iff relevant |", "|---|---|---|---|---|---|"]
    for name, rows in result.items():
        kinds = defaultdict(list)
        for kind, nd, conf, right in rows:
            kinds[kind].append((nd, conf, conf == right))
            if not kind.startswith("typo"):
                kinds["all (clean)"].append((nd, conf, conf == right))
        for kind in sorted(kinds):
            v = kinds[kind]
            lines.append(f"| {name} | {kind} | {len(v)} | {sum(x for x, _, _ in v) / len(v):.3f} | "
                         f"{sum(c for _, c, _ in v)}/{len(v)} | {sum(j for _, _, j in v)}/{len(v)} |")
    return "\n".join(lines)


def loud(idx: dict, mode: str) -> dict[str, tuple[int, list[str]]]:
    """Per set: (off-topic queries asked, those with a confident hit)."""
    out = {}
    for name, (_, _, files) in SETS.items():
        off = [q for f in files for q in load_queries(f)]
        out[name] = (len(off), [q["query"] for q in off
                                if any(not h.weak for h in idx[name].search(q["query"], mode=mode, k=10))])
    return out


def floor(idx: dict, mode: str) -> str:
    return "\n".join(f"{name}: off-topic with no confident hit {n - len(bad)}/{n}" + (f" (confident: {'; '.join(bad)})" if bad else "")
                     for name, (n, bad) in loud(idx, mode).items())


def floor_sweep(idx: dict, spec: str, mode: str) -> str:
    """Per value: each set's on-topic top hits confident (clean, misspelled) and off-topic queries quiet."""
    target, values = spec.split("=", 1)
    module, attr = target.rsplit(".", 1)
    mod = importlib.import_module(module)
    shipped = getattr(mod, attr)
    lines = [f"| {attr} | " + " | ".join(f"{n}: confident clean / misspelled, quiet off-topic; judged right" for n in SETS)
             + " |", "|---|" + "---|" * len(SETS)]
    judged: dict[float, dict[str, int]] = defaultdict(dict)
    for v in [float(x) for x in values.split(",")]:
        setattr(mod, attr, v)
        res, off = run(idx, mode), loud(idx, mode)
        cells = []
        for name, rows in res.items():
            clean = [c for kind, _, c, _ in rows if not kind.startswith("typo")]
            typo = [c for kind, _, c, _ in rows if kind.startswith("typo")]
            n, bad = off[name]
            judged[v][name] = n - len(bad) + sum(c == r for _, _, c, r in rows)
            cells.append(f"{sum(clean)}/{len(clean)} / {sum(typo)}/{len(typo)}, {n - len(bad)}/{n}; {judged[v][name]}")
        lines.append(f"| {v} | " + " | ".join(cells) + " |")
        print(lines[-1], file=sys.stderr)
    setattr(mod, attr, shipped)
    return "\n".join(lines) + "\n\n" + leave_one_out(judged, attr, shipped, "queries the floor judges right")


def leave_one_out(scores: dict, attr: str, shipped, what: str, fmt: str = "") -> str:
    """For each set left out: the value with the best sum of `scores` over the other sets, and the left-out set's
    score there (each score written with `fmt`)."""
    first = next(iter(scores))
    lines = [f"| left out | {attr} fitted on the others | its {what} there | at {first} | at {shipped} (shipped) |",
             "|---|---|---|---|---|"]
    for out in SETS:
        best = max(scores, key=lambda v: sum(s for n, s in scores[v].items() if n != out))
        at = format(scores[shipped][out], fmt) if shipped in scores else "—"
        lines.append(f"| {out} | {best} | {format(scores[best][out], fmt)} | {format(scores[first][out], fmt)} | {at} |")
    return "\n".join(lines)


def clean_mean(rows) -> float:
    v = [nd for kind, nd, _, _ in rows if not kind.startswith("typo")]
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
    return leave_one_out(scores, attr, shipped, "nDCG@10", ".3f")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python tests/eval/rank_report.py")
    p.add_argument("--work", default="/tmp/kb-rank-report", help="where the indexes are built and kept")
    p.add_argument("--from", dest="start", metavar="DIR", help="build the missing indexes from this index of every "
                   "labelled post (kb.eval.build_eval_index over kb.topics.SPLITS) instead of embedding again")
    p.add_argument("--mode", default="hybrid", choices=["hybrid", "keyword", "semantic"])
    p.add_argument("--floor", action="store_true", help="also the off-topic queries of each set")
    p.add_argument("--set", action="append", default=[], metavar="MODULE.NAME=VALUE")
    p.add_argument("--sweep", metavar="MODULE.NAME=V1,V2,...")
    p.add_argument("--misses", action="store_true", help="list the clean queries not ranked perfectly, and stop")
    args = p.parse_args(argv)
    for a in args.set:
        override(a)
    idx = indexes(Path(args.work), Path(args.start) if args.start else None)
    if args.misses:
        print(misses(idx, args.mode))
        return 0
    if args.sweep:
        print(floor_sweep(idx, args.sweep, args.mode) if args.floor else sweep(idx, args.sweep, args.mode))
        return 0
    print(table(run(idx, args.mode)))
    if args.floor:
        print(floor(idx, args.mode))
    return 0


if __name__ == "__main__":
    sys.exit(main())
