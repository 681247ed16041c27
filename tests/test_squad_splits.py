"""SQuAD by article: the fixed split, `--split`, and the unanswerable variant.

A tiny SQuAD file (4 articles, 2 paragraphs each, one question per paragraph) is indexed
with the real embedding model once per module; the CLI runs build their own copy.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qa import benchmarks
from qa.config import Config
from qa.errors import QAError


def _para(context: str, qid: str, question: str, answer: str) -> dict:
    assert answer in context
    return {"context": context, "qas": [{"id": qid, "question": question,
                                         "answers": [{"text": answer, "answer_start": context.index(answer)}]}]}


SQUAD = {"version": "1.1", "data": [
    {"title": "Super_Bowl_50", "paragraphs": [
        _para("Super Bowl 50 was an American football game to determine the champion of the National Football League "
              "for the 2015 season. The Denver Broncos defeated the Carolina Panthers 24-10.",
              "sb1", "Which team won Super Bowl 50?", "Denver Broncos"),
        _para("The game was played on February 7, 2016, at Levi's Stadium in the San Francisco Bay Area at "
              "Santa Clara, California.", "sb2", "Where was Super Bowl 50 played?", "Levi's Stadium"),
    ]},
    {"title": "Warsaw", "paragraphs": [
        _para("Warsaw is the capital and largest city of Poland. It stands on the Vistula River in east-central Poland.",
              "wa1", "On which river does Warsaw stand?", "Vistula"),
        _para("The Palace of Culture and Science, a gift from the Soviet Union, was completed in 1955 and is "
              "the tallest building in Warsaw's city centre.", "wa2",
              "When was the Palace of Culture and Science completed?", "1955"),
    ]},
    {"title": "Oxygen", "paragraphs": [
        _para("Oxygen is a chemical element with symbol O and atomic number 8. It is a highly reactive nonmetal.",
              "ox1", "What is the atomic number of oxygen?", "8"),
        _para("Oxygen was discovered independently by Carl Wilhelm Scheele, in Uppsala, in 1773 or earlier, "
              "and Joseph Priestley in Wiltshire, in 1774.", "ox2", "Who discovered oxygen in Wiltshire?",
              "Joseph Priestley"),
    ]},
    {"title": "Amazon_rainforest", "paragraphs": [
        _para("The Amazon rainforest covers most of the Amazon basin of South America, an area of seven million "
              "square kilometres.", "am1", "How large is the Amazon basin?", "seven million square kilometres"),
        _para("The majority of the forest is contained within Brazil, with 60% of the rainforest, followed by "
              "Peru with 13% and Colombia with 10%.", "am2", "Which country holds most of the Amazon rainforest?",
              "Brazil"),
    ]},
]}
TITLES = [d["title"] for d in SQUAD["data"]]


@pytest.fixture(scope="module")
def squad_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("squad") / "dev.json"
    path.write_text(json.dumps(SQUAD), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def loaded(squad_file):
    return benchmarks.load_squad(squad_file)


@pytest.fixture(scope="module")
def squad_assistant(loaded):
    from qa.assistant import Assistant

    return Assistant.from_articles(loaded[0], Config())


def _titles(ids) -> set[str]:
    return {benchmarks.squad_title(i) for i in ids}


def test_split_is_fixed_and_by_article(loaded):
    articles, questions = loaded
    splits = benchmarks.squad_split(TITLES)
    # Pinned: the answer ranker is trained on dev-train, so the split must never move.
    assert splits == {"Super_Bowl_50": "test", "Warsaw": "dev-calibrate", "Oxygen": "test",
                      "Amazon_rainforest": "dev-train"}
    assert benchmarks.squad_split(TITLES[::-1] + TITLES[:1]) == splits  # order and repeats do not matter
    parts = {name: benchmarks.split_questions(articles, questions, name) for name in benchmarks.SQUAD_SPLITS}
    test_titles = _titles(q.sources[0] for q in parts["test"])
    dev_titles = _titles(q.sources[0] for q in parts["dev"])
    assert test_titles == {"Super_Bowl_50", "Oxygen"} and dev_titles == {"Warsaw", "Amazon_rainforest"}
    # every question of an article goes where its article goes: both halves together are all questions, once
    assert sorted(q.id for q in parts["test"] + parts["dev"]) == sorted(q.id for q in questions)
    assert {q.id for q in parts["dev-train"]} | {q.id for q in parts["dev-calibrate"]} == {q.id for q in parts["dev"]}
    assert [q.id for q in parts["test"]] == ["sb1", "sb2", "ox1", "ox2"]  # file order kept
    with pytest.raises(QAError, match="unknown SQuAD split 'train'"):
        benchmarks.split_questions(articles, questions, "train")


def test_without_titles_drops_the_article_and_reuses_vectors(squad_assistant, monkeypatch):
    full = squad_assistant.index
    monkeypatch.setattr(squad_assistant.embedder, "embed", lambda *a, **k: pytest.fail("re-embedded"))
    cut = benchmarks.without_titles(full, ["Warsaw"])
    assert list(cut.articles) == [a for a in full.articles if not a.startswith("Warsaw#")]
    assert {c.article_id for c in cut.chunks} == set(cut.articles) and len(cut.articles) == 6
    rows = {c.id: i for i, c in enumerate(full.chunks)}
    assert len(cut.chunks) == len(full.chunks) - sum(c.article_id.startswith("Warsaw#") for c in full.chunks)
    for i, c in enumerate(cut.chunks):  # the stored vector of every kept chunk, bit for bit
        assert np.array_equal(cut.vectors[i], full.vectors[rows[c.id]])
    assert cut.chunk_count == len(cut.chunks) == cut.vectors.shape[0]  # the Warsaw paragraphs are marked deleted, not rewritten
    assert len(full.articles) == 8  # a new snapshot: the full index is untouched
    with pytest.raises(QAError, match="no paragraph of SQuAD article 'Atlantis'"):
        benchmarks.without_titles(full, ["Atlantis"])


def test_run_unanswerable_asks_without_the_own_article(squad_assistant, loaded):
    _, questions = loaded
    sampled = benchmarks.sample(questions, None, seed=3)
    # with the full index, every question's own article is among the passages found ...
    for q in sampled:
        hits = squad_assistant.search(q.question, k=4)
        assert benchmarks.squad_title(q.sources[0]) in _titles(h.chunk.article_id for h in hits), q.id
    groups = list(benchmarks.own_article_removed(squad_assistant, sampled))
    assert [t for t, _, _ in groups] == list(dict.fromkeys(benchmarks.squad_title(q.sources[0]) for q in sampled))
    for title, without, members in groups:
        assert _titles(without.index.articles) == set(TITLES) - {title}
        assert sorted(benchmarks.squad_title(sampled[i].sources[0]) for i in members) == [title, title]
    run = benchmarks.run_unanswerable(squad_assistant, sampled, progress=False)
    assert [r["id"] for r in run.results] == [q.id for q in sampled]  # the sampled order, not grouped by article
    for q, r in zip(sampled, run.results):
        own = benchmarks.squad_title(q.sources[0])
        assert r["removed_article"] == own
        assert (r["answerable"], r["answers"], r["sources"], r["kind"]) == (False, [], [], "unanswerable")
        # ... and without it, nothing from that article is found, cited or shown as closest
        shown = r["scores"]["retrieved"] + [c["source"] for c in r["result"]["citations"] + r["result"]["closest"]]
        assert own not in _titles(shown), q.id
        assert r["scores"]["retrieved"], q.id  # the other articles are still there
        assert r["scores"]["correct"] is r["scores"]["refused"]  # refusing is the right answer
    m = run.metrics
    assert (m["n_questions"], m["n_answerable"], m["n_unanswerable"]) == (8, 0, 8)
    assert m["refusal"]["unanswerable_refused"] == sum(r["scores"]["refused"] for r in run.results)
    assert m["refusal"]["unanswerable_refused_rate"] == m["refusal"]["recall"]
    assert len(squad_assistant.index.articles) == 8


def test_cli_split_and_unanswerable(squad_file, tmp_path, capsys):
    from qa.cli import main

    base = ["eval", "--format", "squad", str(squad_file), "--seed", "0", "--no-progress"]
    assert main(base + ["--split", "test", "--unanswerable", "--limit", "3", "--out", str(tmp_path / "u")]) == 0
    out = capsys.readouterr()
    assert "warning" not in out.err and "refused, share of unanswerable" in out.out
    rows = [json.loads(line) for line in (tmp_path / "u" / "results.jsonl").read_text().splitlines()]
    # sampled from the test articles only, each asked without its own article
    assert len(rows) == 3 and {r["removed_article"] for r in rows} <= {"Super_Bowl_50", "Oxygen"}
    assert all(r["answerable"] is False and r["kind"] == "unanswerable" for r in rows)
    m = json.loads((tmp_path / "u" / "metrics.json").read_text())
    assert m["n_unanswerable"] == 3 and m["run"]["config"] | {"split": "test", "unanswerable": True} == m["run"]["config"]
    assert "split test" in m["run"]["title"] and "unanswerable" in m["run"]["title"]

    assert main(base + ["--limit", "2", "--out", str(tmp_path / "all")]) == 0
    assert "warning: no --split" in capsys.readouterr().err
    m = json.loads((tmp_path / "all" / "metrics.json").read_text())
    assert m["run"]["config"]["split"] == "all" and m["run"]["config"]["unanswerable"] is False
    assert m["n_answerable"] == 2 and m["retrieval"]["n"] == 2  # answerable: its paragraph is indexed

    q = tmp_path / "q.jsonl"
    q.write_text(json.dumps({"question": "Which team won Super Bowl 50?"}) + "\n")
    assert main(["eval", str(q), "--split", "test"]) == 2
    assert "--split and --unanswerable work with --format squad only" in capsys.readouterr().err
