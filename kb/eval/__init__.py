"""`python -m kb.eval`: retrieval quality (MRR@10, nDCG@10, Recall@5) per mode on a labelled query set.

By default it indexes the seed post (content/) plus the evaluation posts in tests/eval/posts into a scratch index
and runs tests/eval/queries.jsonl, whose lines are
`{"query": ..., "kind": ..., "relevant": [{"post": "<file name>", "heading": "<### heading>"}, ...]}`.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import sys
import tempfile
import uuid
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

from kb.build import build, drop
from kb.build.local import build_index
from kb.core import safeio
from kb.core.config import Settings
from kb.core.errors import BadQuery
from kb.query.index import open_index

MODES = ("keyword", "semantic", "hybrid")


@dataclass
class Scores:
    mrr: float
    ndcg: float
    recall5: float
    n: int


def metrics(ranked: list[tuple[str, str]], relevant: set[tuple[str, str]]) -> tuple[float, float, float]:
    """(reciprocal rank @10, nDCG@10, recall@5) for one query with binary relevance."""
    top = ranked[:10]
    rr = next((1.0 / i for i, key in enumerate(top, 1) if key in relevant), 0.0)
    dcg = sum(1.0 / math.log2(i + 1) for i, key in enumerate(top, 1) if key in relevant)
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(len(relevant), 10) + 1))
    recall = len({k for k in ranked[:5] if k in relevant}) / len(relevant) if relevant else 0.0
    return rr, (dcg / ideal if ideal else 0.0), recall


def load_queries(path: Path) -> list[dict]:
    out = []
    try:
        text = safeio.read_text(path, 64 * 1024 * 1024)          # a FIFO or /dev/zero: one line, never a hang
    except OSError as err:
        raise BadQuery(f"cannot read the queries file {path}: {err.strerror or err}") from None
    for line in text.splitlines():
        if line.strip():
            out.append(json.loads(line))
    return out


def evaluate(index, queries: list[dict], modes=MODES, **search_kw) -> dict[str, dict[str, Scores]]:
    """{mode: {kind or 'all': Scores}}."""
    result: dict[str, dict[str, Scores]] = {}
    for mode in modes:
        per_kind: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
        for q in queries:
            hits = index.search(q["query"], mode=mode, k=10, **search_kw)
            ranked = [(Path(h.path).name, h.heading) for h in hits]
            rel = {(r["post"], r["heading"]) for r in q["relevant"]}
            m = metrics(ranked, rel)
            per_kind[q.get("kind", "?")].append(m)
            per_kind["all"].append(m)
        result[mode] = {
            kind: Scores(*(sum(x[i] for x in ms) / len(ms) for i in range(3)), n=len(ms))
            for kind, ms in per_kind.items()
        }
    return result


def build_eval_index(post_dirs: list[Path], index_dir: Path, model: str | None = None,
                     backend: Settings | None = None):
    """Copy the posts into a scratch content folder and build (or update) an index there — in `index_dir`, or in
    the Milvus collection `backend` names."""
    content = index_dir.parent / (index_dir.name + "-content")
    if content.exists():
        shutil.rmtree(content)
    content.mkdir(parents=True)
    for d in post_dirs:
        for p in sorted(Path(d).glob("*.md")):
            shutil.copy(p, content / p.name)
    if backend is not None and backend.backend == "milvus":
        return build(replace(backend, content_dir=content, model=model))
    return build_index(Settings.load(content, index_dir, model))


DEFAULT_POSTS = ("content", "tests/eval/posts")


@contextlib.contextmanager
def opened_index(index_dir=None, posts=None, model: str | None = None, settings: Settings | None = None):
    """The index to evaluate: `index_dir` as it is, else a scratch index of `posts` (default: the seed post and
    tests/eval/posts) built for the occasion and removed afterwards. With settings naming the milvus backend, the
    scratch index is a collection `<collection>_eval_<id>` at the settings' URI, dropped afterwards."""
    if index_dir:
        yield open_index(Path(index_dir))
        return
    tmp = Path(tempfile.mkdtemp(prefix="kb-eval-"))
    scratch = None
    if settings is not None and settings.backend == "milvus":
        scratch = replace(settings, milvus_collection=f"{settings.milvus_collection}_eval_{uuid.uuid4().hex[:8]}")
    try:
        report = build_eval_index([Path(d) for d in (posts or DEFAULT_POSTS)], tmp / "index", model, scratch)
        print(report.summary(), file=sys.stderr)
        yield open_index(tmp / "index") if scratch is None else open_index(settings=scratch)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if scratch is not None:
            drop(scratch)



def build_from(start: Path, post_dirs, index_dir: Path, model: str | None = None):
    """build_eval_index of `post_dirs` in `index_dir`, begun as a copy of the index folder `start` (of those posts and
    others, say): what `start` holds is not embedded again, and the result is what a fresh build gives."""
    shutil.copytree(start, index_dir, ignore=shutil.ignore_patterns(".lock"))
    return build_eval_index([Path(d) for d in post_dirs], index_dir, model)


@contextlib.contextmanager
def index_family(posts, model: str | None = None, settings: Settings | None = None, start: Path | None = None):
    """Scratch indexes of subsets of `posts` (post folders), for experiments that index many overlapping subsets
    (`python -m kb.topics --check --by-split`): one index of all the posts is built, and each subset's index is a
    copy of it updated to the subset, so every section is embedded once. `start`: an index folder (of the same
    posts, say) to begin from, so what it holds is not embedded again; it is copied, not changed. Yields
    subset(post folders) -> index; everything is removed afterwards. With settings naming the milvus backend each
    subset is a scratch collection of its own, as opened_index makes."""
    with contextlib.ExitStack() as stack:
        if settings is not None and settings.backend == "milvus":
            yield lambda dirs: stack.enter_context(opened_index(None, dirs, model, settings))
            return
        tmp = Path(tempfile.mkdtemp(prefix="kb-eval-"))
        stack.callback(shutil.rmtree, tmp, True)
        if start is not None:
            shutil.copytree(start, tmp / "all", ignore=shutil.ignore_patterns(".lock"))
        print(build_eval_index([Path(d) for d in posts], tmp / "all", model).summary(), file=sys.stderr)
        made: list[Path] = []

        def subset(dirs) -> object:
            target = tmp / f"subset{len(made)}"
            made.append(target)
            print(build_from(tmp / "all", dirs, target, model).summary(), file=sys.stderr)
            return open_index(target)

        yield subset

def format_table(result: dict[str, dict[str, Scores]]) -> str:
    lines = ["| mode | nDCG@10 | MRR@10 | Recall@5 |", "|---|---|---|---|"]
    for mode, kinds in result.items():
        s = kinds["all"]
        lines.append(f"| {mode} | {s.ndcg:.3f} | {s.mrr:.3f} | {s.recall5:.3f} |")
    kinds = sorted({k for v in result.values() for k in v if k != "all"})
    lines += ["", "nDCG@10 by query kind:", "", "| kind | n | " + " | ".join(result) + " |",
              "|---|---|" + "---|" * len(result)]
    for kind in kinds:
        first = next(iter(result.values()))[kind]
        lines.append(f"| {kind} | {first.n} | " + " | ".join(f"{result[m][kind].ndcg:.3f}" for m in result) + " |")
    return "\n".join(lines)


DEFAULT_OFFTOPIC = "tests/eval/offtopic.jsonl"


@dataclass
class Floor:
    on_topic_confident: float      # share of on-topic queries whose top hit is confident
    off_topic_rejected: float      # share of off-topic queries with no confident hit
    on_n: int
    off_n: int
    leaks: list[str]               # off-topic queries that got a confident hit
    misses: list[str]              # on-topic queries whose top hit is weak


def relevance_floor(index, queries: list[dict], offtopic: list[dict], modes=MODES, **search_kw) -> dict[str, Floor]:
    """{mode: Floor}: how well the weak flag separates on-topic from off-topic queries."""
    out = {}
    for mode in modes:
        misses = [q["query"] for q in queries
                  if not (hits := index.search(q["query"], mode=mode, k=10, **search_kw)) or hits[0].weak]
        leaks = [q["query"] for q in offtopic
                 if any(not h.weak for h in index.search(q["query"], mode=mode, k=10, **search_kw))]
        out[mode] = Floor(1 - len(misses) / max(1, len(queries)), 1 - len(leaks) / max(1, len(offtopic)),
                          len(queries), len(offtopic), leaks, misses)
    return out


def format_floor(result: dict[str, Floor]) -> str:
    lines = ["| mode | on-topic: top hit confident | off-topic: no confident hit |", "|---|---|---|"]
    for mode, f in result.items():
        lines.append(f"| {mode} | {f.on_topic_confident:.3f} ({f.on_n}) | {f.off_topic_rejected:.3f} ({f.off_n}) |")
    for mode, f in result.items():
        if f.leaks:
            lines.append(f"{mode}: off-topic with a confident hit: {'; '.join(f.leaks)}")
        if f.misses:
            lines.append(f"{mode}: on-topic with a weak top hit: {'; '.join(f.misses)}")
    return "\n".join(lines)


@dataclass
class Suggestions:
    """How "Did you mean" behaves: on misspelled queries (with their intended spelling) and on clean ones."""
    right: int          # misspelled queries offered exactly the intended query
    wrong: int          # misspelled queries offered something else
    none: int           # misspelled queries offered nothing
    false: int          # clean queries offered a correction
    clean: int          # clean queries asked
    offered: list[str]  # "query → suggestion" of the wrong and false ones


def suggestions(index, misspelled: list[dict], clean: list[dict], mode: str = "hybrid") -> Suggestions:
    """Ask every query; a misspelled one is right when the suggestion is the query it meant (case aside): its
    `"intended"` field, or the query with its `"typo": [wrong, right]` put right. A line saying neither (or
    `"intended": null`) is not judged."""
    s = Suggestions(0, 0, 0, 0, len(clean), [])
    for q in misspelled:
        if q.get("intended"):
            want = q["intended"].lower()
        elif q.get("typo"):
            want = q["query"].replace(q["typo"][0], q["typo"][1], 1).lower()
        else:
            continue
        got = index.search(q["query"], mode=mode, k=10).did_you_mean
        if got is None:
            s.none += 1
        elif got.lower() == want:
            s.right += 1
        else:
            s.wrong += 1
            s.offered.append(f"{q['query']} → {got}")
    for q in clean:
        got = index.search(q["query"], mode=mode, k=10).did_you_mean
        if got is not None:
            s.false += 1
            s.offered.append(f"{q['query']} → {got}")
    return s
