"""Natural phrasing on the bundled corpus, with the real models: framing never changes the answer.

The 300 questions of eval/questions/natural.jsonl are the bundled answerable questions
rewritten by templates (eval/make_natural.py): polite, wordy, framed, imperative, with a
typo, with markup. Each is asked next to the plain question it came from. The test asks the
first 10 of each style (60: a fifth of the CI time the 300 took); `qa eval
eval/questions/natural.jsonl` runs all of them (docs/EVAL.md, "Natural phrasing").
"""

import json
import re

import pytest

from qa.evaluate import eval_question, load_questions
from qa.lexicon import FRAME_WORDS
from tests.conftest import ROOT

QUESTIONS = ROOT / "eval" / "questions"
SUMMARY = "Summarise what the articles say about arms control"
PER_STYLE = 10


@pytest.mark.slow
def test_natural_phrasing_answers_as_the_plain_question(assistant):
    rows = [json.loads(line) for line in (QUESTIONS / "natural.jsonl").open()]
    first: dict[str, list[str]] = {}
    for r in rows:
        first.setdefault(r["style"], []).append(r["id"])
    chosen = {i for ids in first.values() for i in ids[:PER_STYLE]}
    natural = [q for q in load_questions(QUESTIONS / "natural.jsonl") if q.id in chosen]
    assert len(first) == 6 and len(natural) == 6 * PER_STYLE
    plain_of = {r["id"]: r["plain_id"] for r in rows}
    plain = {q.id: q for q in load_questions(QUESTIONS / "bundled.jsonl")}
    asked = {pid: eval_question(assistant, plain[pid], "extractive") for pid in sorted({plain_of[q.id] for q in natural})}
    results = [eval_question(assistant, q, "extractive") for q in natural]
    accuracy = sum(r["scores"]["correct"] for r in results) / len(results)
    baseline = sum(asked[plain_of[q.id]]["scores"]["correct"] for q in natural) / len(natural)
    assert accuracy >= baseline - 0.02, (accuracy, baseline)
    # no refusal blames a politeness or framing word ("never mention “I'm”, “writing” or “story”")
    framing = set(FRAME_WORDS) | {"i'm", "writing", "story", "article", "tell", "wondering", "know", "report", "paper"}
    for r in results:
        if r["result"]["refused"]:
            named = {w.lower() for w in re.findall(r"“([^”]+)”", r["result"]["answer"])}
            assert not named & framing, (r["question"], r["result"]["answer"])


@pytest.mark.parametrize("question", [
    "I'm writing a story - can you tell me which missile NATO says violates the INF Treaty?",
    "Please tell me which missile breaches the INF treaty",
    "<b>Which missile</b> violates the <i>INF treaty</i>?",
])
def test_the_reported_natural_phrasings_are_answered(assistant, question):
    a = assistant.ask(question, mode="extractive")
    assert not a.refused and "9M729" in a.text, a.text
    assert a.question == question  # the user's words are kept; only the search drops the framing


def test_a_summary_request_gets_a_cited_overview(assistant):
    a = assistant.ask(SUMMARY, mode="extractive")
    assert not a.refused, a.text
    assert len(a.citations) >= 2 and len({c.source for c in a.citations}) >= 2
    assert all(f"[{c.n}]" in a.text for c in a.citations)
    assert all("arms" in c.quote.lower() or "control" in c.quote.lower() or "missile" in c.quote.lower() for c in a.citations)
    assert a.verification["summary_of"] == "arms control"


def test_a_summary_of_an_absent_topic_is_refused(assistant):
    a = assistant.ask("Summarise what the articles say about the World Cup", mode="extractive")
    assert a.refused and "World" in a.text


def test_a_summary_request_is_quoted_in_generative_mode_too(assistant):
    a = assistant.ask(SUMMARY, mode="generative")  # no model is loaded for an overview
    assert not a.refused and a.mode == "extractive" and len(a.citations) >= 2
