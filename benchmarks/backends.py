"""`python -m benchmarks.backends`: the local and the Milvus backend side by side on one synthetic corpus.

Measures, for each backend: the full build, a no-op rebuild and a one-post edit (passages embedded by benchmarks.bench's
PooledEmbedder — real e5 vectors of the evaluation posts mixed with noise — so the figures are everything but the
model), warm query latency p50/p95 per mode through the same query layer (the real model embeds the queries; the
two backends are timed in turns, query by query, so machine load hits both alike), and memory: peak RSS of a
`python -m kb.search` process answering the 40 bench queries, plus the Milvus server's resident memory.

By default it starts its own `milvus-lite server` on 127.0.0.1 (a free port) with its data in the work folder;
`--milvus-uri` uses another server instead (its memory is then not reported).

    python -m benchmarks.backends --sections 1000
    python -m benchmarks.backends --sections 10000 --rounds 1 --json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks.harness import MODES, QUERIES, PooledEmbedder, _edit_post, _pct, machine, start_server, write_corpus
from kb import backends
from kb import build as kbbuild
from kb.backends.local import open_local
from kb.cli.args import ArgumentParser, run
from kb.core.config import Settings
from kb.eval import DEFAULT_POSTS, build_eval_index
from kb.query.index import Index


def _proc_mb(pid: int, key: str) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def pool_vectors(work: Path) -> np.ndarray:
    """Real e5 passage vectors of the evaluation posts (a local build with the real model)."""
    build_eval_index([Path(d) for d in DEFAULT_POSTS], work / "pool-index")
    backend = open_local(work / "pool-index")
    sec, title = backend.entry_vectors(np.arange(len(backend.sections)))
    return np.ascontiguousarray(np.vstack([sec, title]), dtype=np.float32)


def measure_builds(settings: dict[str, Settings], emb: PooledEmbedder, content: Path, log) -> dict:
    """Full build, no-op rebuild and one-post edit per backend (seconds)."""
    out: dict[str, dict] = {name: {} for name in settings}
    for name, s in settings.items():
        t = time.perf_counter()
        kbbuild.build(s, full=True, embedder=emb)
        out[name]["full_build_s"] = round(time.perf_counter() - t, 2)
        t = time.perf_counter()
        report = kbbuild.build(s, embedder=emb)
        out[name]["noop_rebuild_s"] = round(time.perf_counter() - t, 3)
        assert report.up_to_date, report.summary()
        log(f"{name}: full build {out[name]['full_build_s']} s, no-op {out[name]['noop_rebuild_s']} s")
    _edit_post(sorted(content.glob("*.md"))[len(list(content.glob('*.md'))) // 2], "benchedit")
    for name, s in settings.items():
        t = time.perf_counter()
        report = kbbuild.build(s, embedder=emb)
        out[name]["edit_rebuild_s"] = round(time.perf_counter() - t, 3)
        out[name]["edit_embedded"] = report.embedded
        log(f"{name}: one-post edit {out[name]['edit_rebuild_s']} s ({report.embedded} embedded)")
    return out


def measure_queries(indexes: dict[str, Index], rounds: int, log) -> dict:
    """Warm latency per backend and mode, the backends timed in turns on the same query (ms)."""
    times: dict[str, dict[str, list[float]]] = {n: {m: [] for m in MODES} for n in indexes}
    for index in indexes.values():
        for q in QUERIES[:5]:
            index.search(q, mode="hybrid", k=10)                 # warm: model, query vectors, caches
    same = 0
    for _ in range(rounds):
        for mode in MODES:
            for q in QUERIES:
                keys = []
                for name, index in indexes.items():
                    t = time.perf_counter()
                    hits = index.search(q, mode=mode, k=10)
                    times[name][mode].append((time.perf_counter() - t) * 1000)
                    keys.append([(h.path, h.heading) for h in hits])
                same += all(k == keys[0] for k in keys)
    total = rounds * len(MODES) * len(QUERIES)
    log(f"queries: identical top-10 on both backends for {same}/{total}")
    return {"latency_ms": {n: {m: _pct(v) for m, v in per.items()} for n, per in times.items()},
            "identical_top10": f"{same}/{total}"}


_PEAK = ("import runpy, sys\n"
         "sys.argv = ['kb.search', *sys.argv[1:]]\n"
         "try:\n    runpy.run_module('kb.search', run_name='__main__')\n"
         "finally:\n    print([x for x in open('/proc/self/status') if x.startswith('VmHWM')][0], file=sys.stderr)\n")


def measure_process(s: Settings, log) -> dict:
    """Wall time and peak RSS (VmHWM, read by the process itself: rusage would report the forking parent's) of one
    `python -m kb.search` process answering the 40 bench queries (hybrid)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    where = (["--milvus-uri", s.milvus_uri, "--milvus-collection", s.milvus_collection] if s.backend == "milvus"
             else ["--index-dir", str(s.index_dir)])
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", _PEAK, "--json", *where, *QUERIES], env=env, capture_output=True,
                       text=True)
    wall = time.perf_counter() - t
    peak = [line for line in r.stderr.splitlines() if line.startswith("VmHWM")]
    if r.returncode != 0 or not peak:
        raise RuntimeError(f"kb.search failed: {r.stderr[-500:]}")
    mb = round(int(peak[-1].split()[1]) / 1024, 1)
    log(f"{s.backend}: search process {wall:.1f} s, peak RSS {mb:.0f} MB")
    return {"process_s": round(wall, 2), "process_peak_rss_mb": mb}


def bench(n: int, work: Path, uri: str | None, rounds: int, log) -> dict:
    server = None
    if uri is None:
        server, uri = start_server(work / "milvus-data")
    try:
        log(f"pool: real e5 vectors of the evaluation posts; corpus: {n} sections")
        emb = PooledEmbedder(pool_vectors(work))
        content = work / "content"
        write_corpus(content, n)
        local = Settings.load(content, work / "index")
        settings = {"local": local, "milvus": replace(local, backend="milvus", milvus_uri=uri,
                                                      milvus_collection=f"bench{n}")}
        result: dict = {"sections": n, "machine": machine(), "milvus_uri": uri}
        result["build"] = measure_builds(settings, emb, content, log)
        indexes = {name: Index(backends.open_backend(s)) for name, s in settings.items()}
        result["queries"] = measure_queries(indexes, rounds, log)
        result["process"] = {name: measure_process(s, log) for name, s in settings.items()}
        if server is not None:
            result["milvus_server_mb"] = {"rss": _proc_mb(server.pid, "VmRSS"), "peak": _proc_mb(server.pid, "VmHWM")}
        result["index_bytes"] = sum(p.stat().st_size for p in (work / "index").rglob("*") if p.is_file())
        if server is not None:
            result["milvus_data_bytes"] = sum(p.stat().st_size for p in (work / "milvus-data").rglob("*")
                                              if p.is_file())
        return result
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)


def table(r: dict) -> str:
    b, q, p = r["build"], r["queries"]["latency_ms"], r["process"]
    rows = [("full build (everything but the model)", "full_build_s", "s"), ("no-op rebuild", "noop_rebuild_s", "s"),
            ("one-post edit", "edit_rebuild_s", "s")]
    lines = [f"| {r['sections']} sections | local | milvus |", "|---|---|---|"]
    lines += [f"| {label} | {b['local'][k]} {u} | {b['milvus'][k]} {u} |" for label, k, u in rows]
    lines += [f"| {m} query p50 / p95 | {q['local'][m]['p50']} / {q['local'][m]['p95']} ms | "
              f"{q['milvus'][m]['p50']} / {q['milvus'][m]['p95']} ms |" for m in MODES]
    lines.append(f"| `kb.search` process, 40 hybrid queries | {p['local']['process_s']} s, "
                 f"{p['local']['process_peak_rss_mb']} MB peak | {p['milvus']['process_s']} s, "
                 f"{p['milvus']['process_peak_rss_mb']} MB peak |")
    if "milvus_server_mb" in r:
        lines.append(f"| server memory | — | milvus-lite {r['milvus_server_mb']['rss']} MB "
                     f"(peak {r['milvus_server_mb']['peak']} MB) |")
    lines.append(f"| identical top-10 on both | {r['queries']['identical_top10']} | |")
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    p = ArgumentParser(prog="python -m benchmarks.backends", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sections", type=int, default=1000, help="sections in the synthetic corpus (default 1000)")
    p.add_argument("--milvus-uri", metavar="URI", help="use this Milvus server (default: start a milvus-lite one)")
    p.add_argument("--rounds", type=int, default=2, help="timed passes over the 40 queries per mode (default 2)")
    p.add_argument("--workdir", metavar="DIR", help="where to write the corpus and indexes (default: a temp folder)")
    p.add_argument("--json", action="store_true", help="end with one line: all figures as a JSON object")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="kb-bench-backends-"))
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    try:
        r = bench(args.sections, work, args.milvus_uri, args.rounds, lambda m: print(m, file=sys.stderr, flush=True))
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    print(table(r))
    if args.json:
        print(json.dumps(r, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    run(main)
