"""Variants of the rival rule (kb.topics.score.rivalry) on the scores tests/eval/topic_nested.py caches, each with
its offset chosen on the other splits by the count rule (the most splits meeting both targets): uniform weights,
no rivalry from a subject with keyword evidence (exemptions), and a weight per pair of subjects learned from the
other splits' labels. Issue 17's eleventh pass (docs/eval.md).

    python tests/eval/topic_rival_variants.py FILE        # FILE: topic_nested.py --scores FILE (written there)
"""
import pickle
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import topic_nested as tn  # noqa: E402

from kb.topics import score as ts  # noqa: E402

res = pickle.loads(Path(sys.argv[1]).read_bytes()) if len(sys.argv) > 1 else {}
SH = tn.SHIFTS
F = {f: i for i, f in enumerate(ts.FEATURES)}


def members(d, lam, shift, exempt=None, pair=None):
    """Membership at thresholds moved by shift, subjects competing at weight lam (or a weight per (best, other)
    pair), no rivalry where exempt."""
    margin = d["margin"] + np.float32(shift)
    rival, who = ts.rivalry(margin, np.zeros(margin.shape[1], np.float32), ~d["facet"])
    r = rival * lam
    if pair is not None:
        rows, cols = np.nonzero(who >= 0)
        r = rival.copy()
        r[rows, cols] *= pair[who[rows, cols], cols]
    if exempt is not None:
        r = r * ~exempt
    return margin - r >= 0


def chosen_shift(table: dict, splits: list) -> float:
    """The shift the count rule picks on these splits' (precision, recall) per shift: the most splits meeting both
    targets at mean precision ≥ FLOOR, ties to mean recall, then precision (tn.nested_offset's rule)."""
    best = None
    for sh in SH:
        pr = [table[(s, sh)] for s in splits]
        p, r = np.mean([a for a, _ in pr]), np.mean([b for _, b in pr])
        c = sum(a >= tn.TARGET[0] and b >= tn.TARGET[1] for a, b in pr)
        if p >= tn.FLOOR and (best is None or (c, r, p) > best[0]):
            best = ((c, r, p), sh)
    return best[1] if best else 0.0


def count_rule(rows_fn, name):
    """Each split held out: its (precision, recall) at the shift chosen on the others; rows_fn(split, shift) →
    membership."""
    table = {(s, sh): tn._pr(rows_fn(s, sh), res[s]["y"]) for s in res for sh in SH}
    rows = [table[(held, chosen_shift(table, [s for s in res if s != held]))] for held in res]
    tn._report(name, rows)
    return rows


def exempt_mask(d, kind):
    f = d["features"]
    if kind == "headlead":
        return (f[..., F["heading"]] >= 1) | (f[..., F["lead"]] >= 1)
    if kind == "headlead_any":
        return (f[..., F["heading"]] > 0) | (f[..., F["lead"]] > 0)
    if kind == "kw_any":
        return (f[..., [F["heading"], F["lead"], F["text"], F["implied"]]] >= 1).any(-1)
    if kind == "lead_implied":
        return (f[..., [F["heading"], F["lead"], F["implied"]]] >= 1).any(-1)
    raise ValueError(kind)


def pair_stats(splits, shift=0.0):
    """(best subject, other subject) → how many sections lose the other to the best one's margin, and how many of
    those are labelled in it."""
    t = len(next(iter(res.values()))["names"])
    n = np.zeros((t, t))
    y = np.zeros((t, t))
    for s in splits:
        d = res[s]
        margin = d["margin"] + np.float32(shift)
        rival, who = ts.rivalry(margin, np.zeros(t, np.float32), ~d["facet"])
        rows, cols = np.nonzero((who >= 0) & (margin >= 0))
        for i, j in zip(rows, cols, strict=True):
            n[who[i, j], j] += 1
            y[who[i, j], j] += d["y"][i, j]
    return n, y


def pair_rule(lam, k, name, shift_stats=0.0):
    """A weight per pair, lam × (1 − share) / (1 − overall share), the share smoothed with k pseudo-sections; learned
    on the other splits, offset by the count rule."""
    rows = []
    for held in res:
        others = [s for s in res if s != held]
        n, y = pair_stats(others, shift_stats)
        p0 = y.sum() / max(n.sum(), 1)
        p = (y + k * p0) / (n + k)
        pair = lam * (1 - p) / (1 - p0)
        table = {(s, sh): tn._pr(members(res[s], 1.0, sh, pair=pair), res[s]["y"]) for s in res for sh in SH}
        rows.append(table[(held, chosen_shift(table, others))])
    tn._report(name, rows)
    return rows


if __name__ == "__main__":
    for lam in (0.0, 0.8, 1.0, 1.5):
        count_rule(lambda s, sh, lam=lam: members(res[s], lam, sh), f"rival {lam}")
    for kind in ("headlead", "headlead_any", "lead_implied", "kw_any"):
        for lam in (0.8, 1.2, 2.0):
            count_rule(lambda s, sh, lam=lam, kind=kind: members(res[s], lam, sh, exempt_mask(res[s], kind)),
                       f"rival {lam} exempt {kind}")
    for k in (5, 20):
        pair_rule(0.8, k, f"a weight per pair, 0.8 × (1 − share) / (1 − overall share), k {k}")
