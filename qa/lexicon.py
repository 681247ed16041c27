"""The word lists the answer layer reads, in one place.

Why: months, number words and ordinals used to live in five modules that disagreed ("half"
was a number in one and not in another). Every check that asks "is this a number word" or
"is this a month" reads these lists, so a word added here is understood everywhere.
Stems are computed where they are used (`qa.text.terms`), never stored here.
"""

from __future__ import annotations

import re

MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
          "october", "november", "december")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# Month -> number, with the abbreviations news text uses ("Feb.", "Sept").
MONTH_NUMBERS = {m: i for i, m in enumerate(MONTHS, 1)} | {m[:3]: i for i, m in enumerate(MONTHS, 1)} | {"sept": 9}
# A month name or its abbreviation as a whole word ("Jan.", "Sept", "December"), never the
# start of another word: "50 decided", "5 marathons" and "30 junior doctors" hold no date.
MONTH_PATTERN = (r"(?:" + "|".join(MONTHS) + r"|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)"
                 r"(?:\.|(?![A-Za-z]))")

# Number words and the value they stand for ("three" supports "3"). Words for an unknown
# amount ("dozens") count as numbers for "how many" but stand for no digit string.
NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve".split())}
AMOUNT_WORDS = ("dozen", "dozens", "hundred", "hundreds", "thousand", "thousands", "million", "millions",
                "billion", "billions", "half")
COUNT_PATTERN = "|".join(sorted(set(NUMBER_WORDS) - {"zero"} | set(AMOUNT_WORDS), key=len, reverse=True))
# Every number word up to ninety-nine, for reading a value ("thirteen miners", "sixty-two
# homes"); NUMBER_WORDS stays the short list the answer gate's checks were fitted with.
_TEENS = "thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
_SMALL = "one two three four five six seven eight nine".split()
NUMBER_WORD_PATTERN = (rf"(?:{'|'.join(_TENS)})(?:[- ](?:{'|'.join(_SMALL)}))?|{'|'.join(_TEENS)}"
                       rf"|{'|'.join(sorted(NUMBER_WORDS, key=len, reverse=True))}")
_WORD_VALUES = {w: int(v) for w, v in NUMBER_WORDS.items()} | {w: 13 + i for i, w in enumerate(_TEENS)} \
    | {w: 20 + 10 * i for i, w in enumerate(_TENS)}


def word_number(text: str) -> int | None:
    """The value of a number word or hyphenated pair, else None.

    >>> word_number("Thirteen"), word_number("sixty-two"), word_number("twenty"), word_number("lots")
    (13, 62, 20, None)
    """
    parts = re.split(r"[- ]", text.lower().strip())
    values = _WORD_VALUES
    if not parts or any(p not in values for p in parts):
        return None
    if len(parts) == 1:
        return values[parts[0]]
    if len(parts) == 2 and parts[0] in _TENS and parts[1] in _SMALL:
        return values[parts[0]] + values[parts[1]]
    return None


ORDINALS = {"first": "one", "second": "two", "third": "three", "fourth": "four", "fifth": "five",
            "sixth": "six", "seventh": "seven", "eighth": "eight", "ninth": "nine", "tenth": "ten"}

# Irregular past forms the Snowball stemmer leaves alone, mapped to the stem of their base form.
IRREGULAR_STEMS = {
    "met": "meet", "left": "leav", "spoke": "speak", "held": "hold", "won": "win", "took": "take",
    "gave": "give", "went": "go", "came": "come", "began": "begin", "sent": "send", "thought": "think",
    "made": "make", "found": "find", "becam": "becom", "led": "lead", "sold": "sell", "bought": "buy",
    "fought": "fight", "brought": "bring", "kept": "keep", "chose": "choos", "wrote": "write", "saw": "see",
}

# Plural nouns without a final "s": what "How many staff / people …" counts.
UNMARKED_PLURALS = frozenset("people children men women police staff personnel cattle troops crew feet teeth mice geese".split())


def is_plural(word: str) -> bool:
    """A plural noun by its form: "votes", "people", not "class", "bus" or "analysis".

    >>> [is_plural(w) for w in ("votes", "people", "class", "bus", "analysis", "miner")]
    [True, True, False, False, False, False]
    """
    w = word.lower()
    return w in UNMARKED_PLURALS or (w.endswith("s") and not w.endswith(("ss", "us", "is")))


# Words that shape a question or name the kind of answer wanted, not its topic: an archive
# that never writes "remarks" or "city" can still answer "Which city hosted the remarks?".
FRAME_WORDS = (
    "besides instead whether article articles remark remarks comment comments statement statements "
    "date day year month time name names designation abbreviation title city country region place "
    "organisation organization body agency level kind type sort describe described host hosted attend "
    "attended speak spoke full other else reason reasons "
    # politeness and task words people wrap a question in ("please explain exactly …"):
    # what remains after qa/phrasing.py strips the framing phrases must not count them either
    "please kindly thanks thank exactly actually particular particularly precisely specifically briefly "
    "basically really detail details detailed summary summarise summarize overview explain explanation"
).split()

# Offices a person holds: "the Kremlin spokesman …" refers back to a named person
# (qa/compose.py), and "Who is the mayor of …?" asks who holds one now (qa/freshness.py).
OFFICES = ("spokesman", "spokeswoman", "spokesperson", "minister", "prime minister", "secretary", "secretary-general",
           "president", "leader", "chief", "head", "envoy", "ambassador", "general", "chairman", "chair", "premier",
           "senator", "governor", "mayor", "director", "ceo", "commander")
OFFICE_PATTERN = "|".join(sorted((re.escape(o) for o in OFFICES), key=len, reverse=True))

# Lowercase words allowed inside a multi-word name when reading an acronym from it:
# "Organization for Security and Co-operation in Europe" -> OSCE.
NAME_JOINERS = frozenset({"of", "for", "and", "the", "in", "on", "de", "du", "la", "&"})

# Words that make a capitalised run an organisation, place or thing rather than a person:
# "Riverside Party candidate Owen Tregarth" answers "Who came second?" with the person.
NOT_PERSON_WORDS = frozenset("""
    party council union movement office center centre company corporation corp group authority board committee
    agency ministry department university college school institute association bank court commission service
    services police army navy force forces church museum hospital foundation trust club league federation alliance
    organization organisation program programme project administration government parliament assembly senate
    congress society empire kingdom republic state states city county district province region river sea lake
    mountain island street road bridge station airport port festival exhibition award prize act treaty war series
    inc ltd plc llc co news times post press network gallery hall house room
""".split())
# Titles before a name, capitalised in running text: "Associate Administrator Robert Seamans".
PERSON_TITLES = frozenset(OFFICES) | frozenset("""
    associate deputy assistant vice administrator professor dr mr mrs ms sir lord lady king queen prince princess
    judge justice candidate captain coach manager economist sociologist historian author chancellor inspector
    officer sergeant detective councillor superintendent chief senior executive acting former
""".split())

YEAR = re.compile(r"^(1[5-9]\d\d|20\d\d)$")
# "How ___ ...?" asks for a quantity: a count, an amount, a duration or a measure.
HOW_QUANTITY = ("many", "much", "long", "old", "far", "fast", "deep", "high", "tall", "wide", "heavy")

__all__ = ["OFFICES", "OFFICE_PATTERN", "MONTHS", "WEEKDAYS", "MONTH_NUMBERS", "MONTH_PATTERN", "NUMBER_WORDS", "NUMBER_WORD_PATTERN", "AMOUNT_WORDS", "COUNT_PATTERN",
           "ORDINALS", "IRREGULAR_STEMS", "UNMARKED_PLURALS", "is_plural", "FRAME_WORDS", "NAME_JOINERS", "NOT_PERSON_WORDS", "PERSON_TITLES", "YEAR", "HOW_QUANTITY", "word_number"]
