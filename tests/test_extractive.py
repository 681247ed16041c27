"""The evidence gate's parts, pinned on small hand-made cases (no model needed)."""

from __future__ import annotations

from qa.extractive import FRAME_TERMS, Vocabulary, _choose, _typed, absent_terms, answer_type
from qa.text import terms

VOCAB = Vocabulary(terms(
    "NATO Secretary General Stoltenberg said the meeting in Brussels was suspended; Russia withdraw "
    "forces; the program of talks; three stages; organization"
))


def test_absent_terms_are_topic_words_the_archive_never_uses():
    assert absent_terms("What is the population of Brussels?", VOCAB) == ["population"]
    assert absent_terms("Who will succeed Stoltenberg as Secretary General?", VOCAB) == ["succeed"]
    assert absent_terms("What did Emmanuel Macron say?", VOCAB) == ["Emmanuel", "Macron"]


def test_frame_words_variants_and_years_are_not_absent():
    # frame words ("city", "remarks", "hosted"), years, irregular past tense (met -> meet),
    # shared 6-letter stems (suspension/suspended), British/American spelling, ordinals, compounds
    assert absent_terms("Which city hosted the remarks in 2020?", VOCAB) == []
    assert absent_terms("Where was NATO met?", VOCAB) == []
    assert absent_terms("Why was the meeting's suspension announced?", VOCAB) == ["announced"]
    assert absent_terms("Which organisation ran the third stage of the programme?", VOCAB) == ["ran"]
    assert absent_terms("Were NATO-Russia talks suspended?", VOCAB) == []
    assert {"citi", "remark", "host"} <= FRAME_TERMS


def test_how_many_needs_a_count_of_the_thing_asked_about():
    q = "How many stages did the talks go through?"
    assert answer_type(q) == "number"
    assert _typed("number", "The negotiations went through three stages.", q)
    assert not _typed("number", "Half of the stages were held in 2014.", q)  # a share and a year are not counts
    assert not _typed("number", "Two decades ago the stages of talks began.", q)  # number far from the noun


def test_how_much_ignores_codes_dates_and_the_pronoun_one():
    q = "How much did the 9M729 cost?"
    assert not _typed("number", "The missile, known as SSC-8, was shown on February 12.", q)
    assert not _typed("number", "A treaty respected by one side does not work.", q)
    assert _typed("number", "It cost 300 million roubles.", q)


def test_which_agency_asks_for_a_name_beyond_the_questions_own():
    q = "Which Iranian news agency reported Stoltenberg's comments?"
    assert answer_type(q) == "name"
    assert _typed("name", "According to IRNA, Stoltenberg said NATO would not change.", q)
    assert not _typed("name", "Later, Stoltenberg said he would not change.", q)  # his own name is not an answer


class _C:
    def __init__(self, text, score, coverage):
        self.text, self.score, self.coverage = text, score, coverage


def test_runner_up_is_kept_only_when_it_adds_a_key_term_or_a_second_full_source():
    class Cfg:
        max_answer_sentences = 3

    weights = {t: 1.0 for t in terms("NATO call Russia compliance")}
    best = _C("NATO called on Russia to return to compliance.", 1.0, 1.0)
    echo = _C("Russia has called on NATO to talk.", 0.95, 0.75)  # only the best one's words
    second = _C("NATO called on Russia to come back into compliance, allies said.", 0.92, 1.0)
    far = _C("NATO compliance and Russia, called out.", 0.5, 1.0)
    assert _choose([best, echo, second, far], weights, Cfg) == (best, second)
