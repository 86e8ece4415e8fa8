"""Writes tests/eval/typos.jsonl: every query of tests/eval/queries.jsonl with one typo in its longest word.

The typo is chosen by rule, not by hand: a Latin word of 5+ letters loses, swaps, doubles or mistypes (a keyboard
neighbour) one inner letter; a Korean word of 2+ syllables has one jamo changed (a final added or dropped, a vowel
or an initial consonant swapped for its neighbour on the keyboard). The operation cycles with the query's line
number. Queries without such a word are left out. Run: python tests/eval/make_typos.py
"""

from __future__ import annotations

import json
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
_WORD_RE = re.compile(r"[A-Za-z]{5,}|[가-힣]{2,}")
_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_NEAR = {r[i]: r[i + 1] if i + 1 < len(r) else r[i - 1] for r in _ROWS for i in range(len(r))}   # the key to the right
# vowel and initial neighbours on the 2-set keyboard (index in the syllable tables)
_VOWEL = {0: 1, 1: 0, 4: 8, 8: 4, 5: 6, 6: 5, 13: 17, 17: 13, 18: 20, 20: 18, 2: 6, 12: 13, 3: 7, 7: 3}
_LEAD = {0: 1, 1: 0, 3: 4, 4: 3, 7: 8, 8: 7, 9: 10, 10: 9, 12: 13, 13: 12, 2: 11, 11: 2, 5: 6, 6: 5, 14: 15,
         15: 14, 16: 17, 17: 16, 18: 14}


def latin_typo(w: str, op: int) -> str:
    i = len(w) // 2
    if op == 0:
        return w[:i] + w[i + 1:]                       # drop
    if op == 1:
        return w[:i] + w[i + 1] + w[i] + w[i + 2:]     # swap with the next
    if op == 2:
        return w[:i] + w[i] + w[i:]                    # double
    c = w[i].lower()
    return w[:i] + _NEAR.get(c, c) + w[i + 1:]         # keyboard neighbour


def hangul_typo(w: str, op: int) -> str:
    i = len(w) // 2 if len(w) > 2 else 1
    code = ord(w[i]) - 0xAC00
    lead, vowel, tail = code // 588, (code % 588) // 28, code % 28
    if op % 3 == 0:
        tail = 0 if tail else 1                        # drop the final, or add ㄱ
    elif op % 3 == 1:
        vowel = _VOWEL.get(vowel, (vowel + 1) % 21)
    else:
        lead = _LEAD.get(lead, (lead + 1) % 19)
    return w[:i] + chr(0xAC00 + (lead * 21 + vowel) * 28 + tail) + w[i + 1:]


def main() -> None:
    out = []
    for n, line in enumerate((HERE / "queries.jsonl").read_text(encoding="utf-8").splitlines()):
        q = json.loads(line)
        words = _WORD_RE.findall(q["query"])
        if not words:
            continue
        w = max(words, key=len)
        typo = latin_typo(w, n % 4) if w.isascii() else hangul_typo(w, n % 3)
        out.append({**q, "query": q["query"].replace(w, typo, 1), "kind": "typo-" + q["kind"], "typo": [typo, w]})
    (HERE / "typos.jsonl").write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in out),
                                      encoding="utf-8")
    print(f"{len(out)} queries")


if __name__ == "__main__":
    main()
