"""Answer composition: short answers, sentences that refer back, on hand-made cases."""

from __future__ import annotations

import pytest

from qa.compose import refers_back, with_antecedent
from qa.spans import span_of_kind
from qa.ranker import Candidate
from qa.types import Article, Chunk, Hit


@pytest.mark.parametrize("kind, sentence, question, expected", [
    ("date", "The talks began on January 10, 2022 in Geneva.", "When did the talks begin?", "January 10, 2022"),
    ("date", "Super Bowl 50 was played on February 7, 2016.", "When was Super Bowl 50 played?", "February 7, 2016"),
    ("date", "The treaty was signed in 1987 by both sides.", "In which year was the treaty signed?", "1987"),
    ("number", "The alliance has 30 member states and two observers.", "How many member states does it have?", "30"),
    ("number", "Talks went through three stages in 2014.", "How many stages were there?", "three"),
    ("name", "According to IRNA, Stoltenberg said NATO would not change.", "Which news agency reported Stoltenberg's remarks?", "IRNA"),
    ("name", "The Kremlin spokesman Dmitry Peskov said NATO is no dove of peace.", "Who said NATO is no dove of peace?", "Dmitry Peskov"),
    ("place", "The consultations took place in Vienna on Monday.", "Where did the consultations take place?", "Vienna"),
    ("alias", "The missile, known as the 9M729 or SSC-8, was shown.", "What is the 9M729 also called?", "SSC-8"),
])
def test_short_answer_is_the_span_of_the_expected_kind(kind, sentence, question, expected):
    span = span_of_kind(kind, sentence, question)
    assert span is not None and sentence[span[0]:span[1]].startswith(expected)


@pytest.mark.parametrize("sentence, question, expected", [
    # a name runs through "of" and "for", not into a number or a day
    ("Harlow Mills agreed to buy its rival Penfold Bakeries for 2.4 billion pounds.", "Who heads Harlow Mills?", "Penfold Bakeries"),
    ("He spoke for the Organization for Security and Co-operation in Europe on Monday.", "Which body did he speak for?",
     "Organization for Security and Co-operation in Europe"),
    ("The Bank of England raised rates.", "Which bank raised rates?", "Bank of England"),
    # an organisation or place before the person: "who" wants the person
    ("Riverside Party candidate Owen Tregarth came second, some way behind.", "Who came second in the by-election?", "Owen Tregarth"),
    ("He sent memos to Associate Administrator Robert Seamans; Houbolt pleaded for a hearing.", "Who did Houbolt write to?", "Robert Seamans"),
    ("Webb reassigned Apollo Spacecraft Program Office (ASPO) Manager Joseph Shea, replacing him with George Low.",
     "Who replaced Joseph Shea?", "George Low"),
    # a sentence's opening function word is not part of a name
    ("His son Jochi led the first division into the northeast.", "Who led the first division?", "Jochi"),
    ("In the Presidential elections, Kibaki ran under the Party of National Unity.", "What party did Kibaki run for?",
     "Party of National Unity"),
    # no person in the sentence: the first multi-word run, as for any name
    ("The contract went to Drayford Civil, the council said.", "Who won the contract?", "Drayford Civil"),
])
def test_a_name_short_answer_is_the_whole_name_and_for_who_the_person(sentence, question, expected):
    span = span_of_kind("name", sentence, question)
    assert span is not None and sentence[span[0]:span[1]] == expected


@pytest.mark.parametrize("sentence, question, expected", [
    # the unit the question asks for, not the first number
    ("About 60 crew fought the warehouse fire for nearly 9 hours.", "How long did the warehouse fire burn?", "9 hours"),
    ("The 3 divers reached the wreck 85 metres down.", "How deep is the wreck?", "85 metres"),
    ("Some 400 homes were hit and the repairs cost €2.5 million.", "How much did the repairs cost?", "€2.5 million"),
    # a number word the question states is not its answer
    ("The seven climbers were stuck on the ridge for 30 hours.", "How many hours were the seven climbers stuck?", "30 hours"),
    ("All seven climbers and 4 guides were rescued.", "How many guides were rescued with the seven climbers?", "4"),
])
def test_a_number_short_answer_is_in_the_asked_unit_and_not_the_questions_own(sentence, question, expected):
    span = span_of_kind("number", sentence, question)
    assert span is not None and sentence[span[0]:span[1]] == expected


def test_without_the_asked_unit_a_number_short_answer_is_the_first_other_number():
    # SQuAD's "How much of the population is Hindu?" -> "around 300,000": no unit, still the answer
    sentence = "Some 12,000 people live in the valley, 5 villages in all."
    span = span_of_kind("number", sentence, "How much of the valley is inhabited?")
    assert span is not None and sentence[span[0]:span[1]] == "12,000"


def test_no_short_answer_when_the_sentence_has_none():
    assert span_of_kind("date", "NATO met to discuss the treaty.", "When did NATO meet?") is None
    assert span_of_kind("number", "Allies met in Brussels in 2019.", "How many allies met?") is None


def _quoted_span(text: str, s: int, e: int) -> tuple[int, int, Candidate, Hit]:
    """with_antecedent's span for the sentence text[s:e] of a one-chunk article, with its inputs."""
    hit = Hit(Chunk("a.txt", 0, len(text), text), Article(id="a.txt", text=text, title="t"), 1.0)
    c = Candidate(0, s, e, text[s:e])
    return *with_antecedent(c, hit, set()), c, hit


def test_a_sentence_that_refers_back_is_shown_with_the_one_before():
    text = ("Dmitry Peskov spoke to reporters on Monday. The Kremlin spokesman stressed that NATO is not a dove of peace. "
            "He added nothing.\nPeskov left.")
    s = text.index("The Kremlin")
    e = text.index("peace.") + len("peace.")
    start, end, c, hit = _quoted_span(text, s, e)
    assert text[start:end].startswith("Dmitry Peskov spoke") and end == e
    # not when the sentence before is already part of the answer, or names no one
    assert with_antecedent(c, hit, {(0, s - 1)}) == (s, e)
    assert refers_back("He said so.") and refers_back("The South African novelist won.") and not refers_back("Peskov said.")


def test_a_quote_attributed_to_she_is_shown_with_the_sentence_naming_her():
    text = ('Incident commander Lorna Szabo said the fire had destroyed 37 homes. '
            '"The wind shift on Saturday night is what did the damage," she said.')
    start, end, _, _ = _quoted_span(text, text.index('"The wind'), len(text))
    assert text[start:end].startswith("Incident commander Lorna Szabo") and end == len(text)
    # a quote whose speaker is named in it stands alone
    assert not refers_back('"We will appeal," council leader Bernard Ashworth said.')
