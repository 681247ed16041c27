"""Answers that change over time: the newest report leads, "as of" its date; an older value is named."""

import pytest

from qa.config import Config
from qa.freshness import changeable, freshest
from qa.gate import Evidence
from qa.ranker import Candidate
from qa.types import Article, Chunk, Hit

MAYORS = [
    Article("orsk_2019.txt", "The mayor of Orsk, Karl Rand, opened the town's summer fair on Saturday. "
            "Rand has led Orsk since 2015 and said the fair drew a record crowd.", title="Orsk fair opens",
            date="2019-06-02", publisher="Orsk Herald"),
    Article("orsk_2023.txt", "The mayor of Orsk, Mira Dahl, opened the town's summer fair on Saturday. "
            "Dahl, elected last year, said the fair drew a record crowd.", title="Orsk fair opens again",
            date="2023-06-04", publisher="Orsk Herald"),
]


@pytest.mark.parametrize("question, expected", [
    ("Who is the mayor of Orsk?", True), ("Who leads the Russian delegation?", True),
    ("How many members does NATO have?", True), ("Who is the current NATO chief?", True),
    ("Who said NATO is not a dove of peace?", False), ("How many stages did the talks go through?", False),
    ("When did the talks begin?", False),
])
def test_questions_whose_answer_can_change(question, expected):
    assert changeable(question) is expected


@pytest.fixture(scope="module")
def orsk():
    from qa.assistant import Assistant

    return Assistant.from_articles(MAYORS, Config())


def test_the_newest_report_leads_and_the_older_value_is_named(orsk):
    a = orsk.ask("Who is the mayor of Orsk?", mode="extractive")
    assert not a.refused
    assert a.text.startswith("As of 4 June 2023 [1]; an earlier report (2 June 2019) gives Karl Rand [2]: ")
    assert [c.source for c in a.citations] == ["orsk_2023.txt", "orsk_2019.txt"]
    assert a.verification["freshness"] == {"as_of": "2023-06-04", "older_value": "Karl Rand"}


def test_a_question_about_the_past_is_not_reframed(orsk):
    a = orsk.ask("Who opened the Orsk summer fair in 2019?", mode="extractive")
    assert not a.text.startswith("As of") and "freshness" not in a.verification


def _fresh(sentences: list[tuple[str, str]], question: str):
    """freshest() over one equally scored candidate sentence per (date, text) article."""
    hits = [Hit(Chunk(f"{d}.txt", 0, len(t), t), Article(f"{d}.txt", t, title="t", date=d), 1.0) for d, t in sentences]
    ranked = tuple(Candidate(i, 0, len(t), t, score=0.9) for i, (_, t) in enumerate(sentences))
    evidence = Evidence(True, "", "name", 0.9, {}, ranked, {})
    return freshest(evidence, hits, question)


def test_an_older_name_is_named_only_from_a_sentence_that_states_a_role():
    newer = ("2025-04-11", "The company's chief executive, Mira Dahl, said the sale secured the brand.")
    role = ("2025-04-10", "Harlow Mills, whose chairman Karl Rand built the firm, agreed the sale.")
    deal = ("2025-04-10", "Harlow Mills agreed to buy its rival Penfold Bakeries for 2.4 billion pounds.")
    question = "Who heads Harlow Mills?"
    assert _fresh([newer, role], question).older_value == "Karl Rand"
    fresh = _fresh([newer, deal], question)
    assert fresh.newest_value == "Mira Dahl" and fresh.older is None and fresh.older_value == ""
