"""Conflicting reports: values read from sentences, compared, and said in the answer."""

import json

import pytest

from qa.conflicts import clause, comparable, compatible, values_in
from qa.render import answer_markdown
from tests.conftest import ROOT

GENEVA = "When did the Geneva talks begin?"


def test_values_are_the_dates_or_amounts_the_question_does_not_state():
    assert [k for *_, k in values_in("date", "LINDMARK, May 22 (Delta News) - The bridge opened on May 21, 2023.", "When?")] == [
        ("day", 2023, 5, 21)]  # the dateline's date is when the story was filed
    assert [k for *_, k in values_in("number", "The 1,240-metre bridge cost 290 million euros.", "How much did it cost?")] == [
        ("amount", 1240.0, "length"), ("amount", 290e6, "money")]  # "1,240-metre" is not the amount 1
    assert [k for *_, k in values_in("number", "Thirteen miners and sixty-two homes; 54 per cent, €4.2m.", "?")] == [
        ("amount", 13.0, None), ("amount", 62.0, None), ("amount", 54.0, "percent"), ("amount", 4.2e6, "money")]
    s = "Officials initially said 14 people had died but later revised the toll to 17."
    assert [k for *_, k in values_in("number", s, "How many died?")] == [("amount", 17.0, None)]  # the corrected figure
    s = "The 1.6-kilometre span cost 12 million."
    assert [s[a:b] for a, b, _ in values_in("number", s, "How long?")] == ["1.6", "12 million"]  # shown as written
    assert values_in("date", "NATO met in 2019.", "What happened in 2019?") == []  # the question's own date


def test_values_conflict_only_when_both_cannot_be_true():
    assert not compatible(("day", None, 1, 20), ("day", 2022, 1, 10))
    assert compatible(("month", 2022, 1, None), ("day", None, 1, 12))
    assert not compatible(("amount", 12.0, None), ("amount", 17.0, None))
    assert compatible(("amount", 40.0, None), ("amount", 40.0, None))
    # amounts in different units measure different things: never two answers to one question
    assert not comparable(("amount", 2.0, "time"), ("amount", 8870.0, None))
    assert comparable(("amount", 6.0, "length"), ("amount", 9.0, "length"))


def test_a_clause_is_what_a_value_dates():
    s = "Talks on January 10, 2022, the NATO-Russia Council Meeting on January 12, and more"
    at = s.index("January 12")
    assert clause(s, at, at + 10, [(9, 25)]).strip() == "the NATO-Russia Council Meeting on January 12"
    s = "On January 10, a meeting of the delegations took place in Geneva."
    assert "Geneva" in clause(s, 3, 13)  # an opening date runs on into the clause it dates


def test_the_geneva_talks_conflict_is_reported_with_both_sides(assistant):
    a = assistant.ask(GENEVA, mode="extractive")
    assert not a.refused and a.text.startswith("Reports differ: ")
    (c,) = a.conflicts
    values = {v["value"] for v in c["values"]}
    assert "January 20" in values and any(v.startswith("January 10") for v in values)
    cited = {n for v in c["values"] for n in v["citations"]}
    assert cited == {x.n for x in a.citations} and len(a.citations) == 2
    assert "002_fe4bbc8259d23a58.txt" in {x.source for x in a.citations}  # the article the issue names
    assert a.to_dict()["conflicts"] == list(a.conflicts)
    assert answer_markdown(a.to_dict(), 0).startswith("**Reports differ:**")  # the visible marker


@pytest.mark.parametrize("question", ["When did the NATO-Russia Council meet?", "Which missile violates the INF treaty?",
                                      "When did the US withdraw from the INF Treaty?"])
def test_agreeing_reports_are_not_a_conflict(assistant, question):
    a = assistant.ask(question, mode="extractive")
    assert a.conflicts == () and not a.text.startswith("Reports differ")


def test_the_conflict_score_is_computed_as_documented():
    import importlib.util

    spec = importlib.util.spec_from_file_location("conflicts_eval", ROOT / "eval" / "conflicts.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rows = [{"id": "a", "question": "q", "conflict": True, "values": ["May 21", "May 14"]},
            {"id": "b", "question": "q", "conflict": False, "values": ["3"]},
            {"id": "c", "question": "q", "conflict": True, "values": ["1", "2"]}]
    answers = [{"conflicts": [{"values": [{"value": "May 21, 2023"}, {"value": "May 14"}]}]},
               {"conflicts": [{"values": [{"value": "3"}, {"value": "4"}]}]},
               {"conflicts": []}]
    s = mod.score(rows, answers)
    assert (s["reported"], s["right"], s["precision"], s["recall"]) == (2, 1, 0.5, 0.5)


@pytest.mark.slow
def test_no_false_alarm_on_the_held_out_conflict_set():
    import importlib.util

    spec = importlib.util.spec_from_file_location("conflicts_eval", ROOT / "eval" / "conflicts.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    result = mod.run("heldout")
    false_alarms = [q for q in result["per_question"] if q["reported"] and not q["labelled"]]
    assert false_alarms == [] and result["questions"] == 12


def test_values_that_are_not_the_amount_asked_are_marked_or_skipped():
    from qa.conflicts import values_in

    keys = lambda s: [k for *_, k in values_in("number", s, "?")]  # noqa: E731
    assert keys("The outage began at about 6:40 pm.") == []  # a time of day
    assert keys("The river peaked shortly after 2 pm; crews left at 6 a.m.") == []  # times of day too
    assert keys("Two of the injured were children under 10.") == [("amount", 2.0, None)]  # an age bound is no count
    assert keys("Harrowgate will pay £4.20 for each share.") == [("amount", 4.2, "money/rate")]  # a price, not a total
    assert keys("Marsh received 2,087 votes.") == [("amount", 2087.0, None)]  # a comma: no year
    assert keys("Temperatures reached 42.1°C.") == [("amount", 42.1, "temperature")]


def test_the_question_says_what_kind_of_value_it_asks_for():
    from qa.conflicts import asked_units, measured
    from qa.gate import counted_noun

    assert measured("How fast was the train going when it derailed?")  # a speed, though it says "when"
    assert measured("What was the turnout in the by-election?") and not measured("When did the strike begin?")
    assert asked_units("How many acres has the wildfire burned?") == {"area"}
    assert asked_units("What percentage of voters turned out?") == {"percent"}
    assert counted_noun("How many Saltmarsh Sound festival-goers were taken to hospital?") == "festival-go"
    assert counted_noun("How many nursing positions will be cut?") == "posit"  # the plural, not the word before it


def test_reports_months_apart_are_not_one_story():
    from qa.conflicts import same_story
    from qa.types import Article

    def report(date):
        return Article(id=f"a{date}", text="x", date=date, publisher="P")

    assert same_story(report("2024-03-12"), report("2024-03-13")) and same_story(report("2024-03"), report("2024-04-20"))
    assert not same_story(report("2020-02-12"), report("2022-01-14"))  # a later article recalling an older date
    assert same_story(report("2022-01-14"), Article(id="u", text="x"))  # undated: may be the same story


@pytest.mark.parametrize("question", ["On what date did Stoltenberg say the demise of the INF Treaty shows the strength of NATO?",
                                      "In what month and year did the US leave the treaty whose demise Stoltenberg regretted "
                                      "in February 2020?"])
def test_a_date_recalled_years_later_is_not_a_conflict(assistant, question):
    a = assistant.ask(question, mode="extractive")
    assert a.conflicts == () and not a.text.startswith("Reports differ")


def test_ages_and_thousands_are_read_as_written():
    keys = [k for *_, k in values_in("number", "Curator Helena Morsby, 58, said 1,240 items and 2,087 votes.", "?")]
    assert keys == [("amount", 1240.0, None), ("amount", 2087.0, None)]  # "Morsby, 58," is an age


def test_the_value_scorer_ships_with_its_checksum_and_fails_clearly_when_changed(tmp_path):
    import shutil

    from qa.conflicts import BUNDLED_SCORER, ValueScorer, load_value_scorer
    from qa.errors import QAError

    scorer = load_value_scorer()
    assert 0 < scorer.other_min < scorer.lead_min < 1 and scorer.max_ratio > 1
    assert {"share", "unit_wanted", "counted", "verb_share"} <= set(scorer.value.features)
    copy = tmp_path / "conflict-values"
    shutil.copytree(BUNDLED_SCORER, copy)
    (copy / "scorer.json").write_text((copy / "scorer.json").read_text().replace('"max_ratio": 2.0', '"max_ratio": 9.0'))
    with pytest.raises(QAError, match="checksum.*make model"):
        ValueScorer.load(copy)
    (copy / "scorer.json").unlink()
    with pytest.raises(QAError, match="missing.*make model"):
        ValueScorer.load(copy)


def test_figures_far_apart_or_dates_of_another_precision_are_two_facts():
    from qa.conflicts import _far_apart

    assert not _far_apart(("amount", 14.0, None), ("amount", 19.0, None), 2.0)  # two counts of the injured
    assert _far_apart(("amount", 23.0, None), ("amount", 9100.0, None), 2.0)  # runners treated vs runners started
    assert not _far_apart(("day", None, 1, 20), ("day", 2022, 1, 10), 2.0)  # the Geneva talks
    assert _far_apart(("day", None, 5, 22), ("month", 2026, 9, None), 2.0)  # a vote's day vs when a deal starts


def test_the_scorer_prefers_the_value_that_answers(assistant):
    """On real passages: every candidate value carries the features the scorer reads, and the
    most likely one is a date the talks are said to have begun on."""
    from qa.answering import plain_evidence
    from qa.conflicts import candidate_values, load_value_scorer

    asked, evidence, hits = plain_evidence(assistant, GENEVA)
    kind, values = candidate_values(evidence, hits, asked)
    assert kind == "date" and values and all(set(v.features) == set(load_value_scorer().value.features) for v in values)
    scorer = load_value_scorer()
    best = max(values, key=lambda v: scorer.value(v.features))
    assert best.text.startswith("January 10") or best.text.startswith("January 20")


def test_a_changed_figure_counts_from_its_new_value_and_units_follow_the_question():
    from qa.conflicts import asked_units

    keys = lambda s: [k for *_, k in values_in("number", s, "?")]  # noqa: E731
    assert keys("The toll will rise from $5.50 to $6.50, an increase of 18 percent.") == [
        ("amount", 6.5, "money"), ("amount", 18.0, "percent")]  # $5.50 is what drivers paid before
    assert keys("Cars will be charged $6.75 per crossing, up from $5.50.") == [("amount", 6.75, "money")]
    assert keys("Revenue rose 8 percent on a year earlier.") == [("amount", 8.0, "percent")]  # not a rate
    assert keys("The train was doing 68 km/h; 94 mm of rain and 3,000 litres.") == [
        ("amount", 68.0, "speed"), ("amount", 0.094, "length"), ("amount", 3000.0, "volume")]  # in metres
    assert asked_units("How far from the enclosure was the leopard found?") == {"length"}  # not "four hours"
    assert asked_units("For how long was the runway shut?") == {"time"}  # not "90 metres" past its end
    assert asked_units("How long were the eleven miners cut off underground?") == {"time"}  # not how deep they were
    assert asked_units("How long is the new bridge?") == {"length", "time"}
    assert keys("a 72-hour strike, a five-day strike") == [("amount", 72.0, "time"), ("amount", 120.0, "time")]  # in hours
    assert keys("the release of nine hundred lanterns") == [("amount", 900.0, None)]
    assert "count" not in str(asked_units("How much oil leaked?")) and "mass" in asked_units("How much oil leaked?")


def test_a_count_is_shown_with_what_it_counts_and_symbols_do_not_hide_a_right_report():
    import importlib.util

    from qa.conflicts import _counted_end

    s = "Prosecutors said 37 votes separated them; 11 were hurt."
    assert s[17:_counted_end(s, 19, None)] == "37 votes" and s[42:_counted_end(s, 44, None)] == "11"
    spec = importlib.util.spec_from_file_location("conflicts_eval", ROOT / "eval" / "conflicts.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rows = [{"id": "a", "question": "q", "conflict": True, "values": ["3.1 million", "2.4 million"]},
            {"id": "b", "question": "q", "conflict": True, "values": ["41.3", "42.1"]},
            {"id": "c", "question": "q", "conflict": True, "values": ["41.3", "42.1"]}]
    answers = [{"conflicts": [{"values": [{"value": "£3.1 million"}, {"value": "£2.4 million"}]}]},
               {"conflicts": [{"values": [{"value": "42.1°C"}, {"value": "41.3°C"}]}]},
               {"conflicts": [{"values": [{"value": "42.1°C"}, {"value": "31.3°C"}]}]}]
    assert mod.score(rows, answers)["right"] == 2  # the third reports a value nobody labelled


def test_the_scorer_labels_a_value_by_what_it_means_not_how_it_is_written():
    from qa.fit_conflicts import gold_keys, is_labelled

    golds = gold_keys("number", ["six-storey", "£3.1 million", "nine"])
    assert is_labelled(("amount", 6.0, None), "6", golds)  # "six-storey" is 6
    assert is_labelled(("amount", 3.1e6, "money"), "£3.1m", golds)
    assert is_labelled(("amount", 9.0, None), "9", golds) and not is_labelled(("amount", 19.0, None), "19", golds)
    dates = gold_keys("date", ["March 11"])
    assert is_labelled(("day", 2025, 3, 11), "March 11, 2025", dates) and not is_labelled(("month", None, 3, None), "March", dates)


@pytest.fixture(scope="module")
def mine_reports():
    """An archive of the mine-collapse reports (and the other stories of their folder)."""
    from qa.assistant import Assistant
    from qa.config import Config
    from qa.ingest import ingest_paths

    return Assistant.from_articles(ingest_paths([ROOT / "eval" / "conflict_articles_heldout5"]).articles, Config())


@pytest.mark.parametrize("question, unit", [
    ("How long were the eleven miners cut off underground?", "time"),
    ("How deep below ground were the Dunmore Hollow miners trapped?", "length"),
])
def test_reports_disagree_only_in_the_unit_the_question_asks_for(mine_reports, question, unit):
    """Reports that give different depths do not disagree about how long the miners were cut
    off, and a count of miners is no depth: every side compared is in the unit asked."""
    from qa.answering import plain_evidence
    from qa.conflicts import conflict

    asked, evidence, hits = plain_evidence(mine_reports, question)
    assert all(side.key[2] == unit for side in conflict(evidence, hits, asked))
