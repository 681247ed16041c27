"""Small text utilities shared by chunking, BM25, answering and verification.

Sentences are returned as character spans, never as copies, so every later stage can cite
exact offsets into the article's cleaned text. Terms for BM25 and for the evidence checks
are lower-cased, stop-word-filtered Snowball stems: "missiles" and "missile" match.
"""

from __future__ import annotations

import calendar
import re
from functools import lru_cache

from qa.lexicon import MONTH_PATTERN, MONTHS, WEEKDAYS

# Abbreviations after which a period does not end a sentence.
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "st", "gen", "col", "lt", "sgt", "capt", "gov", "sen", "rep",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    "no", "vs", "etc", "inc", "ltd", "co", "corp", "jr", "sr", "u.s", "u.k", "e.g", "i.e", "approx",
}
# A candidate boundary: terminal punctuation, optional closing quotes/brackets, whitespace.
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+)")
_STARTS_SENTENCE = re.compile(r"\s+[\"'“‘(\[]*[A-Z0-9А-ЯЁ]")

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are aren't as at be because been before
    being below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just me more
    most my myself no nor not now of off on once only or other our ours ourselves out over own same she
    should so some such than that the their theirs them themselves then there these they this those
    through to too under until up very was we were what when where which while who whom why will with
    would you your yours yourself yourselves said says say tell told according did does do many much
    whose""".split()
)
# Words that make a question a question; they carry no evidence.
QUESTION_WORDS = frozenset(
    "what which who whom whose when where why how name describe explain give list".split()
)

_WORD = re.compile(r"\w+(?:[-'’]\w+)*", re.UNICODE)


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Character spans of the sentences in `text[start:end]`, whitespace trimmed.

    Lines are paragraph boundaries (news text puts one paragraph a line).
    >>> t = "NATO met on Jan. 12. It failed.\\nNew para"
    >>> [t[a:b] for a, b in split_sentences(t)]
    ['NATO met on Jan. 12.', 'It failed.', 'New para']
    """
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text[start:end]):
        ls, le = start + line.start(), start + line.end()
        cut = ls
        for m in _BOUNDARY.finditer(text, ls, le):
            b = m.end()
            if not _STARTS_SENTENCE.match(text, b) or _is_abbreviation(text, ls, m.start()):
                continue
            spans.append((cut, b))
            cut = b
        spans.append((cut, le))
    return [t for s, e in spans if (t := _trim(text, s, e))]


def _is_abbreviation(text: str, line_start: int, dot: int) -> bool:
    word = re.search(r"([\w.]+)$", text[line_start:dot])
    if not word:
        return False
    w = word.group(1).lower()
    return w in _ABBREVIATIONS or (len(w) == 1 and w.isalpha())  # "J. Stoltenberg"


def _trim(text: str, s: int, e: int) -> tuple[int, int] | None:
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    return (s, e) if e > s else None


def words(text: str) -> list[str]:
    """Word tokens as written: `words("SSC-8 isn't new")` -> ['SSC-8', "isn't", 'new']."""
    return _WORD.findall(text)


def bare(word: str) -> str:
    """A word lower-cased without its possessive: "Stoltenberg's" -> "stoltenberg"."""
    w = word.lower().replace("’", "'")
    return w[:-2] if w.endswith("'s") else w


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer  # PyStemmer: Snowball, in C

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    return _stemmer().stemWord(word)


def terms(text: str, keep_stopwords: bool = False) -> list[str]:
    """Lower-cased stems for BM25 and overlap checks; hyphenated words also split.

    >>> terms("Russian 9M729 missiles violate the INF Treaty")
    ['russian', '9m729', 'missil', 'violat', 'inf', 'treati']
    """
    out: list[str] = []
    for w in _WORD.findall(text.lower().replace("’", "'")):
        parts = [w] if "-" not in w else [w.replace("-", ""), *w.split("-")]
        for p in parts:
            if p.endswith("'s"):
                p = p[:-2]
            if not p or (not keep_stopwords and (p in STOPWORDS or p in QUESTION_WORDS)):
                continue
            out.append(stem(p))
    return out


_NUMBER = re.compile(r"\b\d[\d,.]*\b")


def numbers(text: str) -> set[str]:
    """Numbers written with digits, thousands separators removed: {"2019", "9"}."""
    return {n.replace(",", "").rstrip(".") for n in _NUMBER.findall(text)}


# A month or weekday as a whole word: "the mayor" and "marched" name no date.
_CALENDAR_WORD = re.compile(rf"\b(?:{MONTH_PATTERN}|(?:{'|'.join(WEEKDAYS)})(?![a-z]))", re.IGNORECASE)


# Month words that are also everyday words ("workers may strike", "the march", "mar the
# talks"): a month only capitalised, and as a text's first word only before a day or year
# ("May 6 was ...", not "May NATO expand?").
_EVERYDAY_MONTHS = frozenset({"may", "march", "mar", "mar."})
_OPENING = " \t\n\"'“‘(["


def _names_month(text: str, m: re.Match) -> bool:
    """Whether the calendar word `m` (matched in `text`) names a month or weekday there."""
    if m.group(0).lower() not in _EVERYDAY_MONTHS:
        return True
    if not text[m.start()].isupper():
        return False
    return bool(text[:m.start()].strip(_OPENING)) or bool(re.match(r"\s+\d", text[m.end():]))


def has_date(text: str) -> bool:
    """True when the text names a date or time: a month, weekday, year, or a relative day.

    >>> has_date("Workers may strike again."), has_date("Talks resume in May."), has_date("May 6 was quiet.")
    (False, True, True)
    >>> has_date("The march reached the square."), has_date("May NATO expand?")
    (False, False)
    """
    if any(_names_month(text, m) for m in _CALENDAR_WORD.finditer(text)):
        return True
    low = text.lower()
    if re.search(r"\b(1[5-9]\d\d|20\d\d)s?\b", low):
        return True
    return bool(re.search(r"\b(yesterday|today|last (week|month|year)|earlier (this|in the) \w+)\b", low))


def names(text: str) -> set[str]:
    """Capitalised words that are not sentence-initial function words: candidate names.

    >>> sorted(names("On Sunday, Jens Stoltenberg met the Kremlin."))
    ['Jens', 'Kremlin', 'Stoltenberg', 'Sunday']
    """
    out = set()
    for m in _WORD.finditer(text):
        w = m.group(0)
        if w[0].isupper() and w.lower() not in STOPWORDS and w.lower() not in QUESTION_WORDS and len(w) > 1:
            out.add(w)
    return out


def human_date(iso: str | None) -> str | None:
    """An ISO date, full or partial (its precision kept), as people write it.

    >>> human_date("2020-02-12"), human_date("2023-12"), human_date("2023")
    ('12 February 2020', 'December 2023', '2023')
    """
    if not iso:
        return None
    parts = iso.split("-")
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        return f"{MONTHS[int(parts[1]) - 1].title()} {parts[0]}"
    y, m, d = parts
    return f"{int(d)} {MONTHS[int(m) - 1].title()} {y}"


ISO_DATE = re.compile(r"\d{4}(?:-(0[1-9]|1[0-2])(?:-(0[1-9]|[12]\d|3[01]))?)?")


def date_span(iso: str) -> tuple[str, str]:
    """First and last day of an ISO date that may be partial (an article dated "2023-12").

    >>> date_span("2020-02"), date_span("2021"), date_span("2022-01-14")
    (('2020-02-01', '2020-02-29'), ('2021-01-01', '2021-12-31'), ('2022-01-14', '2022-01-14'))
    """
    parts = iso.split("-")
    if len(parts) == 1:
        return f"{parts[0]}-01-01", f"{parts[0]}-12-31"
    if len(parts) == 2:
        y, m = int(parts[0]), int(parts[1])
        return f"{y:04d}-{m:02d}-01", f"{y:04d}-{m:02d}-{calendar.monthrange(y, m)[1]:02d}"
    return iso, iso
