"""`python -m kb.topics`: list the topics with their section counts, one topic's sections, correct a topic, or
check the assignment against labelled sections (the library part is kb.topics)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from kb.cli.args import ArgumentParser, add_backend_args, backend_settings, k_value, run
from kb.cli.term import format_hits, visible, visible_name
from kb.core.errors import BadQuery, ReadOnly
from kb.eval import index_family, opened_index
from kb.query import facets
from kb.query.index import open_index
from kb.topics import (
    LABELS_FILE,
    SPLITS,
    Assignment,
    Topic,
    Topics,
    assign,
    check,
    correct,
    cross_validate,
    disagreements,
    fit,
    labelled_count,
    load_labels,
    load_topics,
    matching_rows,
    plain_fit,
    recall_at_precision,
    split_report,
    stacked_prior,
    topic_hits,
    train_prior,
    transfer_by_rival,
)
from kb.topics import evidence as topic_evidence
from kb.topics import prior as topic_prior
from kb.topics import score as topic_score


def _shard(text: str) -> tuple[int, int]:
    """--shard I/N: the I-th of N shares of the splits (0 ≤ I < N)."""
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not I/N: {text!r}") from None
    if not 0 <= i < n:
        raise argparse.ArgumentTypeError(f"I/N needs 0 ≤ I < N: {text!r}")
    return i, n


def _weights(text: str) -> tuple[float, ...]:
    """--rival: one weight or several, comma-separated."""
    try:
        out = tuple(float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a weight or comma-separated weights: {text!r}") from None
    if not out or any(not 0 <= w <= 10 for w in out):
        raise argparse.ArgumentTypeError(f"weights go from 0 to 10: {text!r}")
    return out


def _split_range() -> str:
    """The labelled splits (kb.topics.SPLITS) as a range: "tune, heldout, external, external2 … externalN"."""
    names = list(SPLITS)
    return f"{', '.join(names[:4])} … {names[-1]}"


def _split(text: str) -> str:
    """--split's value: a labelled split or "all"; the error names the range, not 200 names."""
    if text in SPLITS or text == "all":
        return text
    raise argparse.ArgumentTypeError(f"no split {text!r}: one of {_split_range()}, or all")


def _add_prior_args(chk) -> None:
    """The learned prior's options of --check (kb.topics.prior)."""
    chk.add_argument("--no-prior", action="store_true", help="with --by-split/--fit: without the learned prior "
                     "(kb.topics.prior)")
    chk.add_argument("--prior-c", type=float, default=topic_prior.C, metavar="C", help="with --by-split/--fit/"
                     f"--train-prior: the prior's inverse L2 strength (default {topic_prior.C})")
    chk.add_argument("--prior-groups", choices=("post", "split"), help="the fit sees the prior out of fold, "
                     "leaving out the section's post or its split (default: post; split with --cv/--lopo, which "
                     "train a prior per fold)")
    chk.add_argument("--train-prior", action="store_true", help="with --check: train the prior on every labelled "
                     f"section and write it to {topic_prior.PRIOR_FILE.name} in the package (or --prior-out)")
    chk.add_argument("--neighbours", type=int, default=topic_prior.NEIGHBOURS, metavar="K", help="with --by-split/"
                     f"--fit/--train-prior: how many labelled sections vote in the prior (default {topic_prior.NEIGHBOURS};"
                     " 0: the prior's regression alone)")
    chk.add_argument("--prior-out", metavar="FILE", help="with --train-prior: write the prior here instead")


def parse_args(argv=None) -> argparse.Namespace:
    p = ArgumentParser(prog="python -m kb.topics", description="List the topics, one topic's sections (newest "
                       "first), correct a topic, or check the assignment. Topics are explained in the README.")
    p.add_argument("topic", nargs="?", metavar="NAME", help="list this topic's sections, newest first")
    p.add_argument("--index-dir", metavar="DIR", help="index folder (default: $KB_INDEX_DIR or index/)")
    p.add_argument("--content", metavar="DIR", help="content folder whose topics.toml to use "
                   "(default: $KB_CONTENT_DIR or content/; the shipped default if it has none)")
    p.add_argument("--topics-file", metavar="FILE", help="use this topics file instead")
    p.add_argument("-k", type=k_value, help="at most this many sections")
    p.add_argument("--json", action="store_true", help="JSON output")
    fix = p.add_argument_group("corrections (written to topics.toml in the content folder; off with KB_READ_ONLY=1)")
    fix.add_argument("--include", action="append", metavar="HEADING_OR_URL", help="put this section in topic NAME")
    fix.add_argument("--exclude", action="append", metavar="HEADING_OR_URL", help="take this section out of NAME")
    fix.add_argument("--forget", action="append", metavar="HEADING_OR_URL", help="drop an include/exclude")
    chk = p.add_argument_group("checking against labelled sections")
    chk.add_argument("--check", action="store_true", help="precision/recall/F1 per topic and micro against the "
                     "labels; without --index-dir, on a scratch index of each split's posts (tests/eval/topic_labels.jsonl)")
    chk.add_argument("--labels", metavar="FILE", default=str(LABELS_FILE), help=f"labels (default {LABELS_FILE})")
    chk.add_argument("--split", type=_split, metavar="SPLIT", help=f"only this split: {_split_range()} (default: every "
                     "split, each on its own index; 'all': every label, e.g. with --index-dir)")
    chk.add_argument("--fit", action="store_true", help="with --check: also print the fitted weights and thresholds")
    chk.add_argument("--misses", action="store_true", help="with --check: also list each labelled section the "
                     "pages miss or list against its labels, with its margin and the rival subject that lowered it")
    chk.add_argument("--cv", action="store_true", help="with --check: also cross-validate over the split's posts")
    chk.add_argument("--lopo", action="store_true", help="with --check: cross-validate leaving one post out at a "
                     "time, and name the threshold offset with the best recall at precision ≥ "
                     f"{topic_score.PRECISION_FLOOR}")
    chk.add_argument("--by-split", action="store_true", help="with --check: leave one split out at a time — fit on "
                     "an index of the other splits' posts, score the split on an index of its own posts (what new "
                     "posts meet) — and name the threshold offset under which the most splits reach precision "
                     f"{topic_score.TARGET_PRECISION} and recall {topic_score.CHOICE_RECALL} (the target "
                     f"{topic_score.TARGET_RECALL} with a margin), at mean precision ≥ "
                     f"{topic_score.PRECISION_FLOOR} (ties: the best mean recall); with --index-dir, that index of "
                     "every labelled post is where the run's own begins, so nothing in it is embedded again")
    chk.add_argument("--rival", type=_weights, default=(topic_score.RIVAL_WEIGHT,), metavar="W", help="with --check: "
                     "how much a section's margin in another subject topic lowers its score in a subject (default "
                     f"{topic_score.RIVAL_WEIGHT}; 0: subjects do not compete); with --by-split, several "
                     "comma-separated (W1,W2,...) are measured from the same fits")
    chk.add_argument("--shard", type=_shard, metavar="I/N", help="with --by-split: score only every N-th split from "
                     "the I-th (0-based), so N processes share the run; tests/eval/bysplit_merge.py joins their --json")
    _add_prior_args(chk)
    chk.add_argument("--without", action="append", choices=[f for f in topic_score.FEATURES if f != "tag"],
                     help="with --fit/--cv: hold this part of the score at weight 0 (what is it worth?)")
    chk.add_argument("--free-tag", action="store_true", help="with --fit/--cv: fit the post-tag weight too")
    chk.add_argument("--no-glossary", action="store_true", help="keywords without their glossary synonyms")
    chk.add_argument("--no-lead", action="store_true", help="no first-sentence field: the whole text is one field")
    chk.add_argument("--no-implied", action="store_true", help="no language, form and named-tool evidence "
                     "(kb.topics.evidence.implied_words)")
    add_backend_args(p)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    settings = backend_settings(args, args.content, args.index_dir)
    corrections = [*(args.include or []), *(args.exclude or []), *(args.forget or [])]
    index = _correct(args, settings) if corrections else None
    topics = load_topics(settings.content_dir, args.topics_file)
    if args.check:
        return _check(args, topics)
    index = index or open_index(settings=settings)
    a = assign(index, topics)
    if args.topics_file is None:
        facets.warm(index)                  # later searches' topic facets find the assignment (kb.query.facets)
    if corrections:
        _report_matches(index, a, topics.get(args.topic), corrections)
    if args.topic is None:
        rows = [{"name": t.name, "label": t.label, "sections": a.count(t.name)} for t in topics]
        if args.json:
            print(json.dumps({"source": str(topics.source), "topics": rows}, ensure_ascii=False))
        else:
            print(f"# topics from {visible_name(topics.source)}")
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


def _correct(args, settings):
    """Write the corrections once the topic (its name or label) and the index are known to be there, so a mistyped
    topic or a missing index writes nothing. Returns the opened index (None with --check)."""
    if not args.topic:
        raise BadQuery("--include/--exclude/--forget need a topic NAME: python -m kb.topics NAME --exclude ...")
    if settings.read_only:
        raise ReadOnly("topic corrections are off: kb runs read-only (KB_READ_ONLY is set)")
    name = load_topics(settings.content_dir).get(args.topic).name
    index = None if args.check else open_index(settings=settings)
    path = correct(settings.content_dir, name, args.include, args.exclude, args.forget, settings.read_only)
    print(f"# wrote {visible_name(path)}", file=sys.stderr)
    return index


def _report_matches(index, a: Assignment, topic: Topic, refs: list[str]) -> None:
    j = a.topics.names.index(topic.name)
    for ref in refs:
        rows = matching_rows(index, ref)
        state = ", ".join(f"{visible(index.sections[r].heading[:60])} ({'in' if a.member[r, j] else 'out'})"
                          for r in rows)
        print(f"# {visible(ref[:80])!r}: " + (state if rows else "matches no section of this index (kept in the "
                                             "file; it applies when such a section is indexed)"), file=sys.stderr)


def _by_split(args, topics: Topics, fixed: dict) -> int:
    """--check --by-split: every split scored on its own index with weights fitted on the others (kb.topics.transfer),
    at each rival weight of --rival from the same fits."""
    per_split: dict = {w: {} for w in args.rival}
    every = [p for dirs in SPLITS.values() for p in dirs]
    i, n = args.shard or (0, 1)
    start = Path(args.index_dir) if args.index_dir else None      # an index of every labelled post, built before
    with index_family(every, settings=backend_settings(args), start=start) as subset:    # each section embedded once
        for split in list(SPLITS)[i::n]:
            others = [s for s in SPLITS if s != split]
            labels = load_labels(Path(args.labels), split)
            fit_labels = _other_resources(labels, {k: v for s in others for k, v in load_labels(Path(args.labels),
                                                                                                  s).items()})
            rows = transfer_by_rival(subset([p for s in others for p in SPLITS[s]]), fit_labels,
                                     subset(SPLITS[split]), labels, args.rival, topics, fixed=fixed,
                                     prior_c=None if args.no_prior else args.prior_c,
                                     prior_groups=args.prior_groups or "post")
            for w in args.rival:                # one fit per split, scored at every weight
                per_split[w][split] = rows[w]
    report = {w: split_report(per_split[w]) for w in args.rival}
    if args.json:
        print(json.dumps(report[args.rival[0]] if len(args.rival) == 1 else {"rivals": report}, ensure_ascii=False))
        return 0
    for w in args.rival:
        if len(args.rival) > 1:
            print(f"## rival weight {w}")
        _print_split_report(report[w])
    return 0


def _print_split_report(r: dict) -> None:
    for split, rows in r["by_split"].items():
        print(f"{split}, fitted on the other splits: " + "  ".join(
            f"{x['offset']:.1f}: {x['precision']:.3f}/{x['recall']:.3f}" for x in rows))
    print("mean over the splits: " + "  ".join(f"{x['offset']:.1f}: {x['precision']:.3f}/{x['recall']:.3f}"
                                               for x in r["mean"]))
    print(f"splits with precision ≥ {topic_score.TARGET_PRECISION} and recall ≥ {topic_score.TARGET_RECALL}: "
          + "  ".join(f"{x['offset']:.1f}: {x['meeting']}" for x in r["mean"]))
    print(f"splits with precision ≥ {topic_score.TARGET_PRECISION} and recall ≥ {topic_score.CHOICE_RECALL} (what "
          "the choice counts): " + "  ".join(f"{x['offset']:.1f}: {x['choosing']}" for x in r["mean"]))
    for x in r["all"]:
        print(f"every split on its own index, threshold offset {x['offset']:.1f}: precision {x['precision']:.3f}  "
              f"recall {x['recall']:.3f}  F1 {x['f1']:.3f}  (" + ", ".join(
                  f"{n} {t['precision']:.2f}/{t['recall']:.2f}" for n, t in x["topics"].items()) + ")")
    if r["chosen"]:
        print(f"most splits at precision {topic_score.TARGET_PRECISION} and recall {topic_score.CHOICE_RECALL} at mean "
              f"precision ≥ {topic_score.PRECISION_FLOOR} (ties: best mean recall): offset {r['chosen']['offset']:.1f}")


def _other_resources(held: dict, fit: dict) -> dict:
    """The fit's labels without the sections whose resource the held-out split has too (kb.topics.prior.same_resource): parallel writers sometimes chose the same resource, and a new
    corpus brings resources the labelled set does not hold."""
    keys = {topic_prior.resource_key(h) for _, h in held}
    keys.discard("")

    def shared(heading: str) -> bool:
        k = topic_prior.resource_key(heading)
        return bool(k) and any(topic_prior.same_resource(k, x) for x in keys)
    return {key: v for key, v in fit.items() if not shared(key[1])}


def _train_prior(args, topics: Topics) -> int:
    """--check --train-prior: the prior trained on every labelled section (an index of all labelled posts, or
    --index-dir), written to the package's prior file or --prior-out."""
    labels = load_labels(Path(args.labels))
    posts = None if args.index_dir else [p for dirs in SPLITS.values() for p in dirs]
    with opened_index(args.index_dir, posts, settings=backend_settings(args)) as index:
        prior = train_prior(index, labels, topics, args.prior_c)
        trained = labelled_count(index, labels, topics)
    target = Path(args.prior_out) if args.prior_out else topic_prior.PRIOR_FILE
    try:
        path = topic_prior.save(prior, target)
    except OSError as err:
        raise BadQuery(f"cannot write the prior to {visible_name(target)}: {err.strerror or err}") from None
    print(f"# wrote {visible_name(path)}: a prior for {visible(prior.model)} over {len(prior.topics)} topics, "
          f"C {args.prior_c}, trained on {trained} labelled sections")
    return 0


def _check(args, topics: Topics) -> int:
    splits = [args.split] if args.split else (["all"] if args.index_dir else list(SPLITS))
    topic_evidence.OPTIONS.update(glossary=not args.no_glossary, lead=not args.no_lead, implied=not args.no_implied)
    fixed = {} if args.free_tag else dict(topic_score.FIXED)
    fixed.update({f: 0.0 for f in args.without or []})
    if len(args.rival) > 1 and not args.by_split:
        raise BadQuery("several --rival weights go with --by-split only")
    if args.shard and not args.by_split:
        raise BadQuery("--shard goes with --by-split only")
    topic_score.RIVAL_WEIGHT = args.rival[0]
    topic_prior.NEIGHBOURS = args.neighbours
    if args.by_split:
        return _by_split(args, topics, fixed)
    if args.train_prior:
        return _train_prior(args, topics)
    out = {}
    for split in splits:
        labels = load_labels(Path(args.labels), None if split == "all" else split)
        posts = None if split == "all" else SPLITS[split]
        with opened_index(args.index_dir, posts, settings=backend_settings(args)) as index:
            out[split] = check(index, labels, topics)
            if args.misses:
                out[split]["misses"] = disagreements(index, labels, topics)
            if args.fit:
                values = None if args.no_prior else stacked_prior(index, labels, topics, args.prior_c,
                                                                  args.prior_groups or "post")
                plain = fit(index, labels, topics, fixed={**fixed, "prior": 0.0})
                out[split]["fit"] = plain if args.no_prior else fit(index, labels, topics, fixed=fixed,
                                                                    prior_values=values)
                if not args.no_prior:
                    out[split]["fit_plain"] = plain_fit(out[split]["fit"], plain)
            if args.cv or args.lopo:
                out[split]["cv"] = cross_validate(index, labels, topics, fixed=fixed,
                                                  folds=None if args.lopo else 6,
                                                  prior_c=None if args.no_prior else args.prior_c,
                                                  prior_groups=args.prior_groups or "split")
                out[split]["chosen"] = recall_at_precision(out[split]["cv"])
    if args.json:
        print(json.dumps(out if len(out) > 1 else out[splits[0]], ensure_ascii=False))
        return 0
    _print_check(out, args)
    return 0


def _print_check(out: dict, args) -> None:
    """--check's tables (and --fit, --cv/--lopo, --misses) as text."""
    for split, r in out.items():
        print(f"## {split}: {r['sections']} labelled sections — micro precision {r['precision']:.3f}  "
              f"recall {r['recall']:.3f}  F1 {r['f1']:.3f}  (tp {r['tp']}, fp {r['fp']}, fn {r['fn']})")
        print("| topic | labelled | assigned | precision | recall | F1 |")
        print("|---|---|---|---|---|---|")
        for name, t in r["topics"].items():
            print(f"| {name} | {t['labelled']} | {t['assigned']} | {t['precision']:.2f} | {t['recall']:.2f} | "
                  f"{t['f1']:.2f} |")
        if "fit" in r:
            print(f"fitted weights: {r['fit']['weights']}")
            print(f"fitted thresholds: {r['fit']['thresholds']}")
        if "fit_plain" in r:
            print(f"for topics the prior does not cover (score.PLAIN): {r['fit_plain']}")
        for row in r.get("cv", []):
            print(f"cross-validated{' (leave one post out)' if args.lopo else ''}, threshold offset "
                  f"{row['offset']:.1f}: precision {row['precision']:.3f}  recall {row['recall']:.3f}  F1 {row['f1']:.3f}"
                  "  (" + ", ".join(f"{n} {t['precision']:.2f}/{t['recall']:.2f}" for n, t in row["topics"].items()) + ")")
        if r.get("chosen"):
            print(f"best recall at precision ≥ {topic_score.PRECISION_FLOOR}: offset {r['chosen']['offset']:.1f}")
        for m in r.get("misses", []):
            print(f"{m['kind']:6} {m['topic']:13} {m['margin']:+.2f}"
                  f"{'  lowered by ' + m['rival'] if m['rival'] else ''}  {visible(m['heading'])} "
                  f"({visible(m['post'])}; labelled {', '.join(m['labels']) or 'none'})")


if __name__ == "__main__":
    run(main)
