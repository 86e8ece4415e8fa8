"""Every misspelled query set, each on an index of its own posts, in one process: hybrid nDCG@10, confident top
hybrid hits, keyword MRR@10 and "Did you mean" offered (right / offered where the set says what was meant), and
the false corrections: the clean and off-topic queries of each set that are offered a "Did you mean".

    python tests/eval/typo_all.py [--work DIR] [-v]
    python tests/eval/typo_all.py --time       # median ms of the corrections and of a search, misspelled and clean

The sets are rank_report.py's (kb's own posts and the helpers' external … external8, with their typos.jsonl) plus
the random slips (slips.jsonl, slips-18.jsonl) and external/typos_fresh.jsonl; the indexes are built once into
--work (shared with rank_report.py's default) and reused. `-v` lists each misspelled query not ranked perfectly or
corrected, with its correction, and each false correction.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import rank_report  # noqa: E402

from kb.eval import load_queries, metrics  # noqa: E402

EVAL = rank_report.EVAL
EXTRA = [("ours", EVAL / "slips.jsonl"), ("ours", EVAL / "slips-18.jsonl"), ("external", EVAL / "external" / "slips.jsonl"),
         ("external", EVAL / "external" / "slips-18.jsonl"), ("external", EVAL / "external" / "typos_fresh.jsonl"),
         ("external2", EVAL / "external2" / "slips.jsonl"), ("external2", EVAL / "external2" / "slips-18.jsonl")]


def _ranked(hits) -> list[tuple[str, str]]:
    return [(Path(h.path).name, h.heading) for h in hits]


def misspelled(index, name: str, path: Path, verbose: bool) -> str:
    """One line of figures for a misspelled set (and with `verbose` a line per query worth reading)."""
    nd, mrr, conf, offered, right = [], [], 0, 0, 0
    for q in load_queries(path):
        want = {(r["post"], r["heading"]) for r in q["relevant"]}
        hy, kw = index.search(q["query"], mode="hybrid", k=10), index.search(q["query"], mode="keyword", k=10)
        nd.append(metrics(_ranked(hy), want)[1])
        mrr.append(metrics(_ranked(kw), want)[0])
        sure = bool(hy) and not hy[0].weak
        conf += sure
        offered += hy.did_you_mean is not None
        right += bool(q.get("intended")) and (hy.did_you_mean or "").lower() == q["intended"].lower()
        fix = index.typos.correct(q["query"])
        if verbose and (nd[-1] < 0.99 or mrr[-1] < 0.99 or not sure or fix is not None):
            print(f"    {name} {path.name} nDCG {nd[-1]:.2f} kwMRR {mrr[-1]:.2f} {'confident' if sure else 'weak'} "
                  f"{q['query']!r} corrected {fix and fix.words} did you mean {hy.did_you_mean!r}")
    n = len(nd)
    intended = f" ({right} as meant)" if any("intended" in q for q in load_queries(path)) else ""
    return (f"| {name} | {path.relative_to(EVAL)} | {n} | {sum(nd) / n:.3f} | {conf}/{n} | {sum(mrr) / n:.3f} | "
            f"{offered}{intended} |")


def false_corrections(index, name: str, paths: list[Path], verbose: bool) -> str:
    """The clean and off-topic queries of a set offered a "Did you mean"."""
    asked, offered = 0, []
    for path in paths:
        for q in load_queries(path):
            asked += 1
            if (dym := index.search(q["query"], mode="hybrid", k=10).did_you_mean) is not None:
                offered.append(f"{q['query']!r} → {dym!r}")
    if verbose:
        for line in offered:
            print(f"    {name} false: {line}")
    return f"| {name} | {asked} | {len(offered)} | {'; '.join(offered)} |"


def timing(index) -> str:
    """Median milliseconds, on our posts' index after one warm-up pass (query vectors cached): correcting each
    misspelled query of our three tuning sets, searching it in keyword and hybrid mode, and a clean query in hybrid."""
    typed = [q["query"] for f in ("typos.jsonl", "typos_human.jsonl", "slips.jsonl") for q in load_queries(EVAL / f)]
    clean = [q["query"] for q in load_queries(EVAL / "queries.jsonl")]
    for q in typed + clean:
        index.search(q, mode="hybrid", k=10)

    def median(f, queries) -> float:
        took = []
        for q in queries:
            start = time.perf_counter()
            f(q)
            took.append((time.perf_counter() - start) * 1000)
        return statistics.median(took)

    return (f"correct {median(index.typos.correct, typed):.3f} ms, keyword "
            f"{median(lambda q: index.search(q, mode='keyword', k=10), typed):.2f} ms, hybrid "
            f"{median(lambda q: index.search(q, mode='hybrid', k=10), typed):.2f} ms, clean hybrid "
            f"{median(lambda q: index.search(q, mode='hybrid', k=10), clean):.2f} ms")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python tests/eval/typo_all.py")
    p.add_argument("--work", default="/tmp/kb-rank-report", help="where the indexes are built and kept")
    p.add_argument("-v", action="store_true", dest="verbose")
    p.add_argument("--time", action="store_true", help="only the timings (see timing)")
    args = p.parse_args(argv)
    idx = rank_report.indexes(Path(args.work))
    if args.time:
        print(timing(idx["ours"]))
        return 0
    sets = [(name, path) for name, (_, files, _) in rank_report.SETS.items()
            for path, prefix in files if prefix.startswith("typo")] + EXTRA
    lines = ["| posts | set | n | hybrid nDCG@10 | confident top | keyword MRR@10 | did you mean offered |",
             "|---|---|---|---|---|---|---|"]
    lines += [misspelled(idx[name], name, path, args.verbose) for name, path in sets]
    lines += ["", "| posts | clean + off-topic queries | offered a Did you mean | which |", "|---|---|---|---|"]
    for name, (_, files, off) in rank_report.SETS.items():
        clean = [path for path, prefix in files if not prefix.startswith("typo")]
        lines.append(false_corrections(idx[name], name, clean + off, args.verbose))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
