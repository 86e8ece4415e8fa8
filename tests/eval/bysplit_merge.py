"""Join the --json outputs of `python -m kb.topics --check --by-split --shard I/N` runs into the output one run over
every split gives (the per-split rows as they are; the mean, every split's sum and the choice computed again).
No model, no index.

    python -m kb.topics --check --by-split --rival 0.2,0.4 --shard 0/2 --json > a.json   # and --shard 1/2 > b.json
    python tests/eval/bysplit_merge.py a.json b.json > bysplit.json
"""

from __future__ import annotations

import json
import sys

from kb.topics import SPLITS, mean_rows, most_splits_meeting, offset_rows


def merged(by_split: dict[str, list[dict]]) -> dict:
    """One rival weight's report from its per-split rows (in SPLITS order)."""
    order = list(SPLITS)
    by_split = dict(sorted(by_split.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)))
    counts: dict = {}
    for rows in by_split.values():
        for row in rows:
            at = counts.setdefault(row["offset"], {})
            for name, c in [(None, row), *row["topics"].items()]:
                old = at.get(name, (0, 0, 0))
                at[name] = (old[0] + c["tp"], old[1] + c["fp"], old[2] + c["fn"])
    mean = mean_rows(by_split)
    return {"by_split": by_split, "mean": mean, "all": offset_rows(counts, list(counts)),
            "chosen": most_splits_meeting(mean)}


def main(paths: list[str]) -> None:
    runs = [json.load(open(p, encoding="utf-8")) for p in paths]
    runs = [r["rivals"] if "rivals" in r else {"only": r} for r in runs]
    weights = list(runs[0])
    out = {w: merged({s: rows for r in runs for s, rows in r[w]["by_split"].items()}) for w in weights}
    print(json.dumps(out["only"] if weights == ["only"] else {"rivals": out}, ensure_ascii=False))


if __name__ == "__main__":
    main(sys.argv[1:])
