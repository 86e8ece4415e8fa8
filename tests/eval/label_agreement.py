"""How far two writers agree on a resource's topics: every pair of labelled sections in different splits that name
the same resource (kb.topics.prior.same_resource, as the prior's out-of-fold mask finds them), one writer's labels
scored as the other's answers. Parallel writers sometimes chose the same resource, each writing their own
commentary; their agreement is a ceiling of sorts for topic pages scored against one writer's labels.

    python tests/eval/label_agreement.py
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from kb.topics.prior import resource_key, resource_matches  # noqa: E402

LABELS = Path(__file__).resolve().parent / "topic_labels.jsonl"
TOPICS = ("nlp", "vision", "speech", "rl", "trading", "mlops", "courses-books", "korean")


def pairs(rows: list[dict]) -> list[tuple[set[str], set[str]]]:
    """(labels, labels) of every two sections in different splits that name one resource."""
    matches = resource_matches([resource_key(r["heading"]) for r in rows])
    return [(set(rows[i]["topics"]), set(rows[j]["topics"])) for i, js in enumerate(matches) for j in js
            if j > i and rows[i].get("split") != rows[j].get("split")]


def main() -> int:
    rows = [json.loads(x) for x in LABELS.read_text(encoding="utf-8").splitlines() if x.strip()]
    found = pairs(rows)
    same = sum(a == b for a, b in found)
    both, one = Counter(), Counter()
    for a, b in found:
        for t in TOPICS:
            both[t] += t in a and t in b
            one[t] += (t in a) != (t in b)
    agree = 2 * sum(both.values()) / (2 * sum(both.values()) + sum(one.values()))
    print(f"{len(found)} pairs of sections in different splits naming one resource; {same} with the same topics "
          f"({same / len(found):.3f})")
    print(f"micro agreement (one writer's labels as the other's answers: precision = recall = F1): {agree:.3f}")
    for t in TOPICS:
        if both[t] + one[t]:
            print(f"  {t:14s} F1 {2 * both[t] / (2 * both[t] + one[t]):.3f}  ({both[t]} pairs both, {one[t]} one only)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
