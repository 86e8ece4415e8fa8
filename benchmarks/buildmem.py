"""`python -m benchmarks.buildmem --content DIR --index DIR --pool-index DIR`: where a full build's time and memory go.

A full `build_index` over the content folder with the bench's pooled embedder (vectors from the real e5 vectors of
`--pool-index`, e.g. the bench's W/sample-index), the process's RSS sampled every 20 ms; each stage of the build
prints when it starts, how long it took, RSS before and after and the peak sampled inside it (a stage inside
another restarts the peak: read write_segment's from its inner stages). `--index` must not
exist yet (it is built from scratch)."""

from __future__ import annotations

import argparse
import resource
import threading
import time
from pathlib import Path

import kb
import kb.build.local as local
import kb.storage.segment as segment
from benchmarks.bench import all_vectors
from benchmarks.harness import PooledEmbedder, _settings

# stages of this checkout's build, and of earlier ones (a name the build lacks is skipped)
STAGES = [(local, "load_corpus"), (local, "_sentences"), (local, "_embed"), (local, "embed_with_reuse"), (local, "_plan"),
          (local, "write_segment"),
          (segment, "_write_sentences"), (segment, "write_terms"), (segment, "write_postings"), (segment, "build_ann")]


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 1e6


class Sampler:
    def __init__(self):
        self.peak = 0.0
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            self.peak = max(self.peak, _rss_mb())
            time.sleep(0.02)


def _wrap(mod, name: str, sampler: Sampler, t0: float) -> None:
    f = getattr(mod, name, None)
    if f is None:
        return

    def timed(*a, **k):
        start, before = time.perf_counter(), _rss_mb()
        sampler.peak = before
        out = f(*a, **k)
        print(f"{name:18s} at {start - t0:6.1f} s took {time.perf_counter() - start:6.2f} s  RSS {before:6.0f} → "
              f"{_rss_mb():6.0f} MB, peak inside {sampler.peak:6.0f} MB", flush=True)
        return out

    setattr(mod, name, timed)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.buildmem", description=__doc__)
    p.add_argument("--content", required=True, type=Path)
    p.add_argument("--index", required=True, type=Path)
    p.add_argument("--pool-index", required=True, type=Path, help="an index of real e5 vectors (W/sample-index)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    emb = PooledEmbedder(all_vectors(kb.open_index(args.pool_index)))
    sampler, t0 = Sampler(), time.perf_counter()
    for mod, name in STAGES:
        _wrap(mod, name, sampler, t0)
    report = local.build_index(_settings(args.content, args.index), full=True, embedder=emb)
    print(f"{report.summary()}; pooled embedding {emb.seconds:.1f} s; "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
