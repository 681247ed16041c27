"""Questions as people write them: framing, politeness and markup off; summary requests."""

import json
import subprocess
import sys

import pytest

from qa.gate import FRAME_TERMS, not_about, not_answered
from qa.phrasing import Request, parse_request, plain_text, without_framing
from qa.ranker import Candidate
from qa.text import terms
from tests.conftest import ROOT


@pytest.mark.parametrize("written, plain", [
    ("I'm writing a story - can you tell me which missile NATO says violates the INF Treaty?",
     "Which missile NATO says violates the INF Treaty?"),
    ("Please tell me which missile breaches the INF treaty", "Which missile breaches the INF treaty"),
    ("Could you please explain to me, in as much detail as you can manage, which Russian missile NATO says is banned?",
     "Which Russian missile NATO says is banned?"),
    ("For my article on NATO, who chaired the Russian delegation?", "Who chaired the Russian delegation?"),
    ("I am researching a piece about arms control and I would like to know when the talks began.", "When the talks began."),
    ("Hi! Quick question: when did the talks begin?", "When did the talks begin?"),
    ("Do you know who chaired the meeting?", "Who chaired the meeting?"),
    ("I was wondering: when did the talks begin?", "When did the talks begin?"),
    ("Thanks, who chaired the meeting?", "Who chaired the meeting?"),
    ("Who said it, please?", "Who said it?"),
    ("Who chaired the meeting? Thanks!", "Who chaired the meeting?"),
    ("I'd like to know which agency reported it", "Which agency reported it"),
])
def test_framing_is_taken_off(written, plain):
    assert without_framing(written) == plain


@pytest.mark.parametrize("question", [
    "Who is writing the report on the talks?",  # "writing", "report" are its topic here
    "What did Peskov say?",
    "Which story did TASS run about the 9M729?",
    "Please.",  # nothing would be left: kept as written
])
def test_questions_without_framing_are_unchanged(question):
    assert without_framing(question) == question


def test_markup_is_ignored():
    assert plain_text("<b>Which missile</b> violates the <i>INF&nbsp;treaty</i>?") == "Which missile violates the INF treaty?"
    assert plain_text("**Who** said `NATO` is no dove?") == "Who said NATO is no dove?"
    assert parse_request("<script>alert(1)</script>Who chaired the talks?").text == "Who chaired the talks?"


@pytest.mark.parametrize("written, topic", [
    ("Summarise what the articles say about arms control", "arms control"),
    ("Please summarize the coverage of the Geneva talks.", "the Geneva talks"),
    ("Give me an overview of the NATO-Russia Council", "the NATO-Russia Council"),
    ("What do the articles say about the 9M729?", "the 9M729"),
    ("Tell me about Stoltenberg", "Stoltenberg"),
])
def test_summary_requests_name_their_topic(written, topic):
    r = parse_request(written)
    assert r.summary and r.topic == topic and r.text.lower() == topic.lower()


def test_a_fact_question_is_not_a_summary():
    assert parse_request("What did the articles say NATO would not compromise on?") == Request(
        "What did the articles say NATO would not compromise on?")
    with pytest.raises(ValueError):
        Request("  ")


def test_politeness_words_are_never_topic_terms():
    for w in ("please", "kindly", "exactly", "particular", "summarise", "explain"):
        assert set(terms(w)) <= FRAME_TERMS, w


def test_refusal_reasons_are_written_for_people():
    best = Candidate(0, 0, 10, "NATO says the 9M729 missile violates the treaty.")
    reason = not_answered(0.1, 0.3, best, "What is the range of the 9M729 missile?", "number")
    assert reason == "the closest passages mention “9M729” and “missile” but do not say the number asked for"
    assert not_answered(0.1, 0.3, best, "Who won the World Cup?", "name") == "the closest passages do not answer the question"
    assert not_answered(0.5, 0.3, best, "What is the range of the 9M729 missile?", "number") is None
    assert not_about(0.2, 0.5, "the World Cup") == "no passage found is about “the World Cup”"
    assert not_about(0.6, 0.5, "arms control") is None


def test_the_natural_set_is_generated_by_its_script():
    r = subprocess.run([sys.executable, str(ROOT / "eval" / "make_natural.py"), "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = [json.loads(line) for line in (ROOT / "eval" / "questions" / "natural.jsonl").open()]
    assert len(rows) == 300 and {r["style"] for r in rows} == {"polite", "wordy", "framed", "imperative", "typo", "markup"}
