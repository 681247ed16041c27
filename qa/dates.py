"""Dates in questions: "What did NATO say in January 2022?" -> the period 2022-01-01 … 2022-01-31.

Why: news questions name times ("in 2019", "on 12 January", "between 2019 and 2020",
"before the end of 2021", "last year"), and an archive answers them only if retrieval
looks at the right time. This module finds the period a question names; the answer layer
(qa/answering.py) decides how to use it.

Decisions:
- The structure ("between A and B", "before A", "since A", "in A") is read with regular
  expressions; each date expression inside is read by `dateparser` (a well-kept parser of
  written dates in many forms and of relative ones, "last month", "2 weeks ago"), which
  also says its granularity (day, week, month, year) so that "January 2022" becomes the
  whole month.
- Relative dates count from `today`: the newest article's date by default (an archive
  from 2022 asked "last year" means 2021), or a date given by the caller.
- A date that cannot exist ("February 30, 2022") is a `QAError` naming it, never a crash
  and never silently ignored.
- `publication` is True when the question asks about *when articles appeared* ("articles
  from", "reported in", "published"); otherwise the period is about the *event*, and a
  2020 article about what happened in 2019 must still be found.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache

from qa.errors import QAError
from qa.lexicon import MONTH_NUMBERS, MONTH_PATTERN, NUMBER_WORDS
from qa.text import date_span

OPEN_START = dt.date(1, 1, 1)
OPEN_END = dt.date(9999, 12, 31)


@dataclass(frozen=True)
class Period:
    """A span of days a question names, both ends inclusive; None = open on that side."""

    start: str | None
    end: str | None
    text: str  # the words of the question it was read from
    publication: bool = False  # the question asks when articles were published, not when things happened
    # the period bounds what is asked ("What did NATO say in January 2022?", "What happened
    # in 2019?", "articles from 2020"), rather than dating one detail of it ("Where did the
    # consultations end on January 13?", "the members that joined after 1997")
    scope: bool = True

    def __post_init__(self) -> None:
        if self.start is None and self.end is None:
            raise ValueError("a period needs a start or an end")
        if self.start and self.end and self.start > self.end:
            raise ValueError(f"period starts {self.start} after it ends {self.end}")

    def contains(self, iso: str) -> bool:
        """Whether the ISO date (or a partial one: "2020-02", "2020") falls in the period."""
        first, last = date_span(iso)
        return (self.start is None or last >= self.start) and (self.end is None or first <= self.end)

    def describe(self) -> str:
        """ "2022-01-01 to 2022-01-31", "to 2021-12-31", "from 2020-01-01"."""
        if self.start and self.end:
            return f"{self.start} to {self.end}"
        return f"from {self.start}" if self.start else f"to {self.end}"

    def to_dict(self) -> dict:
        return {"start": self.start, "end": self.end, "text": self.text, "publication": self.publication,
                "describe": self.describe()}


# --- date expressions ----------------------------------------------------------------------

_MONTH = rf"(?:{MONTH_PATTERN})"
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_YEAR = r"(?:1[89]\d\d|20\d\d)"
_COUNT = r"(?:\d+|a|an|" + "|".join(w for w in NUMBER_WORDS if w != "zero") + ")"
_UNIT = r"(?:day|week|month|year)s?"
# One date expression, longest forms first. Month names are matched case-insensitively but
# a bare month must be capitalised and follow a preposition ("in May"), see `_bare_month_ok`.
_EXPR = (
    rf"\d{{4}}-\d{{2}}-\d{{2}}|\d{{4}}-\d{{2}}(?!\d)"
    rf"|{_DAY}\s+(?:of\s+)?{_MONTH},?\s+{_YEAR}|{_MONTH}\s+{_DAY},?\s+{_YEAR}"
    rf"|{_DAY}\s+(?:of\s+)?{_MONTH}(?![\w-])|{_MONTH}\s+{_DAY}(?![\w-])"
    rf"|{_MONTH},?\s+{_YEAR}|(?:early|mid|late)[-\s]+{_YEAR}|{_YEAR}(?![\w-])"
    rf"|(?:last|this|next|past|previous)\s+(?:year|month|week)|yesterday|today"
    rf"|{_COUNT}\s+{_UNIT}\s+ago"
    rf"|{_MONTH}(?![\w-])"
)
_BEFORE = r"before|prior\s+to|earlier\s+than|until|till|up\s+to|by\s+the\s+end\s+of|by"
_AFTER = r"after|since|later\s+than|following"  # "from 2020" alone means in 2020 ("articles from 2020")
_FIND = re.compile(
    rf"(?P<between>\b(?:between|from)\s+(?:the\s+)?(?P<a>{_EXPR})\s+(?:and|to|until|till|through|-|–)\s+(?:the\s+)?(?P<b>{_EXPR}))"
    rf"|(?P<range>(?<![\w-])(?P<ya>{_YEAR})\s*[-–]\s*(?P<yb>{_YEAR})(?![\w-]))"
    rf"|(?P<past>\b(?:in\s+|over\s+|during\s+)?the\s+(?:past|last)\s+(?P<n>{_COUNT})\s+(?P<unit>{_UNIT}))"
    rf"|(?P<before>\b(?:{_BEFORE})\s+(?:the\s+)?(?:end\s+of\s+)?(?P<c>{_EXPR}))"
    rf"|(?P<after>\b(?:{_AFTER})\s+(?:the\s+)?(?:start\s+of\s+)?(?P<d>{_EXPR}))"
    rf"|(?P<plain>(?:\b(?:in|on|during|of|at|for|from)\s+(?:the\s+)?)?(?P<e>(?<![\w-])(?:{_EXPR})))",
    re.IGNORECASE,
)
# The question is about when articles appeared, not when things happened. "dated" counts
# only after an article word: "a window dated 1523-35" dates a thing.
_PUBLICATION = re.compile(
    r"\b(?:articles?|reports?|stories|coverage|news)\s+(?:from|of|in|dated|published)\b|\bpublished\b"
    r"|\b(?:reported|written|run|ran|printed)\s+(?:in|on|during|before|after|since|between)\b",
    re.IGNORECASE,
)


@lru_cache(maxsize=8)
def _parser(today: dt.date):
    from dateparser.date import DateDataParser

    return DateDataParser(languages=["en"], settings={
        "RELATIVE_BASE": dt.datetime(today.year, today.month, today.day),
        "PREFER_DATES_FROM": "past", "PREFER_DAY_OF_MONTH": "first",
    })


_MONTH_PREPOSITION = r"(?:in|on|during|since|until|before|after|by)\b"  # a month named alone counts after one of these
_AFTER_PREPOSITION = re.compile(rf"\b{_MONTH_PREPOSITION}\s+$", re.IGNORECASE)


def _bare_month_ok(match: re.Match) -> bool:
    """A month named alone counts only capitalised and after a preposition: "in May", "on
    Tuesday" is no month, and "May NATO expand?" uses the verb."""
    word = match.group("e").strip()
    return word[:1].isupper() and bool(re.match(_MONTH_PREPOSITION, match.group(0), re.IGNORECASE))


def expression_span(expr: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """The days a date expression covers.

    >>> d = dt.date(2022, 1, 14)
    >>> [tuple(x.isoformat() for x in expression_span(e, d)) for e in ("January 2022", "12 January", "2019", "last month")]
    [('2022-01-01', '2022-01-31'), ('2022-01-12', '2022-01-12'), ('2019-01-01', '2019-12-31'), ('2021-12-01', '2021-12-31')]
    """
    text = " ".join(expr.split())
    _check_day_exists(text)
    low = text.lower()
    m = re.fullmatch(rf"(early|mid|late)[-\s]+({_YEAR})", low)
    if m:
        y = int(m.group(2))
        thirds = {"early": (1, 4), "mid": (5, 8), "late": (9, 12)}[m.group(1)]
        return dt.date(y, thirds[0], 1), dt.date(y, thirds[1], calendar.monthrange(y, thirds[1])[1])
    if re.fullmatch(_YEAR, low):
        return dt.date(int(low), 1, 1), dt.date(int(low), 12, 31)
    m = re.fullmatch(r"(\d{4})-(\d{2})", low)
    if m:
        y, mo = int(m.group(1)), int(m.group(2))
        last = y // 100 * 100 + mo  # "1523-35", "the 2019-20 season": a span of years, not a month
        if not 1 <= mo <= 12 and last > y:
            return dt.date(y, 1, 1), dt.date(last, 12, 31)
        if not 1 <= mo <= 12:
            raise QAError(f"the question's date “{text}” has no month {mo}; write a month 01-12")
        return dt.date(y, mo, 1), dt.date(y, mo, calendar.monthrange(y, mo)[1])
    m = re.fullmatch(r"(this|last|previous|past|next)\s+(year|month|week)", low)
    if m:
        return _relative(m.group(1), m.group(2), today)
    if re.fullmatch(_MONTH, low):  # a month alone: its latest occurrence up to today
        mo = month_number(low)
        y = today.year if mo <= today.month else today.year - 1
        return dt.date(y, mo, 1), dt.date(y, mo, calendar.monthrange(y, mo)[1])
    m = (re.fullmatch(rf"(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH})", low)
         or re.fullmatch(rf"({_MONTH})\s+(\d{{1,2}})(?:st|nd|rd|th)?", low))
    if m:  # a day without a year: its occurrence nearest to today (news runs a little behind events)
        day_s, month_s = (m.group(1), m.group(2)) if m.group(1)[0].isdigit() else (m.group(2), m.group(1))
        mo = month_number(month_s)
        options = [dt.date(y, mo, int(day_s)) for y in range(today.year - 4, today.year + 2)  # 29 February: a leap year
                   if int(day_s) <= calendar.monthrange(y, mo)[1]]
        best = min(options, key=lambda d: abs((d - today).days))
        return best, best
    data = _parser(today).get_date_data(text)
    if data.date_obj is None:
        raise QAError(f"the question's date “{text}” is not a date this assistant can read; write it like 12 January 2022")
    day = data.date_obj.date()
    if data.period == "year":
        return dt.date(day.year, 1, 1), dt.date(day.year, 12, 31)
    if data.period == "month":
        return day.replace(day=1), day.replace(day=calendar.monthrange(day.year, day.month)[1])
    if data.period == "week":
        monday = day - dt.timedelta(days=day.weekday())
        return monday, monday + dt.timedelta(days=6)
    return day, day


def _check_day_exists(text: str) -> None:
    """A day-month(-year) that no calendar has ("February 30, 2022", "31 April") is an error."""
    m = (re.fullmatch(rf"(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH}),?(?:\s+({_YEAR}))?", text, re.IGNORECASE)
         or re.fullmatch(rf"({_MONTH})\s+(\d{{1,2}})(?:st|nd|rd|th)?,?(?:\s+({_YEAR}))?", text, re.IGNORECASE))
    if m is None:
        m2 = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", text)
        if m2:
            try:
                dt.date(int(m2.group(1)), int(m2.group(2)), int(m2.group(3)))
            except ValueError:
                raise QAError(f"the question's date “{text}” does not exist; check the month and day") from None
        return
    a, b, year = m.groups()
    day, month = (a, b) if a.isdigit() else (b, a)
    mo = month_number(month)
    try:
        dt.date(int(year) if year else 2000, mo, int(day))  # 2000: a leap year, so "29 February" alone exists
    except ValueError:
        raise QAError(f"the question's date “{text}” does not exist; check the month and day") from None


def month_number(name: str) -> int | None:
    """ "January", "jan.", "Sept" -> 1, 1, 9 (a name `MONTH_WORD` matched); None for no month."""
    key = name.lower().rstrip(".")
    return MONTH_NUMBERS.get(key) or MONTH_NUMBERS.get(key[:4] if key.startswith("sept") else key[:3])


def _relative(which: str, unit: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """ "this/last/next year|month|week" around `today`; "past" = the last one."""
    step = {"this": 0, "last": -1, "previous": -1, "past": -1, "next": 1}[which]
    if unit == "year":
        y = today.year + step
        return dt.date(y, 1, 1), dt.date(y, 12, 31)
    if unit == "month":
        y, mo = divmod(today.year * 12 + today.month - 1 + step, 12)
        return dt.date(y, mo + 1, 1), dt.date(y, mo + 1, calendar.monthrange(y, mo + 1)[1])
    monday = today - dt.timedelta(days=today.weekday()) + dt.timedelta(weeks=step)
    return monday, monday + dt.timedelta(days=6)


def _count(word: str) -> int:
    w = word.lower()
    return 1 if w in ("a", "an") else int(NUMBER_WORDS.get(w, w))


def _back(today: dt.date, n: int, unit: str) -> dt.date:
    unit = unit.lower().rstrip("s")
    if unit == "day":
        return today - dt.timedelta(days=n)
    if unit == "week":
        return today - dt.timedelta(weeks=n)
    months = n * (12 if unit == "year" else 1)
    y, mo = divmod(today.year * 12 + today.month - 1 - months, 12)
    return dt.date(y, mo + 1, min(today.day, calendar.monthrange(y, mo + 1)[1]))


# Verbs of a question that asks what was said or done in a time ("What did NATO say in …?",
# "What happened to X in …?"): the period after them bounds the whole question.
_GENERIC = re.compile(
    r"\b(?:say|says|said|saying|happen|happens|happened|do|done|report|reported|announce|announced|write|wrote|"
    r"written|discuss|discussed|decide|decided|claim|claimed|state|stated|warn|warned|argue|argued|change|changed|"
    r"develop|developed|went|new|latest|news)\b", re.IGNORECASE)  # not "did": the auxiliary of most questions


def _bounds_the_question(question: str, match: re.Match) -> bool:
    """The period closes the question (only "about X" may follow) and a generic verb of
    saying or happening comes before it."""
    after = question[match.end():].strip(" ?.!")
    if after and not re.fullmatch(r"(?:about|on|regarding)\s+.+", after, re.IGNORECASE):
        return False
    return bool(_GENERIC.search(question[:match.start()]))


def question_period(question: str, today: dt.date) -> Period | None:
    """The period a question names, or None; relative dates count from `today`.

    >>> question_period("What did NATO say in January 2022?", dt.date(2022, 3, 1))
    Period(start='2022-01-01', end='2022-01-31', text='in January 2022', publication=False, scope=True)
    >>> question_period("Which articles from 2020 mention the INF Treaty?", dt.date(2022, 3, 1)).publication
    True
    >>> question_period("Which missile violates the INF treaty?", dt.date(2022, 3, 1)) is None
    True
    """
    for m in _FIND.finditer(question):
        kind = m.lastgroup
        if kind == "plain" and re.fullmatch(_MONTH, m.group("e"), re.IGNORECASE) and not _bare_month_ok(m):
            continue
        if kind == "between":
            start, end = expression_span(m.group("a"), today)[0], expression_span(m.group("b"), today)[1]
        elif kind == "range":
            start, end = dt.date(int(m.group("ya")), 1, 1), dt.date(int(m.group("yb")), 12, 31)
        elif kind == "past":
            start, end = _back(today, _count(m.group("n")), m.group("unit")), today
        elif kind == "before":
            first, last = expression_span(m.group("c"), today)
            inclusive = re.match(r"(?:until|till|up\s+to|by)\b", m.group(0), re.IGNORECASE)
            start, end = OPEN_START, (last if inclusive else first - dt.timedelta(days=1))
        elif kind == "after":
            first, last = expression_span(m.group("d"), today)
            inclusive = re.match(r"since\b", m.group(0), re.IGNORECASE)
            start, end = (first if inclusive else last + dt.timedelta(days=1)), OPEN_END
        else:
            start, end = expression_span(m.group("e"), today)
        if start > end:
            raise QAError(f"the question's period “{m.group(0).strip()}” ends before it starts; swap the dates")
        publication = bool(_PUBLICATION.search(question))
        return Period(None if start == OPEN_START else start.isoformat(), None if end == OPEN_END else end.isoformat(),
                      m.group(0).strip(), publication, publication or _bounds_the_question(question, m))
    return None


MONTH_WORD = _MONTH  # a month name or its abbreviation, as a regular expression
# "LINDMARK, May 22 (Delta News) -", "BRUSSELS, February 12. /TASS/.": when and where a story
# was filed, not what it reports (qa/conflicts.py and qa/timeline.py read past it)
DATELINE = re.compile(r"^[A-Z][A-Z .'-]+,\s+[A-Z][a-z]+\.?\s+\d{1,2}(?:,\s+\d{4})?\.?\s*(?:\([^)]{1,40}\)\s*[-–—]|/[^/]{1,30}/\.)")
DATE_IN_TEXT = re.compile(rf"(?<![\w-])(?:{_EXPR})", re.IGNORECASE)


def mentions(text: str, period: Period, written: dt.date | None) -> bool:
    """Whether a passage names a day inside `period`; its own relative or partial dates
    ("on Thursday", "February 11", "last year") are read from the day it was `written`.

    >>> p = Period("2019-01-01", "2019-12-31", "in 2019")
    >>> mentions("The US left the treaty in August 2019.", p, dt.date(2020, 2, 12))
    True
    >>> mentions("NATO met on February 11.", p, dt.date(2020, 2, 12))
    False

    A month named alone counts as a question's does (`_bare_month_ok`): capitalised, after a
    preposition.

    >>> jan = Period("2025-01-01", "2025-01-31", "in January")
    >>> [mentions(t, jan, dt.date(2025, 3, 6)) for t in ('"Members raised this in January," she said.', "January was mild.")]
    [True, False]
    """
    base = written or dt.date.today()
    for m in DATE_IN_TEXT.finditer(text):
        expr = m.group(0)
        if re.fullmatch(r"today|yesterday", expr, re.IGNORECASE) or (
                re.fullmatch(_MONTH, expr, re.IGNORECASE) and not (expr[:1].isupper() and _AFTER_PREPOSITION.search(text, 0, m.start()))):
            continue  # "today", "may" or a month in passing says too little
        try:
            first, last = expression_span(expr, base)
        except QAError:
            continue
        if (period.start is None or last.isoformat() >= period.start) and (period.end is None or first.isoformat() <= period.end):
            return True
    return False


__all__ = ["DATELINE", "DATE_IN_TEXT", "MONTH_WORD", "Period", "expression_span", "mentions", "month_number",
           "question_period"]
