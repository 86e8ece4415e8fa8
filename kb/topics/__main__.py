"""`python -m kb.topics`: list the topics with their section counts, one topic's sections, or check the assignment
against labelled queries (the library part is kb.topics)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from kb.cli import Parser, add_backend_args, backend_settings, k_value, run
from kb.eval import opened_index
from kb.query import open_index
from kb.term import format_hits, visible
from kb.topics import EVAL_MAPPING, Topics, assign, check, load_topics, topic_hits


def parse_args(argv=None) -> argparse.Namespace:
    p = Parser(prog="python -m kb.topics", description="List the topics, one topic's sections "
                                "(newest first), or check the assignment. Topics are explained in the README.")
    p.add_argument("topic", nargs="?", metavar="NAME", help="list this topic's sections, newest first")
    p.add_argument("--index-dir", metavar="DIR", help="index folder (default: $KB_INDEX_DIR or index/)")
    p.add_argument("--content", metavar="DIR", help="content folder whose topics.toml to use "
                   "(default: $KB_CONTENT_DIR or content/; the shipped default if it has none)")
    p.add_argument("--topics-file", metavar="FILE", help="use this topics file instead")
    p.add_argument("-k", type=k_value, help="at most this many sections")
    p.add_argument("--json", action="store_true", help="JSON output")
    p.add_argument("--check", metavar="QUERIES", nargs="?", const="tests/eval/queries.jsonl",
                   help="precision/recall of the shipped topics against labelled topic queries (default "
                   "tests/eval/queries.jsonl); without --index-dir, on a scratch index of content/ + tests/eval/posts")
    add_backend_args(p)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    settings = backend_settings(args, args.content, args.index_dir)
    topics = load_topics(settings.content_dir, args.topics_file)
    if args.check:
        return _check(args, topics)
    index = open_index(settings=settings)
    a = assign(index, topics)
    if args.topic is None:
        rows = [{"name": t.name, "label": t.label, "sections": a.count(t.name)} for t in topics]
        if args.json:
            print(json.dumps({"source": str(topics.source), "topics": rows}, ensure_ascii=False))
        else:
            print(f"# topics from {visible(topics.source)}")
            for r in rows:
                print(f"{visible(r['name']):16s} {r['sections']:5d}  {visible(r['label'])}")
        return 0
    topic = topics.get(args.topic)
    hits = topic_hits(index, topic.name, topics, args.k)
    if args.json:
        print(json.dumps({"topic": topic.name, "label": topic.label, "results": [h.to_json() for h in hits]},
                         ensure_ascii=False))
    else:
        print(format_hits(f"topic {visible(topic.name)}: {visible(topic.label)}", hits))
    return 0


def _check(args, topics: Topics) -> int:
    with opened_index(args.index_dir, settings=backend_settings(args)) as index:
        result = check(index, Path(args.check), EVAL_MAPPING, topics)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    print(f"precision {result['precision']:.2f}  recall {result['recall']:.2f}  "
          f"(tp {result['tp']}, fp {result['fp']}, fn {result['fn']})")
    for name, t in result["topics"].items():
        print(f"  {name:16s} assigned {t['assigned']:3d}  labelled {t['labelled']:3d}  "
              f"tp {t['tp']:3d}  fp {t['fp']:3d}  fn {t['fn']:3d}")
    return 0


if __name__ == "__main__":
    run(main)
