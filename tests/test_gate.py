"""The evidence gate's parts, pinned on small hand-made cases (no model needed)."""

from __future__ import annotations

from qa.compose import choose
from qa.gate import (FRAME_TERMS, Vocabulary, absent_terms, acronyms_of, answer_type, coverage, names_not_found,
                     no_typed_sentence, not_answered, typed, unknown_names, with_aliases)
from qa.ranker import Candidate
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
    # frame words ("city", "remarks", "hosted", "reason"), years, irregular past tense (met -> meet),
    # shared 6-letter stems (suspension/suspended), British/American spelling, ordinals, compounds
    assert absent_terms("Which city hosted the remarks in 2020?", VOCAB) == []
    assert absent_terms("What reason was given for the meeting?", VOCAB) == ["given"]
    assert absent_terms("Where was NATO met?", VOCAB) == []
    assert absent_terms("Why was the meeting's suspension announced?", VOCAB) == ["announced"]
    assert absent_terms("Which organisation ran the third stage of the programme?", VOCAB) == ["ran"]
    assert absent_terms("Were NATO-Russia talks suspended?", VOCAB) == []
    assert {"citi", "remark", "host", "reason"} <= FRAME_TERMS


def test_rule_unknown_names_refuses_only_for_names_and_numbers():
    assert unknown_names(["Emmanuel", "Macron"]) == "no article mentions “Emmanuel” or “Macron”"
    assert unknown_names(["2031"]) == "no article mentions “2031”"
    # one absent ordinary word ("erroneously") is left to the answerability score
    assert unknown_names(["erroneously"]) is None


def test_rule_names_not_found_names_what_the_passages_lack():
    passages = set(terms("NATO and Russia met in Geneva"))
    assert names_not_found("What did Stoltenberg say in Geneva?", "What did Stoltenberg say in Geneva?", passages, []) \
        == "the passages found never mention “Stoltenberg”"
    assert names_not_found("What did NATO say in Geneva?", "What did NATO say in Geneva?", passages, []) is None
    # a name the whole archive lacks is the unknown-names rule's, not this one's
    assert names_not_found("What did Macron say?", "What did Macron say?", passages, ["Macron"]) is None


def test_rule_no_typed_sentence_and_not_answered():
    c = Candidate(0, 0, 10, "NATO met to talk about it.", typed=False)
    assert no_typed_sentence("date", [c]) == "no passage gives the date the question asks for"
    assert no_typed_sentence(None, [c]) is None
    assert no_typed_sentence("date", [Candidate(0, 0, 10, "NATO met on 12 January.", typed=True)]) is None
    assert not_answered(0.2, 0.3, c) is not None
    assert not_answered(0.4, 0.3, c) is None
    assert not_answered(0.9, 0.3, None) is not None


def test_acronyms_and_their_expansions_are_one_term():
    text = "The Organization for Security and Co-operation in Europe met in Vienna."
    vocab = Vocabulary(terms(text), texts=lambda: iter([text]))
    assert "osce" in vocab and absent_terms("Which city hosted the OSCE consultations?", vocab) == ["consultations"]
    weights = {t: 1.0 for t in terms("OSCE Vienna")}
    assert coverage(weights, set(terms(text))) == 0.5
    assert coverage(weights, with_aliases(set(terms(text)), vocab)) == 1.0
    # and the other way round: the question spells it out, the passage writes the acronym
    assert "osce" in acronyms_of("the Organization for Security and Co-operation in Europe")
    assert {"secur", "europ"} <= with_aliases({"osce"}, vocab)


def test_how_many_needs_a_count_of_the_thing_asked_about():
    q = "How many stages did the talks go through?"
    assert answer_type(q) == "number"
    assert typed("number", "The negotiations went through three stages.", q)
    assert typed("number", "The population was 1,234 in 2014.", "How many people lived there?")  # noun not repeated
    assert not typed("number", "The stages of talks began in 2014.", q)  # a year is not a count


def test_how_much_ignores_codes_dates_and_the_pronoun_one():
    q = "How much did the 9M729 cost?"
    assert not typed("number", "The missile, known as SSC-8, was shown on February 12.", q)
    assert not typed("number", "A treaty respected by one side does not work.", q)
    assert typed("number", "It cost 300 million roubles.", q)
    # a date is masked, but only a real month makes one: "10 novels" is a count, not 10 November
    assert typed("number", "She wrote 10 novels in Paris.", "How many books did she write?")
    assert not typed("number", "She wrote her first novel on 10 Nov 2001.", "How many books did she write?")


def test_which_agency_asks_for_a_name_beyond_the_questions_own():
    q = "Which Iranian news agency reported Stoltenberg's comments?"
    assert answer_type(q) == "name"
    assert typed("name", "According to IRNA, Stoltenberg said NATO would not change.", q)
    assert not typed("name", "Later, Stoltenberg said he would not change.", q)  # his own name is not an answer


def test_the_name_of_something_asks_for_a_name():
    q = "What is the name of Tarnwell Foods' chief executive?"
    assert answer_type(q) == "name" and answer_type("What were the names of the two people who died?") == "name"
    assert answer_type("What is the other name of the SSC-8?") == "alias"  # another name for a named thing
    # the role without its holder's name does not state what is asked
    assert not typed("name", "Tarnwell's chief executive, who has led the company for 11 years, will stay on.", q)
    assert typed("name", "Tarnwell Foods' chief executive, Marion Kell, said the offer was fair.", q)


def _c(text, score, cov):
    return Candidate(0, 0, len(text), text, coverage=cov, score=score)


def test_runner_up_is_kept_only_when_it_adds_a_key_term_or_a_second_full_source():
    weights = {t: 1.0 for t in terms("NATO call Russia compliance")}
    best = _c("NATO called on Russia to return to compliance.", 0.9, 1.0)
    echo = _c("Russia has called on NATO to talk.", 0.85, 0.75)  # only the best one's words
    second = _c("NATO called on Russia to come back into compliance, allies said.", 0.8, 1.0)
    far = _c("NATO compliance and Russia, called out.", 0.3, 1.0)
    assert choose([best, echo, second, far], weights, 3) == (best, second)


def test_a_runner_up_that_states_the_kind_asked_for_joins_an_untyped_best():
    # "What is its other designation?": the best sentence names the missile, the runner-up its alias
    weights = {t: 1.0 for t in terms("Russian missile NATO violates INF treaty")} | {"design": 1.0}
    best = Candidate(0, 0, 10, "Russian 9M729 missiles violate the INF Treaty, NATO says.", coverage=0.7, score=0.19, typed=False)
    alias = Candidate(1, 0, 10, "The missile system is known as the 9M729 or SSC-8.", coverage=0.2, score=0.13, typed=True)
    untyped = Candidate(1, 0, 10, "The missile system worries allies.", coverage=0.2, score=0.13, typed=False)
    assert choose([best, alias], weights, 3) == (alias, best)  # the one stating the alias leads
    assert choose([best, untyped], weights, 3) == (best,)


def test_a_removed_articles_words_leave_the_vocabulary(bundled_index_dir):
    """Removing an article marks it deleted in its segment; the words only it used must stop
    counting as the archive's, or "no article mentions CBC" never refuses after the removal."""
    from qa.indexing import remove_articles
    from qa.store import load_index

    index = load_index(bundled_index_dir)
    assert "cbc" in Vocabulary.of(index).terms  # only 001 names the channel
    without = remove_articles(index, ["001_a8a96078134d5575.txt"])
    assert "cbc" not in Vocabulary.of(without).terms and "stoltenberg" in Vocabulary.of(without).terms
    question = "Which Canadian channel interviewed Stoltenberg, CBC?"
    assert unknown_names(absent_terms(question, Vocabulary.of(index)), question) is None
    assert "“CBC”" in unknown_names(absent_terms(question, Vocabulary.of(without)), question)
