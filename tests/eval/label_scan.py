"""How often a pattern means a topic in the labelled posts: the labelled sections whose heading (or, with --text, heading
and commentary) match a regular expression, and how many of them their writers put in the topic. Reads
tests/eval/topic_labels.jsonl and the posts of every split (kb.topics.SPLITS); no model, no index.

    python tests/eval/label_scan.py "minimax|exaone" nlp [--text] [--show 20]
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from kb.topics import LABELS_FILE, SPLITS


def sections(folder: Path):
    """(post file name, heading, commentary) of each `### ` section of the folder's posts."""
    for f in sorted(folder.glob("*.md")):
        for part in re.split(r"(?m)^### ", f.read_text(encoding="utf-8"))[1:]:
            heading, _, body = part.partition("\n")
            yield f.name, heading.strip(), body


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("pattern")
    ap.add_argument("topic")
    ap.add_argument("--text", action="store_true", help="match the commentary too, not only the heading")
    ap.add_argument("--show", type=int, default=0, help="list this many matching sections")
    args = ap.parse_args(argv)
    labels = {}
    for line in open(LABELS_FILE, encoding="utf-8"):
        d = json.loads(line)
        labels[(d["split"], d["post"], d["heading"])] = set(d["topics"])
    rx = re.compile(args.pattern, re.I)
    found = []
    for split, folders in SPLITS.items():
        for folder in folders:
            for post, heading, body in sections(Path(folder)):
                topics = labels.get((split, post, heading))
                if topics is not None and rx.search(heading + ("\n" + body if args.text else "")):
                    found.append((args.topic in topics, heading, sorted(topics)))
    print(f"{len(found)} labelled sections match, {sum(f[0] for f in found)} of them labelled {args.topic}")
    for hit, heading, topics in found[: args.show]:
        print(f"  {'+' if hit else '-'} {heading}  {topics}")


if __name__ == "__main__":
    main()
