"""Conflicting reports: passages that answer the same question with different dates or numbers.

Why: reports of one event disagree (one says the Geneva talks began on January 20, another
January 10; two casualty counts). Picking one silently hides that from a journalist; the
answer should say "Reports differ" and cite both sides.

Decisions:
- Only dates and numbers are compared: two different names for "who" are as often two
  right answers (co-chairs, several speakers) as a disagreement.
- Each report (an article) answers with one value: the most likely, by a value scorer, of the
  dates or amounts stated by the best-ranked sentences whose chunk and title name what the
  question names (the same event). The scorer (models/conflict-values, fitted by `make model`
  with qa/fit_conflicts.py on the labelled sets that were read) weighs the sentence's
  answer-ranker score, the value's unit against the one asked, the counted noun after it,
  the question's verb in its clause, its distance to the question's words. A report's other
  numbers are not its answer.
- An amount carries its unit (percent, money, length, time, temperature, ...; "£4.20 for
  each share" is a rate): amounts in different units are never compared. A plain count
  is weighed by the counted noun after it and the words of what is asked in its clause ("40
  firefighters" does not answer "How many people were evacuated?"); what is asked is the
  question's words less its names, the counted noun and the words that name the event
  (in most of the report's sentences, or in two reports' headlines). Times of day, ages
  ("Morsby, 58,") and parts ("Two of the injured") are not counts; a corrected figure
  ("revised the toll to 17") replaces the one before it.
- Only distinct reports conflict: the two articles' publishers or dates are known and
  differ. Paragraphs of one undated, unattributed text (an encyclopedia article, where
  the SQuAD test half showed 24 false alarms in 1,000 questions: "two" teams vs "seven"
  Super Bowls) state many related numbers that are not disagreements; so does one news
  article, which is why a report that corrects itself is not caught. Two reports that
  each also state the other's figure report two facts, not a disagreement.
- Values conflict when they cannot both be true: two days (or months, or years) that
  differ, or two amounts that differ. "January 2022" and "January 12" do not conflict.
  Reports more than SAME_STORY_DAYS apart are a change over time (qa/freshness.py).
- Two figures more than MAX_RATIO (the scorer's `max_ratio`, 2) apart, or two dates of
  different precision ("May 22" and "September 2026"), are two facts, not two reports of one.
- The rules alone (before the scorer) were measured on five fresh sets at precision
  0.33-0.88, recall 0.27-0.64 (docs/EVAL.md); the scorer's numbers are there too.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from qa.dates import DATELINE, month_number
from qa.gate import DATE_PHRASE, Evidence, counted_noun, topic
from qa.lexicon import HOW_QUANTITY, MONTH_PATTERN, NUMBER_WORD_PATTERN, YEAR, is_plural, word_number
from qa.errors import QAError
from qa.ranker import REBUILD, Candidate, Logistic, verify_manifest
from qa.text import STOPWORDS, date_span, names, numbers, stem, terms, words
from qa.types import Article, Hit

_DATE = re.compile(
    rf"\b(?:(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<m1>{MONTH_PATTERN}),?(?:\s+(?P<y1>\d{{4}}))?"
    rf"|(?P<m2>{MONTH_PATTERN})\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<y2>\d{{4}}))?(?!\d)"
    rf"|(?P<m3>{MONTH_PATTERN})\s+(?P<y3>\d{{4}})"
    rf"|(?:in|since|by)\s+(?P<y4>1[89]\d\d|20\d\d)"
    rf"|(?:end|beginning|start|middle)\s+of\s+(?P<m5>{MONTH_PATTERN}))\b",
    re.IGNORECASE,
)
# An amount: an optional currency sign, digits (possessive: "1,240-metre" is one token, never
# "1" then ",240") or a number word, an optional multiplier, and the unit that follows, written
# apart or hyphenated ("6-metre gash").
_AMOUNT = re.compile(
    rf"(?P<sign>[€$£])?(?:(?<![\w.,:-])(?P<digits>\d+(?:,\d{{3}})*+(?:\.\d+)?+)|\b(?P<word>{NUMBER_WORD_PATTERN}))"
    r"(?:\s*(?P<mult>million|billion|thousand|hundred|bn|m)\b)?"
    r"(?:(?:\s+|-)(?P<unit>per\s+cent|km/h|[a-z]+)|(?P<pct>%)|(?P<deg>\s?°\s?[CF]?))?(?![\w-])",
    re.IGNORECASE,
)
# Nouns that name a sum of money ("the budget shortfall", "the transfer fee").
_MONEY_NOUNS = ("cost|costs|price|budget|shortfall|deficit|fine|salary|wage|revenue|profit|bill|debt|fee|fare|rent|bonus|"
                "compensation|grant|loan|payout")
_MEASURED = re.compile(rf"^\W*(?:\w+\s+){{0,2}}?how (?:{'|'.join(HOW_QUANTITY)}|big|large)\b"
                       r"|\bmagnitude\b|\bturnout\b|\btemperature\b|\bwhat (?:percentage|proportion|share|number|size|height|length|depth|speed)\b"
                       r"|^\W*what (?:will|would|did|does|do)\b.*\bcost\b"
                       # "What is the value of the takeover?", "What pay rise …?", "What level had it fallen to?"
                       r"|^\W*(?:(?:at|to|by|for|of|in)\s+)?(?:what|which)\b(?!\s+(?:time|day|date|year|month)\b).*\b(?:value|"
                       r"rise|increase|altitude|elevation|level|speed|size|wait|premium|coverage|total|amount|figure|rate|toll|"
                       rf"height|length|depth|distance|weight|capacity|margin|population|attendance|sum|{_MONEY_NOUNS})\b", re.I)
# A figure the same sentence corrects: the value before it was superseded by the one after.
_REVISED = re.compile(r"\b(?:revised|raised|lowered|corrected|updated|increased|reduced|put|(?:rise|rises|rose|risen|fall|falls|fell|"
                      r"fallen|climb|climbs|climbed|jump|jumps|jumped|grow|grows|grew|increase|increases|go up|goes up|went up)"
                      r"\s+from)\b(?:[^.;]|\.(?=\d))*?\bto\b", re.I)
# The figure before a change: "$6.75 per crossing, up from $5.50"
_EARLIER = re.compile(r"\b(?:up|down|rising|falling)\s+from\s+$|\bcompared (?:with|to)\s+$", re.I)
_RATE = re.compile(r"\s*(?:[a-z]+\s+){0,2}?(?:per|for each|each|a|an)\s+(?:share|head|person|year|month|week|day|hour|"
                   r"household|home|passenger|ticket|tonne|litre|barrel|kilo|unit)\b(?!\s+(?:earlier|ago|before))", re.I)
_AGE = re.compile(r"[A-Z][\w'’-]+,\s$")  # "Helena Morsby, 58, said": an age after a name
_BOUND = re.compile(r"\b(?:aged|age|ages|under|over)\s+$", re.I)
_MULTIPLIERS = {"hundred": 1e2, "thousand": 1e3, "million": 1e6, "m": 1e6, "billion": 1e9, "bn": 1e9}
# Units that say what an amount measures: two amounts in different units are about different
# things ("2 hours" is not a count of runners), the same amount in one unit is one fact. Each
# word carries its size in the kind's base unit (hours, metres, kilograms, km/h): amounts are
# compared in that base, so "72 hours" and "five days" are 72 and 120 hours.
def _each(*words: str, size: float = 1) -> dict[str, float]:
    return dict.fromkeys(words, size)


UNITS = {
    "percent": _each("percent", "per cent", "pc", "%"),
    "money": _each("euro", "euros", "dollar", "dollars", "crown", "crowns", "pound", "pounds", "franc", "francs",
                   "kronor", "krona", "yen", "yuan", "rouble", "roubles", "rubles", "€", "$", "£"),
    "length": _each("metre", "metres", "meter", "meters", "m") | _each("km", "kilometre", "kilometres", "kilometer",
                                                                        "kilometers", size=1000)
              | _each("mile", "miles", size=1609.344) | _each("foot", "feet", "ft", size=0.3048)
              | _each("centimetre", "centimetres", "cm", size=0.01) | _each("millimetre", "millimetres", "mm", size=0.001)
              | _each("yard", "yards", size=0.9144),
    "time": _each("second", "seconds", size=1 / 3600) | _each("minute", "minutes", size=1 / 60) | _each("hour", "hours")
            | _each("day", "days", size=24) | _each("week", "weeks", size=168) | _each("month", "months", size=730)
            | _each("year", "years", size=8760),
    "mass": _each("tonne", "tonnes", "ton", "tons", size=1000) | _each("kg", "kilogram", "kilograms", "kilo", "kilos"),
    "volume": _each("litre", "litres", "liter", "liters", "gallon", "gallons", "barrel", "barrels", "cubic"),
    "area": _each("hectare", "hectares", "acre", "acres", "square"),
    "speed": _each("kph", "km/h") | _each("mph", size=1.609344) | _each("knots", size=1.852),
    "temperature": _each("degree", "degrees"),
}
_UNIT_OF = {w: (kind, size) for kind, sizes in UNITS.items() for w, size in sizes.items()}
# What the question's words say the unit is: "What percentage…" asks for percent, "How much
# did it cost" for money, "How long" for a length or a duration.
_ASKED_UNIT = (
    (re.compile(r"\bpercent(?:age)?\b|\bper cent\b|%", re.I), {"percent"}),
    (re.compile(r"\bhow much\b.*\b(?:cost|costs|price|paid|pay|fine|fined|worth|budget|spend|spent|damage|raise|"
                r"raised|owe|owed|compensation|bill)\b|\bhow much money\b|\bhow many (?:euros|dollars|pounds|crowns)\b",
                re.I), {"money"}),
    (re.compile(r"\bhow (?:tall|high|deep|far|wide)\b|\bhow many (?:metres|meters|kilometres|kilometers|miles|feet)\b"
                r"|\bwhat (?:height|depth|width|distance)\b", re.I), {"length"}),
    # "For how long was the runway shut?", "How long did the strike last?": a duration
    (re.compile(r"\bfor how long\b|\bhow long (?:did|does|do|will|would|has|have|had|can|could|should)\b"
                r"|\bhow long\b.*\b(?:last|lasted|lasting|take|took|taken|shut|closed|close|closure|delayed|suspended|stay|"
                r"stayed|remain|remained|wait|waited|missing|trapped|disrupted|strike|outage|burn|burned|burnt|cut|held|detained|"
                r"jailed|stuck|stranded|blocked|isolated|without)\b", re.I), {"time"}),
    (re.compile(r"\bhow long\b|\bwhat length\b", re.I), {"length", "time"}),
    (re.compile(r"\baltitude\b|\belevation\b", re.I), {"length"}),
    (re.compile(r"\bhow fast\b|\bspeed\b", re.I), {"speed", "length"}),
    (re.compile(r"\bturnout\b", re.I), {"percent"}),
    (re.compile(r"\bhow many (?:hours|days|weeks|months|years|minutes)\b", re.I), {"time"}),
    # a sum of money the question names without "how much": "How large is the budget shortfall?"
    (re.compile(r"^(?!.*\bhow (?:many|long|fast|far|tall|high|deep|old)\b).*\b(?:worth|value of|fees|fares|prize money|"
                rf"{_MONEY_NOUNS})\b", re.I), {"money"}),
    # "How much oil leaked?": an amount with a unit, not a count of things
    (re.compile(r"\bhow much\b", re.I), {"money", "percent", "length", "mass", "volume", "area", "speed", "temperature"}),
)


PREFIX = 6  # letters two word forms share to count as one word ("hospitalised" ~ "hospital")
MIN_TOPIC = 0.5  # share of the question's names a passage's chunk and title must hold
DEPTH = 16  # ranked sentences read (all the ranker scored)
SAME_STORY_DAYS = 31  # reports further apart that differ describe a change (qa/freshness.py), not a conflict
EVENT_SHARE = 0.4  # a question word in this share of a report's sentences names the event
BUNDLED_SCORER = Path(__file__).resolve().parent.parent / "models" / "conflict-values"


@dataclass(frozen=True)
class Side:
    """One value the passages give, and the candidates that give it (best first)."""

    value: str  # as the first passage writes it: "January 20", "17"
    key: tuple  # the value normalised for comparison
    candidates: tuple[Candidate, ...]


def unit_of(word: str | None) -> str | None:
    """The kind of unit a word names ("metres" -> "length"), None for a counted thing or nothing.

    >>> unit_of("euros"), unit_of("per  cent"), unit_of("runners"), unit_of(None)
    ('money', 'percent', None, None)
    """
    unit = _unit(word)
    return unit[0] if unit else None


def _unit(word: str | None) -> tuple[str, float] | None:
    """The kind of unit a word names and its size in the kind's base unit ("km" -> ("length", 1000))."""
    return _UNIT_OF.get(re.sub(r"\s+", " ", word.lower())) if word else None


def in_asked_unit(unit: str | None, wanted: set[str]) -> bool:
    """Whether an amount's unit is one the question asks for; a rate counts as its unit
    ("money/rate", £4.20 a share, is money).

    >>> in_asked_unit("money/rate", {"money"}), in_asked_unit(None, {"money"})
    (True, False)
    """
    return (unit or "").split("/")[0] in wanted


def asked_units(question: str) -> set[str] | None:
    """The units the question's words ask for, or None when they do not say.

    >>> asked_units("How much did the bridge cost?"), asked_units("How many people were hurt?")
    ({'money'}, None)
    """
    for pattern, units in _ASKED_UNIT:
        if pattern.search(question):
            return units
    counted = re.search(r"\bhow many\s+([a-z]+)", question, re.I)
    if counted and unit_of(counted.group(1)):  # "How many acres …"
        return {unit_of(counted.group(1))}
    return None


def values_in(kind: str, sentence: str, question: str) -> list[tuple[int, int, tuple]]:
    """(start, end, key) of every date or amount in the sentence that the question does not state.

    A date's key is (precision, year, month, day); an amount's is ("amount", value, unit kind).

    >>> [k for *_, k in values_in("date", "Talks began on January 20, 2022 and ended in March 2022.", "When?")]
    [('day', 2022, 1, 20), ('month', 2022, 3, None)]
    >>> [k for *_, k in values_in("number", "It cost €4.2 million, and a 6-metre wall; thirteen men and 54 per cent.", "?")]
    [('amount', 4200000.0, 'money'), ('amount', 6.0, 'length'), ('amount', 13.0, None), ('amount', 54.0, 'percent')]
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
            elif g["m5"]:  # "by the end of September"
                key = ("month", None, month_number(g["m5"]), None)
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
        for m in _AMOUNT.finditer(masked, skip):
            digits, word = m.group("digits"), m.group("word")
            if digits and (re.match(r"[:.]\d|\s?[ap]\.?m\b", masked[m.end("digits"):m.end("digits") + 5], re.I)
                           or _BOUND.search(masked[:m.start()])
                           or (_AGE.search(masked[:m.start()]) and masked[m.end("digits"):m.end("digits") + 1] == ",")):
                continue  # "6:40 pm", "2 pm", "6 a.m." are times of day; "children under 10", "aged 41": an age, not a count
            if digits:
                raw = digits.replace(",", "")
                if (YEAR.match(raw) and "," not in digits) or raw in asked:  # "2,087 votes" is no year
                    continue
                try:
                    value = float(raw)
                except ValueError:
                    continue
            else:
                if word.lower() == "one":  # as often a pronoun ("one of the runners") as a count
                    continue
                value = float(word_number(word))
                if str(int(value)) in asked:
                    continue
            if m.group("mult"):
                if m.group("mult").lower() == "m" and not m.group("sign"):
                    continue  # "6 m" is six metres unless money is written ("€6m")
                value *= _MULTIPLIERS[m.group("mult").lower()]
            unit, size = (("percent", 1) if m.group("pct") else ("temperature", 1) if m.group("deg")
                          else _unit(m.group("unit")) or (None, 1))
            value *= size  # in the kind's base unit
            if unit is None and m.group("sign"):
                unit = "money"
            if unit and _RATE.match(masked, m.end()):  # "£4.20 for each share" is a price, not the deal's value
                unit += "/rate"
            number_end = m.end("mult") if m.group("mult") else m.end("digits") if digits else m.end("word")
            written = m.group("pct") or m.group("deg") or unit_of(m.group("unit"))  # "£14.2 million budget" shows as "£14.2 million"
            hyphenated = m.group("unit") and masked[m.start("unit") - 1] == "-"  # "6-metre gash" shows as "6"
            end = m.end() if written and not hyphenated else number_end
            if _EARLIER.search(masked[max(0, m.start() - 20):m.start()]):
                continue
            out.append((m.start(), end, ("amount", value, unit)))
        revised = _REVISED.search(masked)
        if revised:  # "later revised the toll to 17", "will rise from $5.50 to $6.50": only the later value stands
            later = [v for v in out if v[0] >= revised.end()]
            out = [v for v in out if v[0] >= revised.end() or not any(comparable(v[2], w[2]) for w in later)]
    return out


def compatible(a: tuple, b: tuple) -> bool:
    """Whether two values can both be true ("January 2022" and "12 January": yes).

    >>> compatible(("day", None, 1, 20), ("day", 2022, 1, 10)), compatible(("month", 2022, 1, None), ("day", None, 1, 12))
    (False, True)
    """
    if a[0] == "amount" or b[0] == "amount":
        return a[:2] == b[:2]
    (_, ya, ma, da), (_, yb, mb, db) = a, b
    if ya is not None and yb is not None and ya != yb:
        return False
    if ma is not None and mb is not None and ma != mb:
        return False
    return da is None or db is None or da == db


def comparable(a: tuple, b: tuple) -> bool:
    """Whether two values measure the same kind of thing: dates with dates, amounts in one unit
    ("2 hours" and "8,870" runners are not two answers to one question)."""
    if (a[0] == "amount") != (b[0] == "amount"):
        return False
    return a[0] != "amount" or a[2] == b[2]


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


def _same_word(a: str, b: str) -> bool:
    """Two stems are one word when the shorter (at least 4 letters) starts the longer, up to
    PREFIX letters: "start" ~ "starter", "hospit" ~ "hospitalis"."""
    n = min(len(a), len(b), PREFIX)
    return n >= 4 and a[:n] == b[:n]


def _matches(text: str, stems: set[str]) -> int:
    """How many of `stems` are words of `text`."""
    near = set(terms(text))
    return sum(1 for s in stems if any(_same_word(s, t) for t in near))


def _event_words(text: str, stems: set[str]) -> set[str]:
    """The stems that name the event rather than what is asked about it: those in at least
    EVENT_SHARE of the report's sentences ("fire" in a report of a fire), or in its headline."""
    sentences = [set(terms(x)) for x in re.split(r"(?<=[.!?])\s+|\n+", text) if x.strip()]
    if not sentences:
        return set()
    return {s for s in stems if sum(any(_same_word(s, t) for t in x) for x in sentences) >= EVENT_SHARE * len(sentences)}


def measured(question: str) -> bool:
    """A question asking for a quantity, by its opening words ("How fast was the train going
    when …" asks for a speed, not a date) or the quantity it names ("What was the magnitude …").

    >>> measured("How tall will the roof be?"), measured("What was the magnitude of the quake?"), measured("Who won?")
    (True, True, False)
    >>> measured("How fast was it going when it derailed?"), measured("When did it start?")
    (True, False)
    """
    return bool(_MEASURED.search(question))


def _context_about(hit: Hit, names_asked: dict[str, float]) -> bool:
    """The passage's chunk or its article's title names at least half of what the question
    names (weighted): the value is about the same event, not another with the same words."""
    return _about(f"{hit.article.title or ''} {hit.chunk.text}", names_asked) >= MIN_TOPIC


@dataclass(frozen=True)
class _Asked:
    """What the question asks, read once per question: the kind of value, the units it asks
    for, what it counts, and the words of what is asked about the event."""

    text: str
    kind: str  # "date" or "number"
    wanted: set[str] | None  # units the question names (asked_units)
    counts: bool  # "How many …": things, not hours or metres
    of_them: bool  # "How many of the …": a part is what is asked
    noun: str | None  # the counted noun's stem
    predicate: set[str]  # what is asked about the event
    said: dict[str, float]  # the question's words less its names


def same_story(a: Article, b: Article, days: int = SAME_STORY_DAYS) -> bool:
    """Whether two reports were published within `days` of each other (an undated one may
    be): reports of one story. Values further apart describe different moments (a 2022
    article recalling that the treaty ended in August 2019 does not contradict a 2020 report
    of what was said on February 11), or a change over time (qa/freshness.py)."""
    if not a.date or not b.date:
        return True
    (a0, a1), (b0, b1) = date_span(a.date), date_span(b.date)
    gap = max(dt.date.fromisoformat(b0) - dt.date.fromisoformat(a1), dt.date.fromisoformat(a0) - dt.date.fromisoformat(b1))
    return gap.days <= days


def _states(text: str, kind: str, question: str, key: tuple) -> bool:
    """Whether a report's text states the value `key` anywhere (in the same unit)."""
    return any(compatible(k, key) and comparable(k, key) for _, _, k in values_in(kind, text, question))


@dataclass(frozen=True)
class Value:
    """A date or amount one passage states: a candidate answer of its report (article)."""

    article: str  # the report's article id
    candidate: Candidate  # the sentence that states it
    start: int  # offsets of the value in candidate.text
    end: int
    key: tuple  # normalised (values_in)
    features: dict[str, float]  # what the value scorer reads (value_features)
    shown_end: int = -1  # where the value as shown ends: a count with what it counts ("37 votes")

    @property
    def text(self) -> str:
        return self.candidate.text[self.start:self.end]

    @property
    def shown(self) -> str:
        return self.candidate.text[self.start:max(self.end, self.shown_end)]


def _counted_end(sentence: str, end: int, noun: str | None) -> int:
    """The end of the noun a plain count counts, when the next word is one ("37 votes", "seven
    people"), else `end`: "Reports differ: A says 37 votes; B says 52 votes" reads better than
    bare numbers.

    >>> s = "She won by 37 votes, and 11 were hurt."
    >>> s[11:_counted_end(s, 13, None)], s[25:_counted_end(s, 27, None)]
    ('37 votes', '11')
    >>> s = "It carried 12 class pupils and 40 children."
    >>> s[11:_counted_end(s, 13, None)], s[31:_counted_end(s, 33, None)]
    ('12', '40 children')
    """
    m = re.match(r"\s+([a-z]+)\b", sentence[end:end + 30])
    if not m or m.group(1) in STOPWORDS:
        return end
    word = m.group(1)
    return end + m.end() if is_plural(word) or (noun and _same_word(stem(word), noun)) else end


def value_features(c: Candidate, s: int, e: int, key: tuple, spans: Sequence[tuple[int, int, tuple]], asked: _Asked,
                   rank: int, in_article: int, best_score: float, title: str) -> dict[str, float]:
    """The named signals that a value answers the question: how likely its sentence holds the
    answer (the answer ranker), whether its unit is the one asked for, whether its clause states
    what is asked (the question's verb, the counted noun after it), how near it is to the
    question's words. The value scorer (models/conflict-values) weighs them."""
    counting = asked.kind == "number"
    part = clause(c.text, s, e, [(a, b) for a, b, _ in spans])
    asked_words = max(1, len(asked.predicate))
    after = words(c.text[e:e + 40])[:3]
    plain = counting and key[2] is None
    unit = key[2] if key[0] == "amount" else None
    counted = bool(asked.noun) and any(_same_word(stem(w.lower()), asked.noun) for w in after)
    verb = _matches(part, asked.predicate)
    wanted = asked.wanted
    return {
        "score": c.score, "log_score": math.log(max(c.score, 1e-4)), "share": c.score / max(best_score, 1e-6),
        "rank": 1.0 / (1 + rank), "article_top": float(in_article == 0), "article_rank": 1.0 / (1 + in_article),
        "date": float(asked.kind == "date"),
        "unit_wanted": float(wanted is not None and in_asked_unit(unit, wanted)),
        "unit_unwanted": float(wanted is not None and not in_asked_unit(unit, wanted)),
        "count_plain": float(wanted is None and asked.counts and unit is None),
        "count_unit": float(wanted is None and asked.counts and unit not in (None, "percent")),
        "rate": float(bool(unit) and unit.endswith("/rate")),
        "counted": float(counted), "noun_in_clause": float(bool(asked.noun) and _matches(part, {asked.noun}) > 0),
        "verb": float(verb > 0), "verb_share": verb / asked_words, "verb_in_sentence": _matches(c.text, asked.predicate) / asked_words,
        # "Three wards … closed" counts wards, not the patients asked about
        "other_thing": float(plain and not counted and bool(after) and after[0].isalpha() and after[0].lower() not in STOPWORDS),
        "distance": math.log1p(_distance(c.text, s, e, asked.said)), "values": math.log1p(len(spans)),
        "first_value": float(spans[0][0] == s), "in_title": float(c.text[s:e].lower() in (title or "").lower()),
        "no_predicate": float(not asked.predicate),
        "part": float(plain and not asked.of_them and [w.lower() for w in after[:1]] == ["of"]),  # "5 of them", "Two of the injured"
    }


def _read(evidence: Evidence, hits: Sequence[Hit], question: str) -> tuple[_Asked, dict[str, float]] | None:
    """What the question asks (once per question) and the names that identify its event; None
    when it asks for no date or number."""
    kind = "number" if measured(question) else evidence.answer_type
    if kind not in ("date", "number") or not evidence.ranked:
        return None
    weights = topic(evidence.weights)
    special = {s for w in names(question[1:]) | numbers(question) for s in terms(w)}
    said = {s: w for s, w in weights.items() if s not in special}  # what is asked about the named things
    named = {s: w for s, w in weights.items() if s in special} or weights
    lead = hits[evidence.ranked[0].hit].article
    noun = counted_noun(question) if kind == "number" else None
    # What is asked about the event: the question's words less the counted noun and the
    # words that name the event (in most of the lead report's sentences, or in the headlines
    # of two reports: "fire", "earthquake").
    titled: dict[str, set[str]] = {}
    for h in hits:
        if _context_about(h, named):
            for t in set(terms(h.article.title or "")):
                titled.setdefault(t, set()).add(h.article.id)
    event = _event_words(lead.text, set(said)) | {s for s in said if any(_same_word(s, t) and len(ids) > 1 for t, ids in titled.items())}
    asked = _Asked(question, kind, asked_units(question) if kind == "number" else None,
                   bool(re.search(r"\bhow many\b", question, re.I)), bool(re.search(r"\bhow many of\b", question, re.I)),
                   noun, {s for s in said if not (noun and _same_word(s, noun)) and s not in event}, said)
    return asked, named


def candidate_values(evidence: Evidence, hits: Sequence[Hit], question: str) -> tuple[str, list[Value]]:
    """The question's kind ("date", "number" or "" for neither) and every value of that kind
    stated by the DEPTH best-ranked sentences whose passage is about the question's event
    (a part of a count, "Two of the injured", is one too: "5 of them were admitted to
    hospital" answers "How many were hospitalised?"; the `part` feature weighs it)."""
    read = _read(evidence, hits, question)
    if read is None:
        return "", []
    asked, named = read
    best = evidence.ranked[0].score
    seen: dict[str, int] = {}
    out = []
    for rank, c in enumerate(evidence.ranked[:DEPTH]):
        hit = hits[c.hit]
        if not _context_about(hit, named):
            continue
        article = hit.article.id
        in_article = seen.get(article, 0)
        seen[article] = in_article + 1
        spans = values_in(asked.kind, c.text, question)
        for s, e, key in spans:
            shown = _counted_end(c.text, e, asked.noun) if key[0] == "amount" and key[2] is None else e
            out.append(Value(article, c, s, e, key,
                             value_features(c, s, e, key, spans, asked, rank, in_article, best, hit.article.title or ""), shown))
    return asked.kind, out


@dataclass(frozen=True)
class ValueScorer:
    """P(a value answers the question) and the decision thresholds, fitted by `make model`
    (qa/fit_conflicts.py) on the labelled conflict sets that were read."""

    value: Logistic
    lead_min: float  # the answer of the leading report must be at least this likely …
    other_min: float  # … another report's answer at least this (it is compared with the lead's) …
    date_share: float  # … and, for a date, at least this share of the lead's probability
    max_ratio: float  # two amounts further apart than this factor are two different figures

    @classmethod
    def load(cls, directory: Path = BUNDLED_SCORER) -> "ValueScorer":
        verify_manifest(directory, what="conflict value scorer")
        try:
            d = json.loads((directory / "scorer.json").read_text(encoding="utf-8"))
            return cls(Logistic.from_dict(d["value"]), float(d["lead_min"]), float(d["other_min"]), float(d["date_share"]),
                       float(d["max_ratio"]))
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise QAError(f"the conflict value scorer in {directory} is unreadable ({e}); {REBUILD}") from None

    def to_dict(self) -> dict:
        return {"value": self.value.to_dict(), "lead_min": self.lead_min, "other_min": self.other_min, "date_share": self.date_share,
                "max_ratio": self.max_ratio}


@functools.lru_cache(maxsize=1)
def load_value_scorer() -> ValueScorer:
    """The shipped scorer, checked against its manifest once per process."""
    return ValueScorer.load()


def _far_apart(a: tuple, b: tuple, ratio: float) -> bool:
    """Two amounts more than `ratio` times apart ("23 runners treated" against "9,100 runners"),
    or two dates written to different precision ("May 22" against "September 2026"): two
    different facts more likely than two reports of one."""
    if a[0] == "amount" and b[0] == "amount":
        lo, hi = sorted((abs(a[1]), abs(b[1])))
        return lo == 0 or hi / lo > ratio
    return a[0] != b[0]


def conflict(evidence: Evidence, hits: Sequence[Hit], question: str, scorer: ValueScorer | None = None) -> tuple[Side, ...]:
    """The sides, when reports that answer a date or number question disagree; else ()."""
    kind, values = candidate_values(evidence, hits, question)
    return sides_of(kind, values, hits, question, scorer or load_value_scorer()) if values else ()


def sides_of(kind: str, values: Sequence[Value], hits: Sequence[Hit], question: str, scorer: ValueScorer) -> tuple[Side, ...]:
    """The sides the candidate values (candidate_values) give, when they disagree; else ().

    Every value is scored (ValueScorer: P(it answers the question)). The most likely one, if
    at least `lead_min`, is the lead report's answer and the first side. Each other report
    answers with its most likely value of the same kind and unit, not `max_ratio` times off
    the lead's (nor a date of another precision), at least `other_min` likely (a date at least
    `date_share` of the lead's); it is a second side when it cannot be true with the first,
    comes from a distinct report of the same story, and neither report also states the
    other's figure."""
    # A value in a unit the question rules out is no answer however it scores: "How deep were
    # the miners trapped?" is not answered by a count of miners, "How long were they cut off?"
    # not by a depth.
    scored = sorted(((scorer.value(v.features), v) for v in values if not v.features["unit_unwanted"]), key=lambda x: -x[0])
    if not scored:
        return ()
    lead_p, first = scored[0]
    if lead_p < scorer.lead_min:
        return ()
    lead = hits[first.candidate.hit].article
    sides = [Side(first.shown, first.key, (first.candidate,))]
    answered = {first.article}
    for p, v in scored[1:]:
        if p < scorer.other_min:
            break
        if v.article in answered or not comparable(first.key, v.key) or (v.key[0] != "amount" and p < scorer.date_share * lead_p):
            continue
        if _far_apart(first.key, v.key, scorer.max_ratio):
            continue  # "31 runners treated" is not this report's count of the 8,500 who started: read on
        answered.add(v.article)  # this report's answer: its most likely value in the lead's unit and range
        article = hits[v.candidate.hit].article
        if not distinct_reports(lead, article) or not same_story(lead, article) or compatible(first.key, v.key):
            continue
        if v.key[0] == "amount" and (_states(lead.text, kind, question, v.key) or _states(article.text, kind, question, first.key)):
            continue  # each report also states the other's figure: two facts, not a disagreement
        for i, side in enumerate(sides):
            if compatible(side.key, v.key):
                sides[i] = Side(side.value, side.key, side.candidates + (v.candidate,))
                break
        else:
            sides.append(Side(v.shown, v.key, (v.candidate,)))
    return tuple(sides[:3]) if len(sides) > 1 else ()


__all__ = ["SAME_STORY_DAYS", "Side", "Value", "ValueScorer", "candidate_values", "compatible", "conflict", "in_asked_unit", "load_value_scorer",
           "same_story", "sides_of", "value_features", "values_in"]
