"""Conflicting reports: passages that answer the same question with different dates or numbers.

Why: reports of one event disagree (one says the Geneva talks began on January 20, another
January 10; two casualty counts). Picking one silently hides that from a journalist; the
answer should say "Reports differ" and cite both sides.

Decisions:
- Only dates and numbers are compared: two different names for "who" are as often two
  right answers (co-chairs, several speakers) as a disagreement.
- A passage speaks to the question when the ranker gives it at least `min_score` and the
  clause holding its value (`clause`) holds at least `min_coverage` of the question's
  topic terms (names weigh double): "the NATO-Russia Council Meeting on January 12"
  answers "When did the NATO-Russia Council meet?"; "Strategic Security Talks … on
  January 10", earlier in the same sentence, does not. For "how many X", only amounts of
  X count; a dateline's date is when the story was filed, not what it reports.
- The value of a passage is the one whose clause covers the question best, then the one
  nearest to a word of what is asked ("cost" for "How much did it cost?"), not the first.
- Only distinct reports conflict: the two articles' publishers or dates are known and
  differ. Paragraphs of one undated, unattributed text (an encyclopedia article, where
  the SQuAD test half showed 24 false alarms in 1,000 questions: "two" teams vs "seven"
  Super Bowls) state many related numbers that are not disagreements; so does one news
  article, which is why a report that corrects itself is not caught.
- Values conflict when they cannot both be true: two days (or months, or years) that
  differ, or two amounts that differ. "January 2022" and "January 12" do not conflict.
- The thresholds are set by reasoning, not tuned on the labelled set in
  eval/questions/conflicts.jsonl, whose precision and recall docs/EVAL.md reports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from qa.dates import DATELINE, month_number
from qa.gate import DATE_PHRASE, Evidence, counted_noun, topic
from qa.lexicon import MONTH_PATTERN, NUMBER_WORDS, YEAR
from qa.ranker import Candidate
from qa.text import names, numbers, stem, terms, words
from qa.types import Article, Hit

_DATE = re.compile(
    rf"\b(?:(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<m1>{MONTH_PATTERN}),?(?:\s+(?P<y1>\d{{4}}))?"
    rf"|(?P<m2>{MONTH_PATTERN})\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<y2>\d{{4}}))?(?!\d)"
    rf"|(?P<m3>{MONTH_PATTERN})\s+(?P<y3>\d{{4}})"
    rf"|(?:in|since|by)\s+(?P<y4>1[89]\d\d|20\d\d))\b",
    re.IGNORECASE,
)
# possessive: "1,240-metre" is one token, never "1" followed by ",240-metre"
_AMOUNT = re.compile(r"(?<![\w.,-])(\d[\d,]*+(?:\.\d+)?+)(?![\w-])|\b(" + "|".join(w for w in NUMBER_WORDS if w != "zero") + r")\b",
                     re.IGNORECASE)


@dataclass(frozen=True)
class Side:
    """One value the passages give, and the candidates that give it (best first)."""

    value: str  # as the first passage writes it: "January 20", "17"
    key: tuple  # the value normalised for comparison
    candidates: tuple[Candidate, ...]


def values_in(kind: str, sentence: str, question: str) -> list[tuple[int, int, tuple]]:
    """(start, end, key) of every date or amount in the sentence that the question does not state.

    >>> [k for *_, k in values_in("date", "Talks began on January 20, 2022 and ended in March 2022.", "When?")]
    [('day', 2022, 1, 20), ('month', 2022, 3, None)]
    """
    asked = numbers(question)
    out = []
    dateline = DATELINE.match(sentence)
    skip = dateline.end() if dateline else 0
    if kind == "date":
        for m in _DATE.finditer(sentence, skip):
            g = m.groupdict()
            if g["y4"]:
                key = ("year", int(g["y4"]), None, None)
            elif g["m3"]:
                key = ("month", int(g["y3"]), month_number(g["m3"]), None)
            else:
                month, day, year = (g["m1"], g["d1"], g["y1"]) if g["m1"] else (g["m2"], g["d2"], g["y2"])
                key = ("day", int(year) if year else None, month_number(month), int(day))
            if key[2] is None and key[0] != "year":
                continue
            if set(numbers(m.group(0))) and set(numbers(m.group(0))) <= asked:
                continue  # the question's own date
            out.append((m.start(), m.end(), key))
    elif kind == "number":
        masked = DATE_PHRASE.sub(lambda m: " " * len(m.group(0)), sentence)
        noun = counted_noun(question)
        for m in _AMOUNT.finditer(masked, skip):
            raw = (m.group(1) or m.group(2)).lower()
            value = NUMBER_WORDS.get(raw, raw).replace(",", "")
            if YEAR.match(value) or value in asked:
                continue
            after = [stem(w) for w in words(masked[m.end():m.end() + 40])[:3]]
            if noun and not any(w[:6] == noun[:6] for w in after):
                continue  # "how many residents": an amount of residents, not of metres or of dead
            try:
                out.append((m.start(), m.end(), ("amount", float(value))))
            except ValueError:
                continue
    return out


def compatible(a: tuple, b: tuple) -> bool:
    """Whether two values can both be true ("January 2022" and "12 January": yes).

    >>> compatible(("day", None, 1, 20), ("day", 2022, 1, 10)), compatible(("month", 2022, 1, None), ("day", None, 1, 12))
    (False, True)
    """
    if a[0] == "amount" or b[0] == "amount":
        return a == b
    (_, ya, ma, da), (_, yb, mb, db) = a, b
    if ya is not None and yb is not None and ya != yb:
        return False
    if ma is not None and mb is not None and ma != mb:
        return False
    return da is None or db is None or da == db


def clause(sentence: str, start: int, end: int, protected: Sequence[tuple[int, int]] = ()) -> str:
    """The clause of `sentence` holding [start, end): cut at commas and semicolons (not
    inside a value such as "January 10, 2022"); an opening clause that is only the value
    ("On January 10, a meeting … took place in Geneva") runs on into the next.

    >>> s = "Talks on January 10, 2022, the NATO-Russia Council Meeting on January 12, and more"
    >>> clause(s, s.index("January 12"), s.index("January 12") + 10, [(9, 25)])
    ' the NATO-Russia Council Meeting on January 12'
    """
    cuts = [m.start() for m in re.finditer(r"[,;](?=\s)", sentence) if not any(a <= m.start() < b for a, b in protected)]
    bounds = [-1, *cuts, len(sentence)]
    for i in range(len(bounds) - 1):
        lo, hi = bounds[i] + 1, bounds[i + 1]
        if lo <= start < hi or (start < lo and end > lo):
            text = sentence[lo:hi]
            rest = text[:start - lo] + text[end - lo:]
            if len(words(rest)) < 3 and i + 2 < len(bounds):  # "On January 10," opens the clause it dates
                text = sentence[lo:bounds[i + 2]]
            return text
    return sentence


def _about(text: str, weights: dict[str, float]) -> float:
    """Share of the question's topic terms (weighted) in `text` (stems sharing 6 letters match)."""
    if not weights:
        return 1.0
    near = set(terms(text))
    prefixes = {t[:6] for t in near}
    total = sum(weights.values())
    hit = sum(w for s, w in weights.items() if s in near or (len(s) >= 6 and s[:6] in prefixes))
    return hit / total


def _distance(sentence: str, start: int, end: int, said: dict[str, float]) -> int:
    """Characters from a value to the nearest word of what is asked ("cost" for "How much did it cost?")."""
    spots = [m.start() for m in re.finditer(r"\w+", sentence) if any(t[:6] == s[:6] for t in terms(m.group(0)) for s in said)]
    return min((abs(p - start) if p < start else abs(p - end) for p in spots), default=len(sentence))


def distinct_reports(a: Article, b: Article) -> bool:
    """Two articles are two reports when their publisher or their date is known and differs."""
    return any(x is not None and y is not None and x != y for x, y in ((a.publisher, b.publisher), (a.date, b.date)))


def conflict(evidence: Evidence, hits: Sequence[Hit], question: str, min_score: float = 0.05, min_coverage: float = 0.5,
             depth: int = 8) -> tuple[Side, ...]:
    """The sides, when the passages that answer a date or number question disagree; else ().

    The first side is the best-ranked passage's value."""
    kind = evidence.answer_type
    if kind not in ("date", "number") or not evidence.ranked:
        return ()
    weights = topic(evidence.weights)
    special = {s for w in names(question[1:]) | numbers(question) for s in terms(w)}
    said = {s: w for s, w in weights.items() if s not in special}  # what is asked about the named things
    sides: list[Side] = []
    for c in evidence.ranked[:depth]:
        if c.score < min_score:
            continue
        spans = values_in(kind, c.text, question)
        found = [(s, e, k, _about(clause(c.text, s, e, [(a, b) for a, b, _ in spans]), weights),
                  -_distance(c.text, s, e, said)) for s, e, k in spans]
        found = [f for f in found if f[3] >= min_coverage]
        if not found:
            if c is evidence.ranked[0]:
                return ()  # the best passage gives no value about the question: nothing to compare
            continue
        s, e, key, *_ = max(found, key=lambda f: (f[3], f[4]))  # the value whose clause says what is asked, nearest to it
        for i, side in enumerate(sides):
            if compatible(side.key, key):
                sides[i] = Side(side.value, side.key, side.candidates + (c,))
                break
        else:
            sides.append(Side(c.text[s:e], key, (c,)))
    if len(sides) < 2 or evidence.ranked[0] not in sides[0].candidates:
        return ()
    first = hits[sides[0].candidates[0].hit].article
    sides = [sides[0]] + [x for x in sides[1:] if distinct_reports(first, hits[x.candidates[0].hit].article)]
    return tuple(sides[:3]) if len(sides) > 1 else ()


__all__ = ["Side", "compatible", "conflict", "values_in"]
