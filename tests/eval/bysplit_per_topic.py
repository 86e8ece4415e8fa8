"""One threshold offset per topic against one for all, from the --json of a by-split run: each topic takes the
offset (of the run's grid) with the best recall whose precision, pooled over the splits, stays ≥ the floor; each
split is then scored by adding every topic's counts at its own offset. Reported in sample and leaving one split
out (the offsets chosen on the others). An approximation: the run scored every offset for all topics at once, so
how a topic's own offset moves its rivals is not seen. No model, no index.

    python -m kb.topics --check --by-split --rival 0.3 --json > bysplit.json
    python tests/eval/bysplit_per_topic.py bysplit.json 0.3
"""

from __future__ import annotations

import json
import sys

from bysplit_nested import choose

from kb.topics import meets as row_meets
from kb.topics import score as topic_score

FLOORS = (0.93, 0.935, 0.94, 0.95)


def split_pr(rows: list[dict], choice: dict[str, int]) -> tuple[float, float]:
    """A split's micro precision and recall with topic t at row choice[t]."""
    tp = fp = fn = 0
    for t, i in choice.items():
        c = rows[i]["topics"].get(t)
        if c is not None:
            tp, fp, fn = tp + c["tp"], fp + c["fp"], fn + c["fn"]
    return tp / max(tp + fp, 1), tp / max(tp + fn, 1)


def meets(p: float, r: float) -> bool:
    return row_meets({"precision": p, "recall": r})


def one_offset(by_split: dict, splits: list[str], topics: list[str], floor: float) -> dict[str, int]:
    """The by-split rule (tests/eval/bysplit_nested.py's choose, at this floor): one row for every topic."""
    saved, topic_score.PRECISION_FLOOR = topic_score.PRECISION_FLOOR, floor
    try:
        picked = choose({"w": {"by_split": by_split}}, splits, ["w"])
    finally:
        topic_score.PRECISION_FLOOR = saved
    return dict.fromkeys(topics, picked[1] if picked else 0)


def per_topic(by_split: dict, splits: list[str], topics: list[str], floor: float) -> dict[str, int]:
    """Each topic's row: the best pooled recall whose pooled precision stays ≥ floor (the first row if none)."""
    out = {}
    for t in topics:
        best = None
        for i in range(len(by_split[splits[0]])):
            c = [by_split[s][i]["topics"].get(t, {"tp": 0, "fp": 0, "fn": 0}) for s in splits]
            tp, fp, fn = (sum(x[k] for x in c) for k in ("tp", "fp", "fn"))
            p, r = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
            if p >= floor and (best is None or (r, p) > best[0]):
                best = ((r, p), i)
        out[t] = best[1] if best else 0
    return out


def summary(by_split: dict, splits: list[str], choice: dict[str, int]) -> tuple[float, float, int]:
    prs = [split_pr(by_split[s], choice) for s in splits]
    return (sum(x[0] for x in prs) / len(prs), sum(x[1] for x in prs) / len(prs), sum(meets(*x) for x in prs))


def main(path: str, weight: str) -> None:
    by_split = json.load(open(path, encoding="utf-8"))["rivals"][weight]["by_split"]
    splits = list(by_split)
    topics = list(by_split[splits[0]][0]["topics"])
    offsets = [r["offset"] for r in by_split[splits[0]]]
    for name, rule in (("one offset", one_offset), ("per topic", per_topic)):
        for floor in FLOORS:
            choice = rule(by_split, splits, topics, floor)
            p, r, met = summary(by_split, splits, choice)
            nested = [summary(by_split, [s], rule(by_split, [x for x in splits if x != s], topics, floor))
                      for s in splits]
            print(f"{name}, floor {floor}: in sample P {p:.3f} R {r:.3f}, {met} of {len(splits)} meet both; "
                  f"leaving one split out {sum(x[2] for x in nested)} meet both "
                  f"(P {sum(x[0] for x in nested) / len(splits):.3f} R {sum(x[1] for x in nested) / len(splits):.3f}); "
                  "offsets " + ", ".join(f"{t} {offsets[i]:+.1f}" for t, i in choice.items()))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
