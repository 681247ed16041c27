"""Dates in questions: periods read from 30+ phrasings with a fixed "today", and clear errors."""

import datetime as dt

import pytest

from qa.dates import Period, question_period
from qa.text import date_span
from qa.errors import QAError

TODAY = dt.date(2022, 1, 14)  # the newest bundled article's date


@pytest.mark.parametrize("question, start, end, text", [
    ("What did NATO say in January 2022?", "2022-01-01", "2022-01-31", "in January 2022"),
    ("What did NATO say in Jan 2022?", "2022-01-01", "2022-01-31", "in Jan 2022"),
    ("What happened on Sept. 9, 2021?", "2021-09-09", "2021-09-09", "on Sept. 9, 2021"),
    ("What happened on Dec 3?", "2021-12-03", "2021-12-03", "on Dec 3"),
    ("What happened on 12 January?", "2022-01-12", "2022-01-12", "on 12 January"),
    ("What happened on the 12th of January 2022?", "2022-01-12", "2022-01-12", "on the 12th of January 2022"),
    ("What happened on January 12, 2022?", "2022-01-12", "2022-01-12", "on January 12, 2022"),
    ("What happened on 2022-01-12?", "2022-01-12", "2022-01-12", "on 2022-01-12"),
    ("What happened in 2021-12?", "2021-12-01", "2021-12-31", "in 2021-12"),
    ("What happened in 2019?", "2019-01-01", "2019-12-31", "in 2019"),
    ("What happened to the INF Treaty in 2019?", "2019-01-01", "2019-12-31", "in 2019"),
    ("What happened in early 2021?", "2021-01-01", "2021-04-30", "in early 2021"),
    ("What happened in late 2021?", "2021-09-01", "2021-12-31", "in late 2021"),
    ("What happened between 2019 and 2020?", "2019-01-01", "2020-12-31", "between 2019 and 2020"),
    ("What happened from 2019 to 2020?", "2019-01-01", "2020-12-31", "from 2019 to 2020"),
    ("What happened between March 2020 and June 2021?", "2020-03-01", "2021-06-30", "between March 2020 and June 2021"),
    ("Which talks took place 2019-2020?", "2019-01-01", "2020-12-31", "2019-2020"),
    ("What happened before 12 January 2022?", None, "2022-01-11", "before 12 January 2022"),
    ("What had NATO said before 2020?", None, "2019-12-31", "before 2020"),
    ("What happened until 2020?", None, "2020-12-31", "until 2020"),
    ("What had happened by the end of 2021?", None, "2021-12-31", "by the end of 2021"),
    ("What happened after 2019?", "2020-01-01", None, "after 2019"),
    ("What has happened since January 2021?", "2021-01-01", None, "since January 2021"),
    ("What happened in May?", "2021-05-01", "2021-05-31", "in May"),
    # relative to TODAY
    ("What happened last year?", "2021-01-01", "2021-12-31", "last year"),
    ("What happened this year?", "2022-01-01", "2022-12-31", "this year"),
    ("What did they say last month?", "2021-12-01", "2021-12-31", "last month"),
    ("What happened this month?", "2022-01-01", "2022-01-31", "this month"),
    ("What happened last week?", "2022-01-03", "2022-01-09", "last week"),
    ("What happened yesterday?", "2022-01-13", "2022-01-13", "yesterday"),
    ("What did NATO say two weeks ago?", "2021-12-27", "2022-01-02", "two weeks ago"),
    ("What happened in the past three months?", "2021-10-14", "2022-01-14", "in the past three months"),
    ("What happened over the last 10 days?", "2022-01-04", "2022-01-14", "over the last 10 days"),
])
def test_periods_are_read_from_questions(question, start, end, text):
    p = question_period(question, TODAY)
    assert (p.start, p.end, p.text) == (start, end, text)


@pytest.mark.parametrize("question", [
    "Which missile violates the INF treaty?",
    "How many of the 30 members joined?",
    "May NATO expand further?",  # the verb
    "What is the range of the 9M729?",
    "What did the SSC-8 test show?",
    # a word that only starts like a month is no month (read as June 30, March 5, December 50 once)
    "Did 30 junior doctors strike over pay?",
    "Who ran 5 marathons in a year?",
    "Super Bowl 50 decided the NFL champion for what season?",
    "How many of the 12 octopuses survived?",
])
def test_questions_without_a_date_have_no_period(question):
    assert question_period(question, TODAY) is None


@pytest.mark.parametrize("question, message", [
    ("What happened on February 30, 2022?", "“February 30, 2022” does not exist"),
    ("What happened on 31 April?", "“31 April” does not exist"),
    ("What happened on 2022-02-29?", "“2022-02-29” does not exist"),
    ("What happened in 2022-13?", "has no month 13"),
    ("What happened between 2021 and 2019?", "ends before it starts"),
])
def test_impossible_dates_are_clear_errors(question, message):
    with pytest.raises(QAError, match=message):
        question_period(question, TODAY)


@pytest.mark.parametrize("question, start, end", [
    ("Which chateau is the dormer window dated 1611-25 from?", "1611-01-01", "1625-12-31"),
    ("Who won the league in the 2019-20 season?", "2019-01-01", "2020-12-31"),
])
def test_a_year_and_two_digits_past_twelve_is_a_span_of_years(question, start, end):
    period = question_period(question, TODAY)
    assert (period.start, period.end) == (start, end)


def test_29_february_exists_in_leap_years():
    assert question_period("What happened on 29 February 2020?", TODAY).start == "2020-02-29"
    assert question_period("What happened on 29 February?", TODAY).start == "2020-02-29"  # the latest that existed


def test_publication_is_told_from_event():
    assert question_period("Which articles dated 2020 mention the INF Treaty?", TODAY).publication
    assert not question_period("Which chateau is the window dated 1611-25 from?", TODAY).publication
    assert question_period("Which articles from 2020 mention the INF Treaty?", TODAY).publication
    assert question_period("What was reported in January 2022 about the talks?", TODAY).publication
    assert question_period("What was published before 2021?", TODAY).publication
    assert not question_period("What happened to the INF Treaty in 2019?", TODAY).publication


def test_periods_hold_partial_dates():
    p = Period("2020-02-01", "2020-02-29", "in February 2020")
    assert p.contains("2020-02-12") and p.contains("2020-02") and p.contains("2020") and not p.contains("2021")
    assert date_span("2024-02") == ("2024-02-01", "2024-02-29")
    assert Period(None, "2021-12-31", "before 2022").describe() == "to 2021-12-31"
    with pytest.raises(ValueError):
        Period("2022-01-02", "2022-01-01", "x")


# --- the question's period in answers (bundled corpus, real models) ------------------------

def test_a_month_in_the_question_finds_that_month_s_article(assistant):
    a = assistant.ask("What did Stoltenberg say in February 2020?", mode="extractive")
    assert not a.refused and {c.source for c in a.citations} == {"003_c804dac4115a1700.txt"}  # the 2020 article only
    assert a.date_filter["start"] == "2020-02-01" and a.date_filter["end"] == "2020-02-29"
    assert a.date_filter["text"] == "in February 2020" and a.date_filter["applied"] == "mentions"
    assert a.to_dict()["date_filter"] == a.date_filter


def test_an_event_year_finds_a_later_article_about_it(assistant):
    a = assistant.ask("What happened to the INF Treaty in 2019?", mode="extractive")  # a timeline, bounded by 2019
    assert not a.refused and a.date_filter["applied"] == "mentions"
    assert "August 2019 — 14 January 2022: " in a.text  # written in 2022, about 2019
    assert all(line.split(" — ")[0].endswith("2019") for line in a.text.split("\n\n"))
    assert "2019" in " ".join(c.quote for c in a.citations)


def test_asking_for_articles_of_a_year_filters_on_publication(assistant):
    a = assistant.ask("Which articles from 2020 mention the INF Treaty?", mode="extractive")
    assert a.date_filter["applied"] == "published" and a.date_filter["describe"] == "2020-01-01 to 2020-12-31"
    assert {assistant.index.articles[c.source].date[:4] for c in a.citations} == {"2020"}


def test_a_period_with_no_article_is_refused_naming_it(assistant):
    a = assistant.ask("What did NATO say in 2015?", mode="extractive")
    assert a.refused and "no article is dated 2015-01-01 to 2015-12-31 (“in 2015”)" in a.text


def test_an_impossible_date_in_a_question_is_a_clear_error(assistant):
    with pytest.raises(QAError, match="“February 30, 2022” does not exist"):
        assistant.ask("What did NATO say on February 30, 2022?", mode="extractive")


def test_a_user_date_filter_wins_over_the_question_s_words(assistant):
    from qa.types import Filters

    a = assistant.ask("What did Stoltenberg say in February 2020?", mode="extractive", filters=Filters(date_from="2022-01-01"))
    assert a.date_filter is None and a.filters["date_from"] == "2022-01-01"


@pytest.mark.parametrize("question, scope", [
    ("What did Stoltenberg say in February 2020?", True),
    ("What happened to the INF Treaty in 2019?", True),
    ("What did NATO do in 2019?", True),
    ("What did Stoltenberg say last month about arms control?", True),
    ("Which articles from 2020 mention the INF Treaty?", True),  # publication
    ("Where did the consultations end on January 13?", False),  # a dated detail of the event
    ("Which NATO body met Russian officials in Brussels on January 12 for the first time in two years?", False),
    ("Who interviewed Stoltenberg on January 16?", False),
    ("What share of members joined after 1997?", False),
])
def test_a_period_bounds_the_question_or_dates_a_detail(question, scope):
    assert question_period(question, TODAY).scope is scope


# --- articles dated to a month or a year ---------------------------------------------------

def test_partial_dates_are_kept_with_their_precision(tmp_path):
    from qa.ingest import read_file
    from qa.text import human_date
    from qa.types import Filters

    f = tmp_path / "wire.jsonl"
    f.write_text('{"id": "m", "text": "NATO met in December.", "date": "2023-12"}\n'
                 '{"id": "y", "text": "NATO met that year.", "date": "2023"}\n'
                 '{"id": "w", "text": "NATO met once.", "date": "December 2023"}\n', encoding="utf-8")
    articles, warnings = read_file(f)
    assert [a.date for a in articles] == ["2023-12", "2023", "2023-12"] and warnings == []
    assert human_date("2023-12") == "December 2023"
    december, year = articles[0], articles[1]
    assert Filters(date_from="2023-12-05", date_to="2023-12-06").accepts(december)  # overlaps the month
    assert not Filters(date_from="2024-01-01").accepts(december)
    assert Filters(date_to="2023-03-01").accepts(year) and not Filters(date_to="2022-12-31").accepts(year)


def test_the_segment_date_mask_is_filters_accepts_in_bulk():
    """A segment compares dates as YYYYMMDD integers (and as strings for a bound that is not a
    full day); either way it accepts exactly the articles `Filters.accepts` accepts: days,
    months, years, undated, bounds inside a month, open bounds."""
    import numpy as np

    from qa.segment import Segment
    from qa.types import Article, Chunk, Filters

    dates = ["2023-12", "2023", None, "2023-12-05", "2024-01-01", "2022-12-31", "2023-02", "2024-02-29", "2023-12-31"]
    articles = [Article(id=f"a{i}", text=f"Story {i}.", date=d) for i, d in enumerate(dates)]
    chunks = [Chunk(id=f"a{i}#0", article_id=a.id, start=0, end=len(a.text), text=a.text) for i, a in enumerate(articles)]
    seg = Segment.build("s", articles, chunks, np.eye(len(articles), 8, dtype=np.float32), list(range(len(articles))),
                        [a.text for a in articles], ann_min_chunks=10**9)
    bounds = [None, "2023-12-05", "2023-12-31", "2024-01-01", "2022-01-01", "2023-03-01", "2024-02-29", "2023-12", "2023"]
    checked = 0
    for lo in bounds:
        for hi in bounds:
            f = Filters(date_from=lo, date_to=hi)
            if f.is_empty():
                continue
            assert seg.article_mask(f).tolist() == [f.accepts(a) for a in articles], (lo, hi)
            checked += 1
    assert checked == 80


def test_a_month_named_alone_is_found_where_a_passage_names_it_alone():
    """"… in January?" bounds the question; a report that quotes "we raised this in January"
    is about that month (read from the day it was written), so its passage is kept, not only
    passages dated or naming a full date in January."""
    from qa.assistant import Assistant
    from qa.config import Config
    from qa.ingest import ingest_paths
    from tests.conftest import ROOT

    folder = ROOT / "eval" / "conflict_articles_heldout5"
    articles = ingest_paths([folder / f for f in ("mine_a.txt", "mine_b.txt", "mine_c.txt", "strike_a.txt", "strike_b.txt")]).articles
    a = Assistant.from_articles(articles, Config()).ask(
        "Which union official said members had raised the roof bolt issue in January?", mode="extractive")
    assert a.date_filter["applied"] == "mentions" and a.date_filter["start"] == "2025-01-01"
    assert not a.refused and a.short_answer.text == "Agnes Whitcombe" and a.citations[0].source == "mine_c.txt"
