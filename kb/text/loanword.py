"""Loanwords: whether a Hangul word and a Latin word sound alike ("보코더" and "vocoder", "트레이딩" and "trading").

Korean ML writing spells many English terms in Hangul. Both are reduced to a consonant skeleton, vowels and
silent letters dropped: each consonant to its class (ㅂ ㅍ b p f v → P; ㄱ ㅋ g k c q → K; ㄷ ㅌ d t → T; ㅅ s
sh → S; ㅈ ㅊ j z ch and a soft g → J; ㄹ l r → R; ㅁ m → M; ㄴ n, final ㅇ and "ng" → N; ㅎ h → H), an English r after a
vowel and not before one dropped (Korean loans drop it: "server" 서버, "former" 포머), "tion" as 션, runs of one class
counted once.
Two words whose skeletons are equal and at least MIN_CONSONANTS long are taken for one word.
"""

from __future__ import annotations

import re
from functools import lru_cache

MIN_CONSONANTS = 3     # shorter skeletons ("코인" K N) match too many words
_LEADS = "KKNTTRMPPSSxJJJKTPH"          # ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ (ㅇ: silent)
_TAILS = ["", "K", "K", "KS", "N", "NJ", "NH", "T", "R", "RK", "RM", "RP", "RS", "RT", "RP", "RH", "M", "P", "PS",
          "S", "S", "N", "J", "J", "K", "T", "P", "H"]
_LATIN = [(re.compile(p), c) for p, c in (
    (r"tion", "Sn"), (r"ph", "P"), (r"th", "T"), (r"sh", "S"), (r"ch", "J"), (r"ck", "K"), (r"ng(?![aeiouy])", "N"),
    (r"qu", "K"), (r"x", "KS"), (r"c(?=[eiy])", "S"), (r"g(?=[eiy])", "J"), (r"(?<=[aeiou])r(?![aeiouy])", ""),
)]
_LATIN_CLASS = str.maketrans("bpfvgkcqdtszjlrmnh", "PPPPKKKKTTSJJRRMNH", "aeiouwy")


def _collapse(s: str) -> str:
    return re.sub(r"(.)\1+", r"\1", s)


@lru_cache(maxsize=4096)
def skeleton(word: str) -> str:
    """The consonant skeleton of a Hangul or Latin word ('' for anything else)."""
    w = word.lower()
    if w.isascii():
        if not w.isalpha():
            return ""
        for rx, c in _LATIN:
            w = rx.sub(c, w)                    # an upper-case class is left as it is by the translation below
        return _collapse(w.translate(_LATIN_CLASS).upper())
    out = []
    for ch in w:
        code = ord(ch) - 0xAC00
        if not 0 <= code <= 11171:
            return ""
        lead = _LEADS[code // 588]
        out.append(("" if lead == "x" else lead) + _TAILS[code % 28])
    return _collapse("".join(out))


def same_word(a: str, b: str) -> bool:
    """Whether a Hangul and a Latin word are one loanword (equal skeletons of MIN_CONSONANTS or more)."""
    sa, sb = skeleton(a), skeleton(b)
    return len(sa) >= MIN_CONSONANTS and sa == sb and a.isascii() != b.isascii()
