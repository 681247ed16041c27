"""What a chat user sees around an answer: filters named, sentences streamed, Stop, hints."""

import shutil

import pytest

from qa.types import Filters
from qa.ui import EMPTY_HINT, Handlers

DOVE = "Who said NATO is not a dove of peace?"


def test_a_filter_that_leaves_out_the_answer_refuses_and_names_itself(assistant):
    assert not assistant.ask(DOVE, mode="extractive").refused  # Peskov, in a 2022 article
    a = assistant.ask(DOVE, mode="extractive", filters=Filters(date_to="2021-12-31"))
    assert a.refused and "within the filter (dated to 2021-12-31)" in a.text and "remove the filter" in a.text
    assert a.filters["date_to"] == "2021-12-31" and a.filters["text"] == "dated to 2021-12-31"
    assert a.to_dict()["filters"]["undated_excluded"] == sum(1 for x in assistant.index.articles.values() if not x.date)


def test_a_filter_that_keeps_the_answer_does_not_refuse(assistant):
    a = assistant.ask("Which missile violates the INF treaty?", mode="extractive", filters=Filters(date_to="2021-12-31"))
    assert not a.refused and "9M729" in a.text and a.filters["text"] == "dated to 2021-12-31"
    assert assistant.ask("Which missile violates the INF treaty?", mode="extractive").filters is None


def test_a_filter_matching_nothing_says_so(assistant):
    a = assistant.ask("Which missile violates the INF treaty?", mode="extractive", filters=Filters(date_from="2030-01-01"))
    assert a.refused and "no article matches the filter (dated from 2030-01-01)" in a.text
    assert "undated article" in a.text  # the bundled corpus has undated articles: the user is told


def test_extractive_answers_stream_one_cited_sentence_at_a_time(assistant):
    events = list(assistant.ask_stream("What did Stoltenberg say about the INF Treaty?", mode="extractive"))  # a 3-sentence answer
    deltas = [e.text for e in events if e.kind == "delta"]
    final = events[-1].answer
    assert "".join(deltas) == final.text and len(deltas) == len(final.citations) >= 2
    assert all(d.rstrip().endswith(f"[{n}]") for n, d in enumerate(deltas, 1))


@pytest.fixture(scope="module")
def handlers(bundled_index_dir, tmp_path_factory):
    from qa.assistant import Assistant
    from qa.config import Config

    index = shutil.copytree(bundled_index_dir, tmp_path_factory.mktemp("chat") / "index")
    return Handlers(Assistant.open(Config(index_dir=str(index))))


def test_filter_chips_show_what_is_active_and_undated_exclusions(handlers):
    pubs, start, end, note = handlers.chips("", "2021-12-31", ["TASS"])
    assert pubs["visible"] and pubs["value"] == "TASS ×"
    assert not start["visible"] and end["visible"] and end["value"] == "To 2021-12-31 ×"
    undated = sum(1 for a in handlers.a.index.articles.values() if not a.date)
    assert undated and note["visible"] and note["value"].startswith(f"{undated} undated article")
    assert not any(u["visible"] for u in handlers.chips("", "", []))  # nothing active: no chips


def test_the_chat_message_names_the_filters_it_searched(handlers):
    steps = list(handlers.ask("Which missile violates the INF treaty?", [], None, "extractive", 5, "", "2021-12-31", []))
    message = steps[-1][1][-1]["content"]
    assert "*Searched articles: dated to 2021\\-12\\-31 · 3 undated articles excluded*" in message  # Markdown-escaped


def test_an_error_clears_the_previous_sources(handlers):
    steps = list(handlers.ask("Which missile violates the INF treaty?", [], None, "extractive", 5, "", "", []))
    _, chat, session, sources = steps[-1]
    assert "<mark>" in sources
    steps = list(handlers.ask("Which missile?", chat, session, "extractive", 5, "2022-02-30", "", []))
    assert "is not a date like" in steps[-1][1][-1]["content"] and "<mark>" not in steps[-1][3]


def test_an_empty_question_gets_a_hint(handlers):
    with pytest.warns(UserWarning, match="Type a question"):
        steps = list(handlers.ask("   ", [], None, "extractive", 5, "", "", []))
    assert steps and steps[-1][1] == []  # nothing added to the chat
    assert EMPTY_HINT.startswith("Type a question")


def test_stop_marks_the_partial_answer_and_brings_ask_back():
    chat, ask, stop = Handlers.stopped([{"role": "user", "content": "q"}, {"role": "assistant", "content": "TASS: NATO [1]"}])
    assert chat[-1]["content"].endswith("*Stopped.*") and chat[-1]["content"].startswith("TASS: NATO [1]")
    assert ask["visible"] and not stop["visible"]


def test_warm_up_loads_the_answer_ranker(handlers):
    from qa.ranker import load_ranker

    handlers.a.warm_up()
    assert load_ranker(handlers.a.config.answer_ranker)._model is not None


def test_the_question_s_period_becomes_an_editable_filter():
    session = {"answers": [{"date_filter": {"start": "2020-02-01", "end": "2020-02-29", "describe": "2020-02-01 to 2020-02-29"}}]}
    chip = Handlers.period_chip(session)
    assert chip["visible"] and chip["value"] == "Period from the question: 2020-02-01 to 2020-02-29 · edit"
    start, end, hidden = Handlers.edit_period(session)
    assert (start, end, hidden["visible"]) == ("2020-02-01", "2020-02-29", False)
    assert not Handlers.period_chip({"answers": [{"date_filter": None}]})["visible"]
