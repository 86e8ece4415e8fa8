"""`python -m kb.eval`: retrieval quality (MRR@10, nDCG@10, Recall@5) per mode on a labelled query set.

By default it indexes the seed post (content/) plus the evaluation posts in tests/eval/posts into a scratch index
and runs tests/eval/queries.jsonl, whose lines are
`{"query": ..., "kind": ..., "relevant": [{"post": "<file name>", "heading": "<### heading>"}, ...]}`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import shutil
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from kb import safeio
from kb.cli import run
from kb.errors import BadQuery

MODES = ("keyword", "semantic", "hybrid")


@dataclass
class Scores:
    mrr: float
    ndcg: float
    recall5: float
    n: int


def metrics(ranked: list[tuple[str, str]], relevant: set[tuple[str, str]]) -> tuple[float, float, float]:
    """(reciprocal rank @10, nDCG@10, recall@5) for one query with binary relevance."""
    top = ranked[:10]
    rr = next((1.0 / i for i, key in enumerate(top, 1) if key in relevant), 0.0)
    dcg = sum(1.0 / math.log2(i + 1) for i, key in enumerate(top, 1) if key in relevant)
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(len(relevant), 10) + 1))
    recall = len({k for k in ranked[:5] if k in relevant}) / len(relevant) if relevant else 0.0
    return rr, (dcg / ideal if ideal else 0.0), recall


def load_queries(path: Path) -> list[dict]:
    out = []
    try:
        text = safeio.read_text(path, 64 * 1024 * 1024)          # a FIFO or /dev/zero: one line, never a hang
    except OSError as err:
        raise BadQuery(f"cannot read the queries file {path}: {err.strerror or err}") from None
    for line in text.splitlines():
        if line.strip():
            out.append(json.loads(line))
    return out


def evaluate(index, queries: list[dict], modes=MODES, **search_kw) -> dict[str, dict[str, Scores]]:
    """{mode: {kind or 'all': Scores}}."""
    result: dict[str, dict[str, Scores]] = {}
    for mode in modes:
        per_kind: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
        for q in queries:
            hits = index.search(q["query"], mode=mode, k=10, **search_kw)
            ranked = [(Path(h.path).name, h.heading) for h in hits]
            rel = {(r["post"], r["heading"]) for r in q["relevant"]}
            m = metrics(ranked, rel)
            per_kind[q.get("kind", "?")].append(m)
            per_kind["all"].append(m)
        result[mode] = {
            kind: Scores(*(sum(x[i] for x in ms) / len(ms) for i in range(3)), n=len(ms))
            for kind, ms in per_kind.items()
        }
    return result


def build_eval_index(post_dirs: list[Path], index_dir: Path, model: str | None = None):
    """Copy the posts into a scratch content folder and build (or update) an index there."""
    from kb.build import build_index
    from kb.config import Settings

    content = index_dir.parent / (index_dir.name + "-content")
    if content.exists():
        shutil.rmtree(content)
    content.mkdir(parents=True)
    for d in post_dirs:
        for p in sorted(Path(d).glob("*.md")):
            shutil.copy(p, content / p.name)
    return build_index(Settings.load(content, index_dir, model))


DEFAULT_POSTS = ("content", "tests/eval/posts")


@contextlib.contextmanager
def opened_index(index_dir=None, posts=None, model: str | None = None):
    """The index to evaluate: `index_dir` as it is, else a scratch index of `posts` (default: the seed post and
    tests/eval/posts) built for the occasion and removed afterwards."""
    import kb

    if index_dir:
        yield kb.open_index(Path(index_dir))
        return
    tmp = Path(tempfile.mkdtemp(prefix="kb-eval-"))
    try:
        report = build_eval_index([Path(d) for d in (posts or DEFAULT_POSTS)], tmp / "index", model)
        print(report.summary(), file=sys.stderr)
        yield kb.open_index(tmp / "index")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def format_table(result: dict[str, dict[str, Scores]]) -> str:
    lines = ["| mode | nDCG@10 | MRR@10 | Recall@5 |", "|---|---|---|---|"]
    for mode, kinds in result.items():
        s = kinds["all"]
        lines.append(f"| {mode} | {s.ndcg:.3f} | {s.mrr:.3f} | {s.recall5:.3f} |")
    kinds = sorted({k for v in result.values() for k in v if k != "all"})
    lines += ["", "nDCG@10 by query kind:", "", "| kind | n | " + " | ".join(result) + " |",
              "|---|---|" + "---|" * len(result)]
    for kind in kinds:
        first = next(iter(result.values()))[kind]
        lines.append(f"| {kind} | {first.n} | " + " | ".join(f"{result[m][kind].ndcg:.3f}" for m in result) + " |")
    return "\n".join(lines)


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m kb.eval", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--queries", default="tests/eval/queries.jsonl")
    p.add_argument("--posts", action="append", metavar="DIR",
                   help="post folders to index (default: content/ and tests/eval/posts)")
    p.add_argument("--index-dir", metavar="DIR", help="evaluate this already-built index instead")
    p.add_argument("--model", metavar="NAME", help="embedding model for the scratch index")
    p.add_argument("--mode", action="append", choices=MODES, help="modes to run (default: all)")
    p.add_argument("--keyword-weight", type=float, help="hybrid: weight of the keyword leg (default 0.3)")
    p.add_argument("--fusion", choices=["convex", "convex-minmax", "rrf"], default="convex")
    p.add_argument("--no-glossary", action="store_true", help="turn the glossary query expansion off")
    p.add_argument("--title-margin", type=float, help="margin a referenced-title vector must win by (default 0.03)")
    p.add_argument("--json", action="store_true")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    queries = load_queries(Path(args.queries))
    with opened_index(args.index_dir, args.posts, args.model) as index:
        kw = {"fusion_method": args.fusion, "expand": not args.no_glossary}
        if args.title_margin is not None:
            index.title_margin = args.title_margin
        if args.keyword_weight is not None:
            kw["keyword_weight"] = args.keyword_weight
        result = evaluate(index, queries, tuple(args.mode or MODES), **kw)
    if args.json:
        print(json.dumps({m: {k: vars(s) for k, s in v.items()} for m, v in result.items()}))
    else:
        print(f"{len(queries)} queries, {len(index)} sections, model {index.model_name}\n")
        print(format_table(result))
    return 0


if __name__ == "__main__":
    run(main)
