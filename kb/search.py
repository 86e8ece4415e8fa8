"""`python -m kb.search`: answer one or more queries from the built index (the model loads once for all)."""

from __future__ import annotations

import argparse
import json
import os

import kb
from kb import topics
from kb.cli.args import ArgumentParser, add_backend_args, backend_settings, k_value, run
from kb.cli.term import format_hits
from kb.core.config import Settings
from kb.core.errors import KbError
from kb.query import browse, explain


def parse_args(argv=None) -> argparse.Namespace:
    p = ArgumentParser(prog="python -m kb.search", description=__doc__)
    p.add_argument("queries", nargs="*", metavar="QUERY", help="one or more queries")
    p.add_argument("--index-dir", metavar="DIR", help="index folder (default: $KB_INDEX_DIR or index/)")
    p.add_argument("--mode", choices=["hybrid", "keyword", "semantic"], default="hybrid",
                   help="hybrid (default): words and meaning; keyword: words only; semantic: meaning only")
    p.add_argument("-k", type=k_value, default=10, help="results per query (default 10, at most 1000)")
    p.add_argument("--since", metavar="YYYY-MM-DD", help="only posts from this date on")
    p.add_argument("--until", metavar="YYYY-MM-DD", help="only posts up to this date")
    p.add_argument("--tag", action="append", default=[], help="only posts with this tag (repeat: any of)")
    p.add_argument("--category", action="append", default=[], help="only posts in this category (repeat: any of)")
    p.add_argument("--topic", metavar="NAME", help="only this topic's sections (no QUERY: list them, newest first)")
    p.add_argument("--content", metavar="DIR", help="content folder whose topics.toml to use (default: content/)")
    p.add_argument("--explain", action="store_true", help="show each leg's score and rank under every hit")
    p.add_argument("--json", action="store_true", help="one JSON object per query per line")
    add_backend_args(p)
    args = p.parse_args(argv)
    if not args.queries and not args.topic:
        p.error("give a QUERY, or --topic NAME to list a topic")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    settings = backend_settings(args, args.content, args.index_dir)
    # KB_MODEL, when set, must be the model the index was built with (else: one line saying how to rebuild).
    index = kb.open_index(settings=settings, model=os.environ.get("KB_MODEL") or None)
    rows = None
    if args.topic:
        ts = topics.load_topics(settings.content_dir)
        rows = topics.assign(index, ts).rows(ts.get(args.topic).name)
        if not args.queries:
            listed = browse.filtered_rows(index, args.since, args.until, args.tag, args.category, rows=rows)
            hits = [index.hit(r) for r in listed[: args.k]]
            print(json.dumps({"query": "", "topic": args.topic, "results": [h.to_json() for h in hits]},
                             ensure_ascii=False) if args.json else format_hits(f"topic {args.topic}", hits))
    for q in args.queries:
        hits = index.search(q, mode=args.mode, k=args.k, since=args.since, until=args.until, tags=args.tag,
                            categories=args.category, rows=rows)
        dym = getattr(hits, "did_you_mean", None)
        if args.json:
            print(json.dumps({"query": q, "did_you_mean": dym, "results": [h.to_json() for h in hits]},
                             ensure_ascii=False), flush=True)
        else:
            print(format_hits(f"{q}  ({args.mode})", hits, explain=args.explain, why=_why(index, q, settings, dym),
                              empty_hint="try --mode semantic, or fewer filters", did_you_mean=dym))
    return 0


def _why(index, query: str, settings: Settings, meant: str | None = None):
    """'Why this result' lines for --explain (topics from the content folder's topics file, if it loads; `meant`: the
    query as corrected, "Did you mean")."""
    def lines(hit) -> list[str]:
        try:
            ts = topics.load_topics(settings.content_dir)
            labels = [t.label for t in topics.assign(index, ts).topics_of(hit.row)]
        except KbError:
            labels = []
        return explain.why(hit, query, index.sections[hit.row], labels, meant).lines()
    return lines


if __name__ == "__main__":
    run(main)
