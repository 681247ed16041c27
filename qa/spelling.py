"""Spelling correction of questions against the archive's own words.

A typo ("edcuation", "Sunnside") names a word the archive never uses, so the evidence gate
would refuse with "the articles never mention “edcuation”". Before searching, each word of
the question that the archive does not contain is replaced by the archive's most frequent
word one edit away (a letter inserted, dropped, changed, or two neighbours swapped), if
there is one. Only words of 6+ letters are corrected, into a word with the same first
letter that is not a stop word; never words with digits or in capitals (codes and acronyms
such as 9M729, PPP): a short or unusual word is far more often a real word the archive
lacks than a typo. The corrected question is what the answer reports as "Searched for".
The archive's words are counted on the first question that has an unknown word, not before.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from typing import Callable, Iterable

from qa.text import STOPWORDS

MIN_LENGTH = 6
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?", re.UNICODE)


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


class Speller:
    """`Speller(Counter(words)).correct("What is the edcuation system?")` -> "What is the education system?"."""

    def __init__(self, counts: Counter[str] | None = None, texts: Callable[[], Iterable[str]] | None = None) -> None:
        """`counts` of the archive's words, or `texts` to count them from when first needed."""
        self._given = counts
        self._texts = texts
        self._counts: Counter[str] | None = None
        self._by_delete: dict[str, list[str]] | None = None
        self._lock = threading.Lock()

    @property
    def counts(self) -> Counter[str]:
        with self._lock:
            if self._counts is None:
                counts: Counter[str] = Counter()
                if self._given is not None:
                    counts.update({w.lower(): c for w, c in self._given.items()})
                for text in self._texts() if self._texts is not None else ():
                    counts.update(w.lower() for w in _WORD.findall(text))
                self._counts = counts
            return self._counts

    def _index(self) -> dict[str, list[str]]:
        counts = self.counts
        with self._lock:
            if self._by_delete is None:
                by_delete: dict[str, list[str]] = {}
                for w in counts:
                    if len(w) >= MIN_LENGTH:  # the words a 6+ letter typo can be one edit from
                        for d in _deletes(w):
                            by_delete.setdefault(d, []).append(w)
                self._by_delete = by_delete
            return self._by_delete

    def suggestion(self, word: str) -> str | None:
        """The archive's most frequent word one edit from `word`, or None."""
        low = word.lower()
        if len(low) < MIN_LENGTH or low in self.counts:
            return None
        index = self._index()
        found: set[str] = set()
        found.update(index.get(low, ()))                      # a letter dropped by the user
        for d in _deletes(low):
            if d in self.counts:                              # a letter added by the user
                found.add(d)
            found.update(w for w in index.get(d, ()) if len(w) == len(low))  # changed or swapped
        found = {w for w in found if w[0] == low[0] and w not in STOPWORDS and _one_edit(low, w)}
        if not found:
            return None
        return max(sorted(found), key=lambda w: self.counts[w])

    def correct(self, text: str, known: Callable[[str], bool] = lambda w: False) -> str:
        """`text` with each unknown word of 6+ letters replaced by its suggestion.

        `known(word)` lets the caller keep words the archive matches another way (the
        search's stems: "hosted" is known when the archive says "host").
        """

        def fix(m: re.Match) -> str:
            word = m.group(0)
            if word.isupper() or known(word):
                return word
            better = self.suggestion(word)
            if better is None:
                return word
            return better.capitalize() if word[0].isupper() else better

        return _WORD.sub(fix, text)


def _one_edit(a: str, b: str) -> bool:
    """Damerau-Levenshtein distance of exactly one (insert, delete, substitute, swap neighbours)."""
    if a == b:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    if len(long_) - len(short) != 1:
        return False
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))
