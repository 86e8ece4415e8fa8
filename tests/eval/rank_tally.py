"""Totals of a `rank_report.py --floor` output (its table and its off-topic lines), over every set or a range of the
helpers' sets: hybrid clean nDCG@10 (weighted by query), clean on-topic top hits confident, misspelled queries (every
kind starting "typo", ours' human typos too), off-topic queries quiet, topic and short queries, and the sets meeting
the acceptance's three floor targets (≥ 95% of clean top hits confident, ≥ 11 of 12 off-topic queries quiet and ≥ 11
of 12 misspelled top hits confident, scaled to the set's counts).

    python tests/eval/rank_report.py --floor --work DIR > REPORT
    python tests/eval/rank_tally.py REPORT [--sets 182-193] [--upto 181]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict

ROW = re.compile(r"\| (\S+) \| (.+?) \| (\d+) \| ([\d.]+) \| (\d+)/(\d+) \| (\d+)/(\d+) \|")
OFF = re.compile(r"(\S+): off-topic with no confident hit (\d+)/(\d+)")


def number(name: str) -> int | None:
    """The helper set's number (external → 1, externalN → N); None for ours."""
    if name == "external":
        return 1
    return int(name[8:]) if name.startswith("external") and name[8:].isdigit() else None


def tally(lines, keep=lambda name: True) -> dict:
    kinds: dict = defaultdict(lambda: defaultdict(lambda: [0, 0.0, 0]))     # set → kind → [n, Σ nDCG, confident]
    off: dict = {}
    for line in lines:
        if m := ROW.match(line):
            if keep(m[1]):
                row = kinds[m[1]][m[2]]
                row[0] += int(m[3])
                row[1] += float(m[4]) * int(m[3])
                row[2] += int(m[5])
        elif (m := OFF.match(line)) and keep(m[1]):
            off[m[1]] = (int(m[2]), int(m[3]))

    def total(pick) -> tuple[int, float, int]:
        rows = [r for s in kinds for k, r in kinds[s].items() if pick(k)]
        n = sum(r[0] for r in rows)
        return n, sum(r[1] for r in rows) / max(n, 1), sum(r[2] for r in rows)

    def meets(s: str) -> bool:
        clean = kinds[s]["all (clean)"]
        typos = [r for k, r in kinds[s].items() if k.startswith("typo")]
        tn, tc = sum(r[0] for r in typos), sum(r[2] for r in typos)
        quiet, asked = off.get(s, (0, 0))
        return clean[2] >= 0.95 * clean[0] and quiet >= asked * 11 / 12 - 1e-9 and tc >= tn * 11 / 12 - 1e-9

    return {"sets": len(kinds), "clean": total(lambda k: k == "all (clean)"),
            "typo": total(lambda k: k.startswith("typo")), "topic": total(lambda k: k == "topic"),
            "short": total(lambda k: k == "short"), "quiet": sum(q for q, _ in off.values()),
            "off": sum(a for _, a in off.values()), "meeting": sum(meets(s) for s in kinds)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python tests/eval/rank_tally.py")
    p.add_argument("report")
    p.add_argument("--sets", metavar="A-B", help="only the helpers' sets numbered A to B")
    p.add_argument("--upto", type=int, metavar="N", help="ours and the helpers' sets numbered up to N")
    args = p.parse_args(argv)
    keep = lambda name: True     # noqa: E731
    if args.sets:
        a, b = (int(x) for x in args.sets.split("-"))
        keep = lambda name: (n := number(name)) is not None and a <= n <= b     # noqa: E731
    elif args.upto:
        keep = lambda name: (n := number(name)) is None or n <= args.upto     # noqa: E731
    with open(args.report, encoding="utf-8") as f:
        t = tally(f, keep)
    (n, nd, c), (tn, tnd, tc) = t["clean"], t["typo"]
    print(f"{t['sets']} sets: clean nDCG@10 {nd:.4f}, top hit confident {c}/{n}; misspelled nDCG@10 {tnd:.4f}, "
          f"confident {tc}/{tn}; off-topic quiet {t['quiet']}/{t['off']}; topic {t['topic'][1]:.4f}; "
          f"short {t['short'][1]:.4f}; sets meeting the floor targets {t['meeting']}/{t['sets']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
