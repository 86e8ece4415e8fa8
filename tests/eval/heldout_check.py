"""The held-out check of issue 17 through the CLI only, on a folder of posts kb has never seen: it indexes them with
the shipped default topics, then reports topic pages (`kb.topics NAME --json -k 1000`: micro precision and recall
against the folder's labels), off-topic queries with no confident hybrid hit, on-topic queries (top hybrid hit
confident, hybrid nDCG@10 by kind) and misspelled ones (hybrid nDCG@10, confident top hit, keyword MRR@10).

    python tests/eval/heldout_check.py DIR [-v] [--by-year]
    python tests/eval/heldout_check.py --split external2 [-v]     # a split of kb's labelled set (in-sample now)

DIR holds the posts (`*.md`) and `topic_labels.jsonl`, `queries.jsonl`, `offtopic.jsonl`, `typos.jsonl` in the
formats of tests/eval (labels: one line per section; queries: `"relevant"` lists of post and heading). A split
`S` reads its posts from tests/eval/topic_posts/S, its labels from tests/eval/topic_labels.jsonl and its queries
from tests/eval/S.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from kb.eval import metrics

EVAL = Path(__file__).resolve().parent


def main() -> int:
    verbose, by_year = "-v" in sys.argv, "--by-year" in sys.argv
    args = [a for a in sys.argv[1:] if a not in ("-v", "--by-year")]
    if not args or args[0] in ("-h", "--help") or (args[0] == "--split" and len(args) < 2):
        print(__doc__.strip().split("\n\n")[1].strip())
        return 0 if args and args[0] in ("-h", "--help") else 2
    if args[0] == "--split":
        posts, held = EVAL / "topic_posts" / args[1], EVAL / args[1]
        labels = [r for r in _jsonl(EVAL / "topic_labels.jsonl") if r.get("split") == args[1]]
    else:
        posts = held = Path(args[0]).resolve()
        labels = _jsonl(held / "topic_labels.jsonl")
    work = Path(tempfile.mkdtemp(prefix="kb-heldout-"))
    content, index = work / "content", work / "index"
    content.mkdir()
    for p in posts.glob("*.md"):
        shutil.copy(p, content / p.name)
    # the kb of the checkout this script is in, whatever the environment has installed (an editable install of
    # another checkout would otherwise answer for it)
    path = os.pathsep.join(p for p in (str(EVAL.parents[1]), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "KB_CONTENT_DIR": str(content), "KB_INDEX_DIR": str(index), "PYTHONPATH": path}

    def run(*args: str) -> str:
        p = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, env=env, cwd=work)
        if p.returncode:
            raise SystemExit(p.stderr[-1500:])
        return p.stdout

    def lines(name: str) -> list[dict]:
        return _jsonl(held / name)

    def search(queries: list[dict], mode: str = "hybrid") -> list[dict]:
        out = run("kb.search", "--json", "-k", "10", "--mode", mode, *[q["query"] for q in queries])
        return [json.loads(x) for x in out.strip().splitlines()]

    run("kb.index", "-q")
    try:
        topics(run, labels, index, verbose, by_year)
        queries(search, lines, verbose)
    finally:
        shutil.rmtree(work)
    return 0


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def topics(run, labels: list[dict], index: Path, verbose: bool, by_year: bool = False) -> None:
    truth = {(r["post"], r["heading"], t) for r in labels for t in r["topics"]}
    pred: set = set()
    per = {}
    for t in sorted({t for _, _, t in truth}):
        out = json.loads(run("kb.topics", t, "--index-dir", str(index), "--json", "-k", "1000").strip().splitlines()[-1])
        got = {(r["path"], r["heading"], t) for r in out["results"]}
        pred |= got
        want = {x for x in truth if x[2] == t}
        per[t] = (len(got & want), len(got), len(want), sorted(want - got), sorted(got - want))
    tp = len(pred & truth)
    print(f"topics: micro precision {tp / max(len(pred), 1):.3f} recall {tp / len(truth):.3f} "
          f"({tp} right of {len(pred)} listed, {len(truth)} labelled)")
    for t, (a, b, c, missed, extra) in per.items():
        print(f"  {t:14s} P {a / b if b else 0:.2f} R {a / c if c else 0:.2f}  ({a}/{b}/{c})")
        if verbose:
            print("     missed:", [h for _, h, _ in missed], " extra:", [h for _, h, _ in extra])
    if by_year:                     # the post's year, from its file name (YYYY-MM-DD-…)
        for year in sorted({x[0][:4] for x in pred | truth}):
            a, b, c = (len({x for x in s if x[0][:4] == year}) for s in (pred & truth, pred, truth))
            print(f"  year {year} P {a / b if b else 0:.3f} R {a / c if c else 0:.3f}  ({a}/{b}/{c})")


def _scores(results: list[dict], relevant: list[dict]) -> tuple[float, float, float]:
    """(MRR@10, nDCG@10, recall@5) of a CLI answer, by kb.eval's own arithmetic."""
    return metrics([(h["path"], h["heading"]) for h in results], {(r["post"], r["heading"]) for r in relevant})


def ndcg(results: list[dict], relevant: list[dict]) -> float:
    return _scores(results, relevant)[1]


def mrr(results: list[dict], relevant: list[dict]) -> float:
    return _scores(results, relevant)[0]


def confident_top(r: dict) -> bool:
    return bool(r["results"]) and not r["results"][0]["weak"]


def queries(search, lines, verbose: bool) -> None:
    off = search(lines("offtopic.jsonl"))
    loud = [r for r in off if any(not h["weak"] for h in r["results"])]
    print(f"off-topic queries with no confident hit: {len(off) - len(loud)}/{len(off)}")
    if verbose:
        for r in loud:
            print(f"   loud: {r['query']} -> {next(h['heading'] for h in r['results'] if not h['weak'])}")
    qs = lines("queries.jsonl")
    res = search(qs)
    nd = [ndcg(r["results"], q["relevant"]) for r, q in zip(res, qs, strict=True)]
    conf = sum(confident_top(r) for r in res)
    print(f"on-topic: top hit confident {conf}/{len(res)} = {conf / len(res):.3f}; hybrid nDCG@10 {sum(nd) / len(nd):.3f}")
    kinds = defaultdict(list)
    for q, n in zip(qs, nd, strict=True):
        kinds[q.get("kind", "-")].append(n)
    print("  by kind:", {k: round(sum(v) / len(v), 3) for k, v in sorted(kinds.items())})
    if verbose:
        for r, q, n in zip(res, qs, nd, strict=True):
            if n < 0.7 or not confident_top(r):
                print(f"   {n:.2f} {q.get('kind')}: {q['query']} -> {r['results'][0]['heading'] if r['results'] else None}")
    ty = lines("typos.jsonl")
    tr, kr = search(ty), search(ty, "keyword")
    tn = [ndcg(r["results"], q["relevant"]) for r, q in zip(tr, ty, strict=True)]
    km = [mrr(r["results"], q["relevant"]) for r, q in zip(kr, ty, strict=True)]
    print(f"misspelled: hybrid nDCG@10 {sum(tn) / len(tn):.3f}, confident top hit {sum(map(confident_top, tr))}/{len(tr)}, "
          f"keyword MRR@10 {sum(km) / len(km):.3f}, did you mean offered {sum(1 for r in tr if r.get('did_you_mean'))}")


if __name__ == "__main__":
    sys.exit(main())
