"""`python -m kb.eval`: print retrieval quality per mode (the library part is kb.eval)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from kb.cli.args import ArgumentParser, add_backend_args, backend_settings, run
from kb.eval import (
    DEFAULT_OFFTOPIC,
    MODES,
    evaluate,
    format_floor,
    format_table,
    load_queries,
    opened_index,
    relevance_floor,
    suggestions,
)


def parse_args(argv=None):
    p = ArgumentParser(prog="python -m kb.eval", description="Retrieval quality (MRR@10, nDCG@10, Recall@5) per mode on a labelled query set; see docs/eval.md.",
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--queries", default="tests/eval/queries.jsonl")
    p.add_argument("--posts", action="append", metavar="DIR",
                   help="post folders to index (default: content/ and tests/eval/posts)")
    p.add_argument("--index-dir", metavar="DIR", help="evaluate this already-built index instead")
    p.add_argument("--model", metavar="NAME", help="embedding model for the scratch index")
    p.add_argument("--mode", action="append", choices=MODES, help="modes to run (default: all)")
    p.add_argument("--keyword-weight", type=float, help="hybrid: weight of the keyword leg (default 0.3)")
    p.add_argument("--fusion", choices=["convex", "convex-minmax", "rrf"], default="convex")
    p.add_argument("--no-glossary", action="store_true", help="turn the glossary query expansion off")
    p.add_argument("--semantic-min-range", type=float,
                   help="hybrid: the smallest cosine spread min-max stretches to [0, 1] (default 0.12; 0 = plain min-max)")
    p.add_argument("--query-vector", choices=["mean", "spelled", "plain"],
                   help="how a short query's glossary synonyms enter its embedding (default: mean; see kb.embed.queryvec)")
    p.add_argument("--full-match-bonus", type=float, help="hybrid: bonus of a section whose heading or first "
                   "sentence holds every query word (default 0.15; 0 = off)")
    p.add_argument("--no-typos", action="store_true", help="turn typo tolerance off (kb.query.typos)")
    p.add_argument("--title-margin", type=float, help="margin a referenced-title vector must win by (default 0.03)")
    p.add_argument("--relevance", nargs="?", const=DEFAULT_OFFTOPIC, metavar="OFFTOPIC",
                   help="instead of ranking: how well weak flags separate the queries from off-topic ones "
                   f"(default {DEFAULT_OFFTOPIC})")
    p.add_argument("--did-you-mean", nargs="?", const="tests/eval/typos.jsonl", metavar="MISSPELLED",
                   help="instead of ranking: how often 'Did you mean' offers the intended query on misspelled queries "
                   "(default tests/eval/typos.jsonl) and anything on the --queries and off-topic ones")
    p.add_argument("--json", action="store_true")
    add_backend_args(p)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    queries = load_queries(Path(args.queries))
    with opened_index(args.index_dir, args.posts, args.model, backend_settings(args)) as index:
        kw = {"fusion_method": args.fusion, "expand": not args.no_glossary}
        index.typos.enabled = not args.no_typos
        if args.full_match_bonus is not None:
            index.full_match_bonus = args.full_match_bonus
        if args.title_margin is not None:
            index.title_margin = args.title_margin
        if args.query_vector:
            index.query_vector_mode = args.query_vector
        if args.semantic_min_range is not None:
            index.semantic_min_range = args.semantic_min_range
        if args.keyword_weight is not None:
            kw["keyword_weight"] = args.keyword_weight
        if args.did_you_mean:
            s = suggestions(index, load_queries(Path(args.did_you_mean)),
                            queries + load_queries(Path(DEFAULT_OFFTOPIC)), (args.mode or ["hybrid"])[0])
            print(json.dumps(vars(s), ensure_ascii=False) if args.json else
                  f"misspelled: {s.right} right, {s.wrong} wrong, {s.none} none of {s.right + s.wrong + s.none}; "
                  f"clean: {s.false} false of {s.clean}\n" + "\n".join(s.offered))
            return 0
        if args.relevance:
            floor = relevance_floor(index, queries, load_queries(Path(args.relevance)), tuple(args.mode or MODES), **kw)
            print(json.dumps({m: vars(f) for m, f in floor.items()}, ensure_ascii=False) if args.json
                  else format_floor(floor))
            return 0
        result = evaluate(index, queries, tuple(args.mode or MODES), **kw)
    if args.json:
        print(json.dumps({m: {k: vars(s) for k, s in v.items()} for m, v in result.items()}))
    else:
        print(f"{len(queries)} queries, {len(index)} sections, model {index.model_name}\n")
        print(format_table(result))
    return 0


if __name__ == "__main__":
    run(main)
