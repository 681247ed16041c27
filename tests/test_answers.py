"""The ask contract on the bundled corpus with the real embedding model (extractive mode)."""

import json
import subprocess
import sys
import time

import pytest

from qa.config import Config
from qa.errors import QAError
from qa.gate import answer_type
from qa.rewrite import standalone_query

INF = {"003_c804dac4115a1700.txt", "004_7e226a48a90657f7.txt"}


def test_answer_cites_the_supporting_article(assistant):
    a = assistant.ask("Which missile violates the INF treaty?")
    assert not a.refused and "9M729" in a.text
    assert "[1]" in a.text and a.citations and a.citations[0].source in INF
    c = a.citations[0]
    assert assistant.index.articles[c.source].text[c.start:c.end] == c.quote
    assert "9M729" in c.quote


def test_answer_says_who_and_when(assistant):
    a = assistant.ask("Which missile violates the INF treaty?")
    by_source = {c.source: c for c in a.citations}
    if "003_c804dac4115a1700.txt" in by_source:
        assert "TASS, 12 February 2020" in a.text
    else:
        assert "TASS" in a.text


@pytest.mark.parametrize("question", [
    "Who won the 2022 World Cup?",
    "What is the capital of Australia?",
    "How many warheads does the 9M729 carry?",
])
def test_questions_outside_the_articles_are_refused(assistant, question):
    a = assistant.ask(question)
    assert a.refused, a.text
    assert a.text.startswith("The articles don't say")
    assert not a.citations and a.closest  # the nearest passages are listed for the reader


def test_follow_up_is_rewritten_and_answered(assistant):
    history = ["Which Russian missile does NATO say violates the INF treaty?"]
    a = assistant.ask("What is its other designation?", history=history)
    assert a.search_query != a.question and "missile" in a.search_query
    assert not a.refused and "SSC-8" in a.text
    assert a.citations[0].source == "004_7e226a48a90657f7.txt"


def test_short_follow_up_about_a_code_is_answered(assistant):
    # The issue's own example: MiniLM barely knows "9M729", so the query scores low against
    # its answer; the sentence states every topic term and the alias asked for.
    a = assistant.ask("What is its other designation?", history=["What is the 9M729?"])
    assert "9M729" in a.search_query
    assert not a.refused and "SSC-8" in a.text


def test_standalone_questions_are_not_rewritten():
    assert standalone_query("Who is Jens Stoltenberg?", ["Which missile violates the INF treaty?"]) == "Who is Jens Stoltenberg?"


def test_answer_types():
    assert answer_type("How many members does NATO have?") == "number"
    assert answer_type("In which year did the US withdraw?") == "date"
    assert answer_type("Who chairs the Moscow delegation?") == "name"
    assert answer_type("Why did the talks fail?") is None


@pytest.mark.parametrize("question, kind", [
    ("Where was the ferry bound when the collision happened?", "place"),
    ("Who was the captain when the ship sank?", "name"),
    ("What did Peskov say when asked about NATO?", None),
    ("How fast was the train going when it derailed?", "number"),
    ("How deep below the surface were the miners trapped?", "number"),
    ("When did the talks end?", "date"),
    ("Since when has he led the company?", "date"),
    ("Exactly when did the strike begin?", "date"),
    ("I'm writing a story - when did the ministry publish its draft?", "date"),
    ("What height did the river reach when it crested?", None),
    ("The treaty was signed when?", "date"),
])
def test_a_when_inside_the_question_is_a_conjunction_not_the_thing_asked(question, kind):
    assert answer_type(question) == kind


def test_json_shape_is_the_cli_contract(assistant):
    d = assistant.ask("What did Peskov say about NATO?").to_dict()
    assert set(d) >= {"question", "search_query", "answer", "refused", "mode", "citations", "short_answer", "timings_ms"}
    assert set(d["citations"][0]) == {"n", "source", "title", "date", "publisher", "url", "quote", "start", "end", "score", "also_in"}
    assert {"rewrite", "retrieve", "evidence", "total"} <= set(d["timings_ms"])
    json.dumps(d)


def test_streaming_ends_with_the_same_answer(assistant):
    events = list(assistant.ask_stream("What did Peskov say about NATO?"))
    assert events[-1].kind == "final" and events[-1].answer.text == assistant.ask("What did Peskov say about NATO?").text
    assert any(e.kind == "delta" for e in events)


@pytest.mark.parametrize("question,message", [("", "empty"), ("   \n", "empty"), ("x" * 100_000, "100,000 characters")])
def test_bad_questions_fail_fast_before_any_model(assistant, question, message):
    t = time.perf_counter()
    with pytest.raises(QAError, match=message):
        assistant.ask(question)
    assert time.perf_counter() - t < 0.5  # rejected at the boundary, not after retrieval


def test_filters_limit_the_evidence(assistant):
    from qa.types import Filters

    a = assistant.ask("What did Stoltenberg say about arms control?", filters=Filters(date_from="2020-01-01", date_to="2020-12-31"))
    assert not a.refused and {c.source for c in a.citations} == {"003_c804dac4115a1700.txt"}


def _qa(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "qa.cli", *args], capture_output=True, text=True, timeout=timeout)


def test_cli_ask_json(bundled_index_dir, tmp_path):
    hist = tmp_path / "h.json"
    hist.write_text(json.dumps(["Which Russian missile does NATO say violates the INF treaty?"]))
    r = _qa("ask", "What is its other designation?", "--history-file", str(hist), "--json", "--index", str(bundled_index_dir))
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["refused"] is False and "SSC-8" in d["answer"] and d["mode"] == "extractive"
    assert d["citations"][0]["source"] == "004_7e226a48a90657f7.txt"


def test_cli_search_stats_and_errors(bundled_index_dir, tmp_path):
    r = _qa("search", "Which missile violates the INF treaty?", "--json", "--index", str(bundled_index_dir))
    assert r.returncode == 0 and json.loads(r.stdout)["hits"][0]["source"] in INF
    r = _qa("index", "stats", "--json", "--index", str(bundled_index_dir))
    s = json.loads(r.stdout)
    assert (s["articles"], s["model"], s["dim"]) == (5, "all-MiniLM-L6-v2", 384) and s["chunks"] > 5
    r = _qa("ask", "Which missile?", "--index", str(tmp_path / "none"))
    assert r.returncode == 2 and "qa index build" in r.stderr
    r = _qa("ask", "  ", "--index", str(tmp_path / "none"))
    assert r.returncode == 2 and "question is empty" in r.stderr


def test_a_sentence_cut_from_a_quotation_gets_its_missing_mark():
    from qa.compose import balanced_quotes

    assert balanced_quotes('"Allies have concerns, known as the 9M729 or SSC-8.') == '"Allies have concerns, known as the 9M729 or SSC-8."'
    assert balanced_quotes('He said: "We will not compromise.') == 'He said: "We will not compromise."'
    assert balanced_quotes('And then Russia came back into compliance."') == '"And then Russia came back into compliance."'
    assert balanced_quotes('“It is a bad thing, he said.') == '“It is a bad thing, he said.”'
    assert balanced_quotes('It "worked" well.') == 'It "worked" well.'


def test_extractive_answer_text_closes_the_quote_but_cites_the_exact_passage(assistant):
    a = assistant.ask("What other designation is the Russian 9M729 missile system known by?")
    assert 'SSC-8." [1]' in a.text
    c = a.citations[0]
    assert c.quote == assistant.index.articles[c.source].text[c.start:c.end]
