"""Training data for the answer ranker (qa/train.py): the lists the ranker learns from."""

import pytest

from qa.metrics import answer_contains
from qa.train import NEWS_NEGATIVES, NEWS_TRAIN, NO_ANSWER, Pair, groups, news_pairs


def test_a_list_spanning_several_reports_stays_one_list():
    pairs = [Pair("How many?", "Report A", "12 died.", 1.0, list_key="set#q1"),
             Pair("How many?", "Report B", "Rain fell.", 0.0, list_key="set#q1"),
             Pair("How many?", "Report B", "14 died.", 1.0, list_key="set#q2")]
    assert [len(g) for g in groups(pairs)] == [2, 1]
    # without a key, a list is one question within one title (SQuAD: one article)
    assert [len(g) for g in groups([Pair(p.question, p.title, p.sentence, p.label) for p in pairs])] == [1, 2]


def test_news_lists_hold_the_labelled_answers_of_a_question_set():
    pairs = news_pairs([("eval/questions/conflicts_heldout9.jsonl", "eval/conflict_articles_heldout9")])
    lists = groups(pairs)
    assert len(lists) >= 25
    for g in lists:
        assert len({p.question for p in g}) == 1 and sum(p.label == 0.0 for p in g) <= NEWS_NEGATIVES
        assert any(p.label == 1.0 for p in g)
    oil = next(g for g in lists if g[0].question.startswith("How much oil leaked from the Selka Morrow"))
    assert all(answer_contains(p.sentence, ["1,200 tonnes", "800 tonnes"]) == (p.label == 1.0) for p in oil)
    assert len({p.title for p in oil if p.label == 1.0}) == 2  # the two reports that disagree


def test_every_training_answer_is_in_one_of_its_reports():
    from qa.evaluate import load_questions
    from qa.ingest import ingest_paths
    from qa.train import NEWS_MORE, NEWS_WRITTEN

    held_out = tuple((f"eval/questions/test_news_h{i}.jsonl", f"eval/conflict_articles_heldout{i}") for i in range(14, 18))
    unused = tuple((f"eval/questions/train_news2_h{i}.jsonl", f"eval/conflict_articles_heldout{i}") for i in range(6, 14))
    unused += NEWS_MORE
    for questions, folder in NEWS_WRITTEN + held_out + unused:  # written for training, for reporting only, for the next try
        reports = {a.id: a.text for a in ingest_paths([folder]).articles}
        for q in load_questions(questions):
            assert not q.answerable or any(answer_contains(reports[s], q.answers) for s in q.sources), (questions, q.id)
    assert not {f for _, f in held_out} & {f for _, f in NEWS_TRAIN + NEWS_MORE}  # the reported sets' reports are never trained on


def test_unanswerable_news_questions_become_no_answer_lists_only_when_asked():
    sets = [("eval/questions/train_news_h6.jsonl", "eval/conflict_articles_heldout6")]
    plain, with_misses = groups(news_pairs(sets)), groups(news_pairs(sets, misses=True))
    misses = [g for g in with_misses if g[0].label == NO_ANSWER]
    assert not any(g[0].label == NO_ANSWER for g in plain)
    assert len(misses) == 15 and len(with_misses) == len(plain) + 15  # t6-034 ... t6-048
    assert all(len(g) == NEWS_NEGATIVES and {p.label for p in g} == {NO_ANSWER} for g in misses)
    kestrel = next(g for g in misses if g[0].question == "Who is the chief executive of Kestrel Lines?")
    assert "Kestrel Lines" in kestrel[0].sentence  # the report sentences nearest the question, not random ones


@pytest.mark.parametrize("argv", [["--news-more"], ["--news-repeat", "2"], ["--news", "--news-repeat", "0"]])
def test_the_news_list_options_are_refused_without_news_or_with_no_repeat(argv, capsys):
    from qa.train import main

    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2 and "--news" in capsys.readouterr().err
