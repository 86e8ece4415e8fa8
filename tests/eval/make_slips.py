"""Writes `slips.jsonl` next to a labelled query set: each query with one slip of the kinds people make, chosen at
random (a fixed seed), not by a rule tuned on kb's misses.

The word: any Latin word of 5+ letters or Korean word of 2+ syllables of the query, at random (not the longest).
The slip, at random among its kind's: Latin — two neighbours swapped, a letter dropped, a letter typed twice, a
QWERTY neighbour hit instead (also the first letter), a neighbour hit as well as the letter; Korean — on the two-set
(2-beolsik) keyboard a neighbouring vowel or consonant key, a final consonant dropped or added, the shifted key (ㄱ →
ㄲ, ㅐ → ㅒ), a syllable dropped from a word of 3+ syllables. Each line keeps the query's labels and says what was
meant (`"intended"`) and the slip's kind (`"kind"`: `slip-en-swap`, `slip-ko-vowel`, …).

    python tests/eval/make_slips.py tests/eval/queries.jsonl tests/eval/external/queries.jsonl ...
    python tests/eval/make_slips.py --seed 18 tests/eval/queries.jsonl ...     # another draw: slips-18.jsonl
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

SEED = 17
_WORD_RE = re.compile(r"[A-Za-z]{5,}|[가-힣]{2,}")
_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_QWERTY = {k: [r[j] for j in (i - 1, i + 1) if 0 <= j < len(r)] for r in _ROWS for i, k in enumerate(r)}
# the two-set keyboard: a jamo's left and right neighbours in its row (vowels and consonants by index in the
# Unicode syllable tables: leads 0..18, vowels 0..20, tails 0..27)
_KO_ROWS = ("ㅂㅈㄷㄱㅅㅛㅕㅑㅐㅔ", "ㅁㄴㅇㄹㅎㅗㅓㅏㅣ", "ㅋㅌㅊㅍㅠㅜㅡ")
_LEADS = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
_VOWELS = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
_TAILS = " ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ"
_SHIFT = dict(zip("ㄱㄷㅂㅅㅈㅐㅔ", "ㄲㄸㅃㅆㅉㅒㅖ", strict=True))
_KO_NEAR = {k: [r[j] for j in (i - 1, i + 1) if 0 <= j < len(r)] for r in _KO_ROWS for i, k in enumerate(r)}


def latin_slip(w: str, rnd: random.Random) -> tuple[str, str]:
    i = rnd.randrange(1, len(w) - 1)
    op = rnd.choice(["swap", "drop", "double", "near", "near", "first", "extra"])
    if op == "swap":
        return w[:i] + w[i + 1] + w[i] + w[i + 2:], op
    if op == "drop":
        return w[:i] + w[i + 1:], op
    if op == "double":
        return w[:i] + w[i] + w[i:], op
    if op == "first":
        i = 0
    c = rnd.choice(_QWERTY.get(w[i].lower()) or [w[i]])
    if op == "extra":
        return w[:i + 1] + c + w[i + 1:], op          # the neighbour hit as well
    return w[:i] + c + w[i + 1:], op                  # the neighbour hit instead ("near", "first")


def _syllable(lead: int, vowel: int, tail: int) -> str:
    return chr(0xAC00 + (lead * 21 + vowel) * 28 + tail)


def hangul_slip(w: str, rnd: random.Random) -> tuple[str, str]:
    ops = ["vowel", "consonant", "final", "shift"] + (["drop"] if len(w) >= 3 else [])
    for _ in range(20):
        i, op = rnd.randrange(len(w)), rnd.choice(ops)
        code = ord(w[i]) - 0xAC00
        lead, vowel, tail = code // 588, (code % 588) // 28, code % 28
        if op == "drop" and 0 < i < len(w):
            return w[:i] + w[i + 1:], op
        if op == "vowel" and (near := [c for c in _KO_NEAR.get(_VOWELS[vowel], ()) if c in _VOWELS]):
            return w[:i] + _syllable(lead, _VOWELS.index(rnd.choice(near)), tail) + w[i + 1:], op
        if op == "consonant" and (near := [c for c in _KO_NEAR.get(_LEADS[lead], ()) if c in _LEADS]):
            return w[:i] + _syllable(_LEADS.index(rnd.choice(near)), vowel, tail) + w[i + 1:], op
        if op == "final":
            new = 0 if tail else _TAILS.index(rnd.choice("ㄱㄴㅇㄹㅁ"))
            return w[:i] + _syllable(lead, vowel, new) + w[i + 1:], op
        if op == "shift" and _LEADS[lead] in _SHIFT:
            return w[:i] + _syllable(_LEADS.index(_SHIFT[_LEADS[lead]]), vowel, tail) + w[i + 1:], op
    return w, "none"


def slips(lines: list[dict], rnd: random.Random) -> list[dict]:
    out = []
    for q in lines:
        words = _WORD_RE.findall(q["query"])
        if not words:
            continue
        w = rnd.choice(words)
        typo, op = latin_slip(w, rnd) if w.isascii() else hangul_slip(w, rnd)
        if typo == w:
            continue
        kind = f"slip-{'en' if w.isascii() else 'ko'}-{op}"
        out.append({"query": q["query"].replace(w, typo, 1), "kind": kind, "relevant": q["relevant"],
                    "intended": q["query"]})
    return out


def main(argv: list[str]) -> None:
    """`--seed N` (default SEED) writes slips-N.jsonl instead of slips.jsonl: another draw, for a fresh check."""
    seed = int(argv[argv.index("--seed") + 1]) if "--seed" in argv else SEED
    paths = [a for i, a in enumerate(argv) if a != "--seed" and (i == 0 or argv[i - 1] != "--seed")]
    name = "slips.jsonl" if seed == SEED else f"slips-{seed}.jsonl"
    for p in map(Path, paths):
        lines = [json.loads(x) for x in p.read_text(encoding="utf-8").splitlines() if x.strip()]
        out = slips(lines, random.Random(f"{seed}:{p.parent.name}"))
        (p.parent / name).write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in out),
                                     encoding="utf-8")
        print(f"{p.parent / name}: {len(out)} queries")


if __name__ == "__main__":
    main(sys.argv[1:])
