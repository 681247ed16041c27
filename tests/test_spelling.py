"""Typos in questions are fixed to the archive's own words; real words are left alone."""

from collections import Counter

from qa.spelling import Speller, _one_edit

SPELLER = Speller(Counter({"education": 3, "stoltenberg": 5, "missile": 4, "missiles": 2, "leading": 2, "would": 9}))


def test_one_edit_is_damerau_distance_one():
    assert _one_edit("missle", "missile")       # a letter dropped
    assert _one_edit("misssile", "missile")     # a letter added
    assert _one_edit("stoltenburg", "stoltenberg")  # a letter changed
    assert _one_edit("edcuation", "education")  # neighbours swapped
    assert not _one_edit("missile", "missile")
    assert not _one_edit("mssle", "missile")    # two edits
    assert not _one_edit("edcuaiton", "education")


def test_typos_become_the_archive_words_keeping_case():
    assert SPELLER.correct("What did Stoltenburg say about the missle?") == "What did Stoltenberg say about the missile?"
    assert SPELLER.correct("the edcuation system") == "the education system"


def test_what_is_not_corrected():
    # Short words, acronyms and codes, words the caller knows, a different first letter,
    # and suggestions that are stop words stay as written.
    assert SPELLER.correct("Would the PPP 9M729 Missle") == "Would the PPP 9M729 Missile"
    assert SPELLER.correct("Who won the World Cup?") == "Who won the World Cup?"  # "World" is 5 letters
    assert SPELLER.correct("after leaving the treaty", known=lambda w: w == "leaving") == "after leaving the treaty"
    assert SPELLER.correct("after leaving the treaty") == "after leading the treaty"  # why `known` matters
    assert SPELLER.correct("nissile") == "nissile"
    assert Speller(Counter({"wouldn": 1, "would": 5})).suggestion("woulds") == "wouldn"  # "would" is a stop word


def test_typo_questions_are_answered_and_report_the_corrected_search(assistant):
    a = assistant.ask("Which missle does NATO say violates the INF treaty?")
    assert a.search_query == "Which missile does NATO say violates the INF treaty?"
    assert not a.refused and "9M729" in a.text
    b = assistant.ask("What did Stoltenburg say about a costly arms race?")
    assert "Stoltenberg" in b.search_query and not b.refused and b.citations[0].source == "003_c804dac4115a1700.txt"


LEAVING = "What weapons did the United States deploy in Europe after leaving the INF Treaty?"


def test_real_words_the_archive_lacks_are_not_corrected(assistant):
    # "leaving" is one edit from the archive's "leading"; the tokenizer knows it as a word.
    a = assistant.ask(LEAVING)
    assert a.search_query == a.question


def test_the_unanswerable_leaving_question_is_refused(assistant):
    # A near miss (the topic is in the archive, the fact is not): answered until the
    # news-trained ranker of 2026-12-07; the gate still answers 8 of the 19 bundled ones.
    assert assistant.ask(LEAVING).refused


def test_the_archive_is_counted_only_when_a_word_is_unknown():
    calls = []

    def texts():
        calls.append(1)
        return ["The education of missile engineers."]

    speller = Speller(texts=texts)
    assert speller.correct("education of engineers", known=lambda w: True) == "education of engineers"
    assert calls == []
    assert speller.correct("edcuation of engineers") == "education of engineers"
    assert speller.correct("missle") == "missile" and calls == [1]
