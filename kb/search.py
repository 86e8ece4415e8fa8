"""`python -m kb.search`: answer one or more queries from the built index (the model loads once for all)."""

from __future__ import annotations

import argparse
import json
import os

from kb.cli import ArgumentParser, k_value, run
from kb.term import line as _line


def parse_args(argv=None) -> argparse.Namespace:
    p = ArgumentParser(prog="python -m kb.search", description=__doc__)
    p.add_argument("queries", nargs="*", metavar="QUERY", help="one or more queries (none with --topic: list the topic)")
    p.add_argument("--index-dir", metavar="DIR", help="index folder (default: $KB_INDEX_DIR or index/)")
    p.add_argument("--mode", choices=["hybrid", "keyword", "semantic"], default="hybrid")
    p.add_argument("-k", type=k_value, default=10, help="results per query (default 10)")
    p.add_argument("--since", metavar="YYYY-MM-DD")
    p.add_argument("--until", metavar="YYYY-MM-DD")
    p.add_argument("--tag", action="append", default=[], help="only posts with this tag (repeatable: any of)")
    p.add_argument("--category", action="append", default=[], help="only posts in this category (repeatable)")
    p.add_argument("--topic", metavar="NAME", help="only sections of this topic (see python -m kb.topics); "
                   "without a query, the topic's sections newest first")
    p.add_argument("--content", metavar="DIR", help="content folder whose topics.toml to use (default: $KB_CONTENT_DIR "
                   "or content/; the shipped topics if it has none)")
    p.add_argument("--json", action="store_true", help="one JSON object per query per line")
    args = p.parse_args(argv)
    if not args.queries and not args.topic:
        p.error("give a QUERY, or --topic NAME to list a topic")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    import kb
    from kb.config import Settings

    settings = Settings.load(args.content, args.index_dir)
    # KB_MODEL, when set, must be the model the index was built with (else: one line saying how to rebuild).
    index = kb.open_index(settings.index_dir, model=os.environ.get("KB_MODEL") or None)
    rows = None
    if args.topic:
        from kb import browse, topics

        ts = topics.load_topics(settings.content_dir)
        rows = topics.assign(index, ts).rows(ts.get(args.topic).name)
        if not args.queries:
            listed = browse.filtered_rows(index, args.since, args.until, args.tag, args.category, rows=rows)
            hits = [browse.hit_for_row(index, r) for r in listed[: max(1, args.k)]]
            label = f"topic {args.topic}"
            print(json.dumps({"query": "", "topic": args.topic, "results": [h.to_json() for h in hits]},
                             ensure_ascii=False) if args.json else format_hits(label, hits))
    for q in args.queries:
        hits = index.search(q, mode=args.mode, k=args.k, since=args.since, until=args.until, tags=args.tag,
                            categories=args.category, rows=rows)
        if args.json:
            print(json.dumps({"query": q, "results": [h.to_json() for h in hits]}, ensure_ascii=False), flush=True)
        else:
            print(format_hits(q, hits))
    return 0


def format_hits(query: str, hits) -> str:
    lines = [f"# {_line(query)}  ({len(hits)} result{'s' if len(hits) != 1 else ''})"]
    for i, h in enumerate(hits, 1):
        legs = "  ".join(f"{k}={v:.3f}" for k, v in h.scores.items())
        lines.append(f"{i:2d}. {_line(h.heading)}  —  {_line(h.post_title)} · {_line(h.date) or 'no date'}")
        if h.url:
            lines.append(f"    {_line(h.url)}")
        if h.snippet:
            lines.append(f"    {_line(h.snippet)}")
        lines.append(f"    [{_line(h.path)}]  {legs}")
    if not hits:
        lines.append("    no results (try --mode semantic, or fewer filters)")
    return "\n".join(lines)


if __name__ == "__main__":
    run(main)
