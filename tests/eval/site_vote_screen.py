"""Would a per-site vote help the topic prior? For each labelled section, the topic shares among the labelled
sections of other splits (another resource, kb.topics.prior.same_resource) that link to the same site (the host; on
GitHub, Hugging Face, GitLab, Medium and X the host and owner; on YouTube, playlist or video), smoothed towards the
topic's base rate with M pseudo-sections, as log-odds over the base rate. Added at weight A to the prior's
out-of-fold log-odds (leaving one split out), the change in average precision per topic. Measured, not shipped
(docs/eval.md, issue 17's twenty-third pass).

    python tests/eval/site_vote_screen.py --index-dir DIR    # DIR: kb.eval.build_eval_index of every labelled post
"""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
from prior_vote_ap import average_precision

from kb.query.index import open_index
from kb.topics import _labelled, _post_splits, load_labels, load_topics
from kb.topics import prior as topic_prior

OWNER_SITES = {"github.com", "huggingface.co", "gitlab.com", "medium.com", "twitter.com", "x.com"}


def site_key(url: str) -> str:
    """The site a link stands for: its host, with the owner on hosting sites, the link's kind on YouTube."""
    try:
        u = urlsplit(url)
        host = (u.hostname or "").lower().removeprefix("www.").removeprefix("m.")
    except ValueError:
        return ""
    if host == "youtube.com":
        return host + ("/playlist" if "list=" in u.query else "/video")
    parts = [p for p in u.path.split("/") if p]
    return f"{host}/{parts[0].lower()}" if host in OWNER_SITES and parts else host


def site_vote(y: np.ndarray, sites: list[str], groups: np.ndarray, matches: list[list[int]], m: float) -> np.ndarray:
    """(sections, topics) the smoothed topic share among other splits' sections of the same site, as log-odds over
    the base rate (0 without such sections)."""
    base = y.mean(axis=0)
    by_site: dict[str, list[int]] = defaultdict(list)
    for i, k in enumerate(sites):
        by_site[k].append(i)
    out = np.zeros(y.shape, dtype=np.float32)
    for i, k in enumerate(sites):
        same = set(matches[i])
        others = [j for j in by_site.get(k, ()) if groups[j] != groups[i] and j not in same] if k else []
        if others:
            p = (y[others].sum(axis=0) + m * base) / (len(others) + m)
            out[i] = np.log(p / (1 - p)) - np.log(base / (1 - base))
    return np.clip(out, -topic_prior.CLIP, topic_prior.CLIP)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index-dir", required=True)
    args = ap.parse_args()
    index, topics = open_index(Path(args.index_dir)), load_topics()
    have, vec, y = _labelled(index, load_labels(), topics)
    secs = [s for s, h in zip(index.sections, have, strict=True) if h]
    split_of = _post_splits()
    groups = np.array([split_of.get(Path(s.post_path).name, Path(s.post_path).name) for s in secs])
    resources = [topic_prior.resource_key(s.heading) for s in secs]
    sites = [site_key(s.url) for s in secs]
    prior = topic_prior.out_of_fold(vec, y, groups, resources=resources)
    before = [average_precision(prior[:, j], y[:, j]) for j in range(y.shape[1])]
    count = Counter(sites)
    shared = sum(1 for k in sites if k and count[k] > 1)
    print(f"{len(secs)} labelled sections, {len(set(sites))} sites, {shared} sections share theirs")
    print("prior AP " + " ".join(f"{t} {a:.4f}" for t, a in zip(topics.names, before, strict=True)))
    matches = topic_prior.resource_matches(resources)
    for m in (2, 5, 10, 20):
        vote = site_vote(y, sites, groups, matches, m)
        for a in (0.25, 0.5, 1.0):
            d = [average_precision(prior[:, j] + a * vote[:, j], y[:, j]) - before[j] for j in range(y.shape[1])]
            print(f"M {m:>2} A {a:<4} change " + " ".join(f"{t} {x:+.4f}" for t, x in zip(topics.names, d, strict=True))
                  + f"  mean {np.mean(d):+.4f}")


if __name__ == "__main__":
    main()
