"""Join the --json outputs of `python -m kb.topics --check --by-split --shard I/N` runs into the output one run over
every split gives (the per-split rows as they are; the mean, every split's sum and the choice computed again).
No model, no index.

    python -m kb.topics --check --by-split --rival 0.2,0.4 --shard 0/2 --json > a.json   # and --shard 1/2 > b.json
    python tests/eval/bysplit_merge.py a.json b.json > bysplit.json
"""

from __future__ import annotations

import json
import sys

from kb.topics import SPLITS, split_report


def merged(by_split: dict[str, list[dict]]) -> dict:
    """One rival weight's report from its per-split rows, the splits in SPLITS order (kb.topics.split_report)."""
    order = list(SPLITS)
    return split_report(dict(sorted(by_split.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order
                                    else len(order))))


def main(paths: list[str]) -> None:
    runs = [json.load(open(p, encoding="utf-8")) for p in paths]
    runs = [r["rivals"] if "rivals" in r else {"only": r} for r in runs]
    weights = list(runs[0])
    out = {w: merged({s: rows for r in runs for s, rows in r[w]["by_split"].items()}) for w in weights}
    print(json.dumps(out["only"] if weights == ["only"] else {"rivals": out}, ensure_ascii=False))


if __name__ == "__main__":
    main(sys.argv[1:])
