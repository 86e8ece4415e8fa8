"""The by-split rule, forward in time: for each later batch of eight splits (external30–37, 38–45, …), choose the
rival weight and offset by the rule of `python -m kb.topics --check --by-split` on the splits written before it only
(all of them, or only the latest K), then score the batch at that choice — as kb is used: chosen today, judged on
the posts of the next writers. Reads the --json output of a run with several rival weights; no model, no index.

    python -m kb.topics --check --by-split --rival 0,0.1,0.2,0.3 --json > bysplit.json
    python tests/eval/bysplit_forward.py bysplit.json [--batches 30,38,46,54]
"""

from __future__ import annotations

import argparse
import json
import re

from bysplit_nested import choose

from kb.topics import meets


def _number(split: str) -> int:
    m = re.match(r"external(\d*)$", split)
    return int(m.group(1) or 1) if m else 0


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("path")
    ap.add_argument("--batches", default="30,38,46,54", help="the first split number of each batch of eight")
    args = ap.parse_args(argv)
    by_weight = json.load(open(args.path, encoding="utf-8"))["rivals"]
    weights = list(by_weight)
    splits = sorted(by_weight[weights[0]]["by_split"], key=_number)
    for latest in (None, 8, 16, 24):
        met = n = 0
        p = r = 0.0
        picks = []
        for start in (int(x) for x in args.batches.split(",")):
            batch = [s for s in splits if start <= _number(s) < start + 8]
            before = [s for s in splits if _number(s) < start]
            w, i = choose(by_weight, before[-latest:] if latest else before, weights)
            rows = [by_weight[w]["by_split"][s][i] for s in batch]
            met, n = met + sum(meets(x) for x in rows), n + len(rows)
            p, r = p + sum(x["precision"] for x in rows), r + sum(x["recall"] for x in rows)
            picks.append(f"{w}/{rows[0]['offset']:+.1f}")
        print(f"chosen on {'every earlier split' if latest is None else f'the latest {latest}'}: {met} of {n} "
              f"later splits meet both targets, mean precision {p / n:.3f} recall {r / n:.3f}; choices {', '.join(picks)}")


if __name__ == "__main__":
    main()
