"""The held-out check over several sets of unseen posts, pooled: runs tests/eval/heldout_check.py (of this checkout,
or of --checkout, a worktree of other code) on each DIR, one after another, and prints figures only: per set the topic
pages' micro precision / recall and whether the set meets the acceptance's topic targets and every target; pooled
over the sets, the topic pages overall, per topic and per the post's year.

    python tests/eval/heldout_pool.py DIR... [--checkout PATH] [--keep OUT]

--keep OUT writes each set's heldout_check output to OUT/NAME.txt.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from kb.topics import score as topic_score

EVAL = Path(__file__).resolve().parent
TOPICS = re.compile(r"micro precision ([\d.]+) recall ([\d.]+) \((\d+) right of (\d+) listed, (\d+) labelled")
PART = re.compile(r"^  (year \d+|\S+)\s+P [\d.]+ R [\d.]+\s+\((\d+)/(\d+)/(\d+)\)", re.M)
OFF = re.compile(r"no confident hit: (\d+)/(\d+)")
ON = re.compile(r"confident (\d+)/(\d+) = ([\d.]+); hybrid nDCG@10 ([\d.]+)")
TYPO = re.compile(r"misspelled: hybrid nDCG@10 ([\d.]+), confident top hit (\d+)/(\d+), keyword MRR@10 ([\d.]+)")


def check(text: str) -> tuple[float, float, bool, bool]:
    """(precision, recall, both topic targets, every target) of one heldout_check output."""
    t, off, on, ty = TOPICS.search(text), OFF.search(text), ON.search(text), TYPO.search(text)
    p, r = float(t[1]), float(t[2])
    topics = p >= topic_score.TARGET_PRECISION and r >= topic_score.TARGET_RECALL
    every = (topics and int(off[1]) >= int(off[2]) * 11 / 12 and float(on[3]) >= 0.95 and float(on[4]) >= 0.925
             and float(ty[1]) >= 0.88 and int(ty[2]) >= int(ty[3]) * 11 / 12 and float(ty[4]) >= 0.85)
    return p, r, topics, every


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python tests/eval/heldout_pool.py")
    p.add_argument("dirs", nargs="+")
    p.add_argument("--checkout", default=str(EVAL.parents[1]), help="the kb checkout whose heldout_check runs")
    p.add_argument("--keep", metavar="OUT")
    args = p.parse_args(argv)
    script = Path(args.checkout) / "tests" / "eval" / "heldout_check.py"
    pooled: dict = defaultdict(lambda: [0, 0, 0])
    topics = every = 0
    for d in args.dirs:
        run = subprocess.run([sys.executable, str(script), str(Path(d).resolve()), "--by-year"], capture_output=True,
                             text=True)
        if run.returncode or not TOPICS.search(run.stdout):
            print(f"{d}: heldout_check failed: {(run.stderr or run.stdout).strip().splitlines()[-1:]}")
            return 1
        if args.keep:
            Path(args.keep).mkdir(parents=True, exist_ok=True)
            (Path(args.keep) / f"{Path(d).name}.txt").write_text(run.stdout, encoding="utf-8")
        prec, rec, t, e = check(run.stdout)
        topics, every = topics + t, every + e
        print(f"{Path(d).name}: topic pages P {prec:.3f} R {rec:.3f}; both topic targets {'yes' if t else 'no'}; "
              f"every target {'yes' if e else 'no'}")
        m = TOPICS.search(run.stdout)
        for i, x in enumerate((m[3], m[4], m[5])):
            pooled["all"][i] += int(x)
        for part in PART.finditer(run.stdout):
            for i in range(3):
                pooled[part[1]][i] += int(part[2 + i])
    print(f"sets meeting both topic targets {topics} of {len(args.dirs)}, every target {every}")
    for name, (a, b, c) in pooled.items():
        print(f"pooled {name:14s} P {a / max(b, 1):.3f} R {a / max(c, 1):.3f}  ({a}/{b}/{c})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
