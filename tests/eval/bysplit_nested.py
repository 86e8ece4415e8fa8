"""The by-split rule, nested: for each split, choose the rival weight and threshold offset by the rule of
`python -m kb.topics --check --by-split` (the most splits reaching precision 0.92 and recall CHOICE_RECALL at mean
precision ≥ the floor, ties to the best mean recall) on the other splits only, then score the split at that choice
against both targets (0.92 / 0.90). Reads the --json output of a run with several rival weights; no model, no
index.

    python -m kb.topics --check --by-split --rival 0,0.3,0.5,0.8 --json > bysplit.json
    python tests/eval/bysplit_nested.py bysplit.json
"""

from __future__ import annotations

import json
import sys

from kb.topics import meets
from kb.topics import score as topic_score


def choose(by_weight: dict, splits: list[str], weights: list[str]) -> tuple[str, int] | None:
    """(weight, row) the rule picks on these splits' rows."""
    best = None
    for w in weights:
        rows = [by_weight[w]["by_split"][s] for s in splits]
        for i in range(len(rows[0])):
            p = sum(r[i]["precision"] for r in rows) / len(rows)
            rc = sum(r[i]["recall"] for r in rows) / len(rows)
            meet = sum(meets(r[i], topic_score.CHOICE_RECALL) for r in rows)
            if p >= topic_score.PRECISION_FLOOR and (best is None or (meet, rc, p) > best[0]):
                best = ((meet, rc, p), w, i)
    return None if best is None else best[1:]


def main(path: str) -> None:
    by_weight = json.load(open(path, encoding="utf-8"))["rivals"]
    weights = list(by_weight)
    splits = list(by_weight[weights[0]]["by_split"])
    for chosen_from in [weights, *([w] for w in weights)]:
        p = r = met = 0.0
        picks: dict = {}
        for s in splits:
            w, i = choose(by_weight, [x for x in splits if x != s], chosen_from)
            row = by_weight[w]["by_split"][s][i]
            p, r, met = p + row["precision"], r + row["recall"], met + meets(row)
            picks[(w, row["offset"])] = picks.get((w, row["offset"]), 0) + 1
        n = len(splits)
        print(f"rival weight chosen from {', '.join(chosen_from)}: left-out splits meeting both targets "
              f"{int(met)} of {n}, mean precision {p / n:.3f} recall {r / n:.3f}; choices (weight, offset): "
              + ", ".join(f"{w}/{o:.1f} ×{c}" for (w, o), c in sorted(picks.items())))


if __name__ == "__main__":
    main(sys.argv[1])
