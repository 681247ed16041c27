"""The answer inside a sentence: the date, number, name, place or other name a question asks for.

Used for the short answer shown in bold (qa/compose.py) and for telling two reports apart
when they give different values for the same thing (qa/conflicts.py).
"""

from __future__ import annotations

import re

from qa.conflicts import asked_units, in_asked_unit, values_in
from qa.gate import DATE_PHRASE, counted_noun
from qa.lexicon import COUNT_PATTERN, MONTH_PATTERN, MONTHS, NAME_JOINERS, NOT_PERSON_WORDS, PERSON_TITLES, WEEKDAYS, YEAR
from qa.text import STOPWORDS, bare, names, numbers, stem, words


_FULL_DATE = re.compile(
    rf"\b(?:{MONTH_PATTERN}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}|\d{{1,2}}\s+{MONTH_PATTERN}\s+\d{{4}}"
    rf"|{MONTH_PATTERN}\s+\d{{4}}|{MONTH_PATTERN}\s+\d{{1,2}}(?:st|nd|rd|th)?|\d{{1,2}}\s+{MONTH_PATTERN}"
    r"|(?:in |since |by )?(?:1[5-9]\d\d|20\d\d)s?)\b",
    re.IGNORECASE,
)
_NAME_RUN = re.compile(r"[A-Z0-9][\w’'.-]*(?:\s+(?:(?:" + "|".join(sorted(NAME_JOINERS - {"&"})) + r")\s+)?[A-Z0-9][\w’'.-]*)*")
_ALIAS_AFTER = re.compile(r"\b(?:known as|also called|dubbed|designated|called|code-?named|nicknamed)\s+(?:the\s+)?[\"“']?"
                          r"([A-Z0-9][\w-]*(?:\s+[A-Z0-9][\w-]*)*)")


def span_of_kind(kind: str, sentence: str, question: str) -> tuple[int, int] | None:
    """(start, end) in `sentence` of the first thing of `kind` ("date", "number", "alias",
    "name", "place") that the question does not already state, or None.

    >>> s = "Talks began in Geneva on January 20, focusing on guarantees."
    >>> a, b = span_of_kind("date", s, "When did the talks begin?"); s[a:b]
    'January 20'

    A number in the unit the question asks for, when the sentence has one: "80" firefighters
    is no duration.

    >>> s = "Some 50 firefighters fought the fire, which burned for about 6 hours."
    >>> a, b = span_of_kind("number", s, "How long did the fire burn?"); s[a:b]
    '6 hours'
    """
    asked_names = {bare(w) for w in names(question)} | {bare(w) for w in words(question) if any(ch.isdigit() for ch in w)}
    asked_numbers = numbers(question)
    if kind == "date":
        for m in _FULL_DATE.finditer(sentence):
            if not set(numbers(m.group(0))) or not set(numbers(m.group(0))) <= asked_numbers:
                s = m.start() + (len(m.group(0)) - len(m.group(0).lstrip()))
                for lead in ("in ", "since ", "by "):
                    if sentence[s:].lower().startswith(lead):
                        s += len(lead)
                return s, m.end()
        return None
    if kind == "number":
        wanted = asked_units(question)
        if wanted:  # "How long did it last?": the first amount in a unit asked for, if there is one
            amounts = [(a, b) for a, b, key in values_in("number", sentence, question) if in_asked_unit(key[2], wanted)]
            if amounts:
                return amounts[0]
        masked = DATE_PHRASE.sub(lambda m: " " * len(m.group(0)), sentence)
        noun = counted_noun(question)
        asked_words = {w.lower() for w in words(question)}  # "the eleven miners": not the answer
        found = [m for m in re.finditer(rf"\b(?:{COUNT_PATTERN})\b|(?<![\w-])\d[\d,.]*%?(?![\w-])", masked, re.IGNORECASE)
                 if not YEAR.match(m.group(0).rstrip(".,%")) and m.group(0).rstrip(".,%").replace(",", "") not in asked_numbers
                 and m.group(0).lower() != "one" and m.group(0).lower() not in asked_words]
        if noun:
            near = [m for m in found if any(stem(w)[:6] == noun[:6] for w in re.findall(r"\w+", masked[m.end():m.end() + 40])[:3])]
            found = near or found
        if not found:
            return None
        m = found[0]
        return m.start(), m.end() - (1 if m.group(0).endswith((".", ",")) else 0)
    if kind == "alias":
        for m in _ALIAS_AFTER.finditer(sentence):
            if bare(m.group(1)) not in asked_names:
                return m.start(1), m.end(1)
        codes = [m for m in re.finditer(r"\b[A-Z0-9]+(?:-[A-Z0-9]+)+\b|\b[0-9][A-Z][0-9]+\b", sentence) if bare(m.group(0)) not in asked_names]
        return (codes[0].start(), codes[0].end()) if codes else None
    # name / place: a run of capitalised words (not a sentence's opening function word, not
    # the first word alone, not a month or weekday) that the question does not already name.
    # A person is usually two words ("Dmitry Peskov"), so for "who" the first multi-word run
    # that reads as a person wins, else the first multi-word run; for "where" the first run
    # after "in", "at", "near" or "from".
    runs: list[tuple[int, int, int]] = []  # (start, end, words)
    for m in _NAME_RUN.finditer(sentence):
        run = _through_joiners(m.group(0)).rstrip(".,'’")
        toks = list(re.finditer(r"\S+", run))
        opens = m.start() == 0 or bool(_SENTENCE_END.search(sentence[:m.start()]))
        if m.start() == 0 and len(toks) == 1:
            continue
        while toks and opens and toks[0].group(0).lower() in _OPENING_WORDS:  # "The Kremlin ...", "By 1218", "His son"
            toks = toks[1:]
        while toks and toks[0].group(0).lower() in NAME_JOINERS:  # "In the Presidential" -> not "the Presidential"
            toks = toks[1:]
        words_ = [t.group(0) for t in toks if t.group(0).lower() not in _CALENDAR]
        if (not toks or not any(w[0].isalpha() for w in words_) or all(bare(w) in asked_names for w in words_)
                or toks[0].group(0).lower() in _CALENDAR):
            continue
        start = m.start() + toks[0].start()
        runs.append((start, m.start() + toks[-1].end(), len(words_)))
    if not runs:
        return None
    if kind == "place":
        after = [r for r in runs if re.search(r"\b(?:in|at|near|from)\s+(?:the\s+)?$", sentence[:r[0]])]
        return (after or runs)[0][:2]
    if re.match(r"\s*(?:who|whom)\b", question, re.IGNORECASE):
        people = [p for r in runs if (p := _person(sentence, r, asked_names))]
        if people:
            return people[0]
    return next((r for r in runs if r[2] >= 2), runs[0])[:2]


def _person(sentence: str, run: tuple[int, int, int], asked: frozenset[str] | set[str] = frozenset()) -> tuple[int, int] | None:
    """The span of `run` that reads as a person's name: its leading titles cut, two to four
    words, none an organisation or place word, not after "in", "at", "near", "from" or "of",
    and not a person the question names (`asked`, bare words).

    >>> s = "Riverside Party candidate Owen Tregarth came second."
    >>> _person(s, (0, 15, 2)), s[slice(*_person(s, (26, 39, 2)))]
    (None, 'Owen Tregarth')
    >>> s = "He wrote to Associate Administrator Robert Seamans."
    >>> s[slice(*_person(s, (12, 50, 4)))]
    'Robert Seamans'
    """
    start, end, _ = run
    if re.search(r"\b(?:in|at|near|from|of)\s+(?:the\s+)?$", sentence[:start], re.IGNORECASE):
        return None
    toks = list(re.finditer(r"\S+", sentence[start:end]))
    while toks and toks[0].group(0).lower().rstrip(".") in PERSON_TITLES:
        toks = toks[1:]
    words_ = [t.group(0) for t in toks]
    if (not 2 <= len(words_) <= 4 or any(bare(w) in NOT_PERSON_WORDS or not w[0].isupper() for w in words_)
            or all(bare(w) in asked for w in words_)):
        return None
    return start + toks[0].start(), start + toks[-1].end()


def _through_joiners(run: str) -> str:
    """A name run cut before a joiner that leads into a number, month or weekday, not a name:
    "Penfold Bakeries for 2.4" -> "Penfold Bakeries", "… in Europe on Monday" -> "… in Europe".

    >>> _through_joiners("Bank of England"), _through_joiners("Talks in Geneva and 12")
    ('Bank of England', 'Talks in Geneva')
    """
    toks = list(re.finditer(r"\S+", run))
    for joiner, nxt in zip(toks[1:], toks[2:]):
        if joiner.group(0).lower() in NAME_JOINERS and (nxt.group(0)[0].isdigit() or nxt.group(0).lower().rstrip(".,") in _CALENDAR):
            return run[:joiner.start()].rstrip()
    return run


_OPENERS = frozenset({"the", "a", "an", "in", "on", "at", "according", "but", "and", "after", "before", "earlier", "later"})
_CALENDAR = frozenset(MONTHS) | frozenset(WEEKDAYS) | {m[:3] for m in MONTHS}
_OPENING_WORDS = _OPENERS | STOPWORDS  # capitalised only because they open a sentence
_SENTENCE_END = re.compile(r"[.!?][\"”’']?\s+$")  # a run right after one opens a sentence


__all__ = ["span_of_kind"]
