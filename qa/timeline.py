"""A timeline: the dated claims about a topic, in date order, one line each, each cited.

Why: "What happened with the INF Treaty?" or "How did the talks develop?" is answered by
a chronology, and journalists build one for every running story. The passages retrieved
for the topic are read sentence by sentence; each sentence that names the topic and a
date becomes a line, dated by the first date it states.

Decisions:
- A sentence's relative or partial dates ("on Thursday", "February 11", "last month") are
  read from its article's date, as a reader of that article would (qa/dates.py); an
  undated article's from "today" (the newest article's date).
- A dateline's date ("BRUSSELS, February 12. /TASS/.") is when the story was filed, not
  what it reports, and is skipped; so are a bare month or weekday in prose.
- Lines are sorted by the first day of their date; a month-precise date ("in August
  2019") sorts before the days of that month and is printed as "August 2019".
- At most `MAX_LINES` lines; the same sentence once.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Sequence

from qa.dates import DATE_IN_TEXT, DATELINE, MONTH_WORD, expression_span
from qa.errors import QAError
from qa.gate import coverage, topic
from qa.ranker import candidate_spans
from qa.lexicon import MONTHS
from qa.text import date_span, terms
from qa.types import Hit

MAX_LINES = 12
_CALENDAR = frozenset(terms(" ".join(MONTHS)))
_VAGUE = re.compile(rf"(?:{MONTH_WORD}|today|yesterday|this\s+\w+|next\s+\w+)", re.IGNORECASE)


@dataclass(frozen=True)
class Line:
    """One dated claim: the days its date covers, the date as shown, and the sentence."""

    first: dt.date
    last: dt.date
    when: str  # "12 January 2022", "August 2019", "2014"
    hit: int  # index into the hits
    start: int  # the sentence's offsets in its article
    end: int


def _shown(first: dt.date, last: dt.date) -> str:
    if first == last:
        return f"{first.day} {MONTHS[first.month - 1].title()} {first.year}"
    if first.month == last.month and first.year == last.year:
        return f"{MONTHS[first.month - 1].title()} {first.year}"
    if (first.month, first.day, last.month, last.day) == (1, 1, 12, 31) and first.year == last.year:
        return str(first.year)
    return f"{_shown(first, first)} to {_shown(last, last)}"


def first_date(sentence: str, written: dt.date) -> tuple[dt.date, dt.date] | None:
    """The days the first date a sentence states covers, read from the day it was `written`.

    >>> first_date("On February 11, Stoltenberg said so.", dt.date(2020, 2, 12))
    (datetime.date(2020, 2, 11), datetime.date(2020, 2, 11))
    >>> first_date("BRUSSELS, February 12. /TASS/. NATO met.", dt.date(2020, 2, 12)) is None
    True
    """
    skip = m.end() if (m := DATELINE.match(sentence)) else 0
    for m in DATE_IN_TEXT.finditer(sentence, skip):
        expr = m.group(0)
        if _VAGUE.fullmatch(expr):
            continue
        try:
            return expression_span(expr, written)
        except QAError:
            continue
    return None


def timeline_lines(hits: Sequence[Hit], query: str, weights: dict[str, float], today: dt.date,
                   period: tuple[str | None, str | None] = (None, None)) -> list[Line]:
    """The dated sentences of `hits` that name the topic (a key term of `query`), in date order;
    only those whose date overlaps `period` (first, last ISO day; None = open) when one is given."""
    about = {t: w for t, w in topic(weights).items() if not t.isdigit() and t not in _CALENDAR}  # the period is no topic
    about = about or topic(weights)
    lines: list[Line] = []
    seen: set[str] = set()
    for i, h in enumerate(hits):
        written = dt.date.fromisoformat(date_span(h.article.date)[0]) if h.article.date else today
        for s, e in candidate_spans(h.article.text, h.chunk.start, h.chunk.end):
            sentence = h.article.text[s:e]
            if sentence in seen or coverage(about, set(terms(sentence))) == 0:
                continue
            span = first_date(sentence, written)
            if span is None or (period[0] and span[1].isoformat() < period[0]) or (period[1] and span[0].isoformat() > period[1]):
                continue
            seen.add(sentence)
            lines.append(Line(span[0], span[1], _shown(*span), i, s, e))
    lines.sort(key=lambda x: (x.first, x.last, x.hit, x.start))
    return lines[:MAX_LINES] if len(lines) <= MAX_LINES else _spread(lines)


def _spread(lines: list[Line]) -> list[Line]:
    """MAX_LINES lines spread evenly over a longer timeline (its first and last kept)."""
    step = (len(lines) - 1) / (MAX_LINES - 1)
    return [lines[round(k * step)] for k in range(MAX_LINES)]


__all__ = ["Line", "MAX_LINES", "first_date", "timeline_lines"]
