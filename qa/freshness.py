"""Answers that can change: the newest report first, "as of" its date, the older value named.

Why: "Who leads the delegation?" or "How many members does NATO have?" has an answer that
changes over time. When passages of different dates answer it, the newest is the answer
"as of" its date, and a reader should hear of an older, different value rather than get
whichever passage ranked first.

Decisions:
- A question can change when it asks who holds a role now ("Who leads/heads/chairs …",
  "Who is the … minister/secretary/…"), how many there are ("How many … are/has …"), or
  says "current", "now", "still", "latest".
- Candidates: the sentences the composition would consider (probability at least
  `runner_up_share` of the best, and at least `runner_up_min`) from dated articles.
- The newest such sentence leads, "As of <its article's date>"; an older one is named when
  it gives a different value of the kind asked (qa/spans.py). For a name, only when the older
  sentence states a role ("the mayor of Orsk, Karl Rand", "Rand, who leads …"): a name in any
  other sentence of an older report ("… agreed to buy Penfold Bakeries") is no earlier holder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from qa.gate import THRESHOLDS, Evidence, Thresholds
from qa.lexicon import OFFICE_PATTERN
from qa.ranker import Candidate
from qa.spans import span_of_kind
from qa.text import date_span
from qa.types import Hit

CHANGEABLE = re.compile(
    r"^(?:who|which\s+\w+(?:\s+\w+)?)\s+(?:leads|heads|chairs|runs|governs|commands)\b"
    rf"|^who\s+(?:is|are)\s+(?:the\s+)?(?:current\s+)?(?:[\w'’-]+\s+){{0,3}}?(?:{OFFICE_PATTERN})\b"
    r"|^how\s+many\b.*\b(?:are|is|does|do|has|have)\b(?!.*\b(?:did|was|were|had)\b)"
    r"|\b(?:current|currently|now|still|latest|today)\b",
    re.IGNORECASE,
)
# A sentence that names who holds a role says the role: an office word or a verb of leading.
STATES_ROLE = re.compile(rf"\b(?:{OFFICE_PATTERN}|leads?|led|heads?|headed|chairs?|chaired|runs|ran|governs?|governed"
                         r"|commands?|commanded)\b", re.IGNORECASE)


def changeable(question: str) -> bool:
    """Whether the answer to a question can change over time.

    >>> changeable("Who leads the Russian delegation?"), changeable("How many members does NATO have?")
    (True, True)
    >>> changeable("Who said NATO is not a dove of peace?"), changeable("How many stages did the talks go through?")
    (False, False)
    """
    return bool(CHANGEABLE.search(question.strip()))


@dataclass(frozen=True)
class Fresh:
    """The newest answering sentence and, when it differs in value, an older one."""

    newest: Candidate
    as_of: str  # the newest sentence's article date (ISO, possibly partial)
    older: Candidate | None = None
    older_value: str = ""
    newest_value: str = ""


def _value(kind: str | None, c: Candidate, question: str) -> str:
    span = span_of_kind(kind, c.text, question) if kind else None
    return c.text[span[0]:span[1]] if span else ""


def freshest(evidence: Evidence, hits: Sequence[Hit], question: str, t: Thresholds = THRESHOLDS) -> Fresh | None:
    """The newest of the answering sentences when they come from differently dated articles
    of a changeable question; None otherwise (the usual answer stands)."""
    if not changeable(question) or not evidence.ranked:
        return None
    best = evidence.ranked[0]
    pool = [c for c in evidence.ranked if c.score >= max(t.runner_up_share * best.score, t.runner_up_min)
            and hits[c.hit].article.date]
    dates = {date_span(hits[c.hit].article.date)[1] for c in pool}
    if len(dates) < 2:
        return None
    newest = max(pool, key=lambda c: (date_span(hits[c.hit].article.date)[1], c.score))
    value = _value(evidence.answer_type, newest, question)
    newest_day = date_span(hits[newest.hit].article.date)[1]
    older = None
    older_value = ""
    for c in sorted(pool, key=lambda c: -c.score):
        if date_span(hits[c.hit].article.date)[1] >= newest_day:
            continue
        if evidence.answer_type == "name" and not STATES_ROLE.search(c.text):
            continue
        v = _value(evidence.answer_type, c, question)
        if v and value and v.casefold() != value.casefold():
            older, older_value = c, v
            break
    return Fresh(newest, hits[newest.hit].article.date, older, older_value, value)


__all__ = ["Fresh", "changeable", "freshest"]
