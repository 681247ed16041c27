"""The evaluation harness: question files, scoring, reports, SQuAD and BEIR loaders, CLI.

The end-to-end tests use the real Assistant over the bundled corpus (index in tmp_path).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from qa import benchmarks
from qa.config import Config
from qa.errors import QAError
from qa.evaluate import EvalRun, Question, compute_metrics, load_questions, run_eval, score_one

ROOT = Path(__file__).resolve().parents[1]
ARTICLES = ROOT / "data" / "articles"
A3, A4 = "003_c804dac4115a1700.txt", "004_7e226a48a90657f7.txt"


def _write(path: Path, lines: list) -> Path:
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    return path


# --- question files ---------------------------------------------------------------------

def test_load_questions_parses_fields_and_ignores_unknown(tmp_path):
    f = _write(tmp_path / "q.jsonl", [
        {"id": "a", "question": " What is its other designation? ", "history": ["Which missile?"],
         "answers": ["SSC-8"], "sources": [A4], "kind": "follow-up", "note": "ignored", "difficulty": 3},
        "",
        {"question": "Who won the 2022 World Cup?", "answerable": False},
    ])
    qs = load_questions(f)
    assert qs[0] == Question(id="a", question="What is its other designation?", answers=("SSC-8",), sources=(A4,),
                             answerable=True, history=("Which missile?",), kind="follow-up")
    # defaults: id from the line number (blank line 2 skipped, so line 3), kind from answerable
    assert (qs[1].id, qs[1].answerable, qs[1].kind, qs[1].answers) == ("line3", False, "unanswerable", ())


@pytest.mark.parametrize("bad, expect", [
    ("{not json", "not valid JSON"),
    (json.dumps({"answers": ["x"]}), "missing or empty `question`"),
    (json.dumps({"question": "q", "answers": "x", "answerable": "yes"}), "`answerable` must be true or false"),
    (json.dumps({"question": "q", "answers": [1]}), "`answers` must be a list of strings"),
    (json.dumps(["question"]), "expected a JSON object"),
])
def test_bad_line_names_file_and_line(tmp_path, bad, expect):
    f = _write(tmp_path / "q.jsonl", [{"question": "ok?"}, "", bad])
    with pytest.raises(QAError) as e:
        load_questions(f)
    assert f"{f}:3" in str(e.value) and expect in str(e.value)


def test_missing_empty_and_duplicate_question_files(tmp_path):
    with pytest.raises(QAError, match="cannot read"):
        load_questions(tmp_path / "nope.jsonl")
    with pytest.raises(QAError, match="no questions"):
        load_questions(_write(tmp_path / "e.jsonl", [""]))
    with pytest.raises(QAError, match="'x' is used more than once"):
        load_questions(_write(tmp_path / "d.jsonl", [{"id": "x", "question": "a"}, {"id": "x", "question": "b"}]))


def _assert_grounded(qs, folder: Path = ARTICLES) -> None:
    """Every answerable question cites real articles of `folder`, and each answer string occurs
    (after SQuAD normalisation) in the cleaned text of at least one of its cited articles."""
    from qa.clean import clean_news_text
    from qa.metrics import normalize_answer

    assert all(q.history for q in qs if q.kind == "follow-up")
    texts = {p.name: f" {normalize_answer(clean_news_text(p.read_text(encoding='utf-8')).text)} " for p in folder.iterdir()}
    for q in qs:
        if q.answerable:
            assert q.answers and q.sources and set(q.sources) <= set(texts), q.id
            for a in q.answers:  # every answer string occurs in a cited article (after normalisation)
                assert any(f" {normalize_answer(a)} " in texts[s] for s in q.sources), (q.id, a)
        else:
            assert not q.answers and not q.sources and q.kind == "unanswerable", q.id


def test_bundled_question_set_is_complete_and_grounded():
    qs = load_questions(ROOT / "eval" / "questions" / "bundled.jsonl")
    kinds = {q.kind for q in qs}
    assert len(qs) >= 80 and sum(not q.answerable for q in qs) >= 15
    assert {"fact", "who-said", "when", "multi-article", "follow-up", "unanswerable"} <= kinds
    _assert_grounded(qs)


def test_heldout_question_set_is_complete_grounded_and_separate():
    from collections import Counter

    qs = load_questions(ROOT / "eval" / "questions" / "heldout.jsonl")
    bundled = load_questions(ROOT / "eval" / "questions" / "bundled.jsonl")
    ids = [q.id for q in qs]
    assert len(qs) == 40 and sum(not q.answerable for q in qs) == 8
    assert len(set(ids)) == len(ids) and not set(ids) & {q.id for q in bundled}
    assert Counter(q.kind for q in qs) == {"fact": 14, "who-said": 5, "when": 5, "multi-article": 4,
                                           "follow-up": 4, "unanswerable": 8}
    assert all(len(q.sources) >= 2 for q in qs if q.kind == "multi-article")
    # held out means new: no question repeats a bundled one word for word
    assert not {q.question.lower() for q in qs} & {q.question.lower() for q in bundled}
    _assert_grounded(qs)


def test_news_development_sets_are_grounded_in_their_own_folders():
    from qa.calibrate import NEWS_DEV

    ids: list[str] = []
    for questions, folder in NEWS_DEV:
        qs = load_questions(ROOT / questions)
        assert len(qs) >= 45 and sum(not q.answerable for q in qs) >= 15, questions
        ids += [q.id for q in qs]
        _assert_grounded(qs, ROOT / folder)
    assert len(set(ids)) == len(ids)


# --- scoring (pure) --------------------------------------------------------------------------

def _cit(source, score):
    return {"source": source, "score": score}


def test_score_one_and_compute_metrics_by_hand():
    q1 = Question("1", "Which missile?", ("9M729",), (A3, A4), kind="fact")
    q2 = Question("2", "Other name?", ("SSC-8",), (A4,), kind="follow-up")
    q3 = Question("3", "World Cup?", answerable=False, kind="unanswerable")
    q4 = Question("4", "Warheads?", answerable=False, kind="unanswerable")
    a1 = {"answer": "It is the 9M729 [1].", "refused": False, "citations": [_cit(A3, 0.8), _cit("x", 0.5)],
          "closest": [], "timings_ms": {"retrieve": 10.0, "total": 30.0}}
    a2 = {"answer": "I could not find it.", "refused": True, "citations": [], "closest": [_cit(A4, 0.4)],
          "timings_ms": {"retrieve": 20.0, "total": 50.0}}
    a3 = {"answer": "", "refused": True, "citations": [], "closest": [], "timings_ms": {"total": 10.0}}
    a4 = {"answer": "Four [1].", "refused": False, "citations": [_cit(A3, 0.3)], "closest": [], "timings_ms": {"total": 40.0}}
    s1 = score_one(q1, a1, ["x", A3, A4], 30.0)
    # cited {A3, x} vs gold {A3, A4}: P = 1/2, R = 1/2; first gold at rank 2 -> RR 1/2
    assert (s1["correct"], s1["citation_precision"], s1["citation_recall"], s1["rr"]) == (True, 0.5, 0.5, 0.5)
    assert (s1["recall@1"], s1["recall@5"], s1["support_score"]) == (0.0, 1.0, 0.8)
    s2 = score_one(q2, a2, [A4], 50.0)
    assert (s2["correct"], s2["citation_precision"], s2["support_score"], s2["rr"]) == (False, None, 0.4, 1.0)
    assert score_one(Question("m", "q", ("1",), ()), {"answer": "See [1].", "citations": []}, [], 1.0)["correct"] is False
    rows = [q.to_dict() | {"result": a, "scores": score_one(q, a, r, w)} for q, a, r, w in
            ((q1, a1, ["x", A3, A4], 30.0), (q2, a2, [A4], 50.0), (q3, a3, [], 10.0), (q4, a4, [], 40.0))]
    m = compute_metrics(rows, "extractive")
    # answerable q1 right, q2 refused -> 1/2; unanswerable q3 refused (right), q4 answered (wrong)
    assert m["accuracy"]["answerable"] == 0.5
    assert m["accuracy"]["by_kind"]["unanswerable"] == {"n": 2, "correct": 1, "accuracy": 0.5}
    # refusals q2, q3; unanswerable q3, q4: TP = 1 -> precision 1/2, recall 1/2; rate 2/4;
    # answerable refused: q2 of q1, q2 -> 1/2; unanswerable refused: q3 of q3, q4 -> 1/2
    assert m["refusal"] == {"precision": 0.5, "recall": 0.5, "rate": 0.5, "answerable_refused": 1,
                            "answerable_refused_rate": 0.5, "unanswerable_refused": 1, "unanswerable_refused_rate": 0.5}
    # citations over answered answerable questions with sources: only q1; of all answerable
    # with sources (q1 cites gold A3, q2 refused): 1/2
    assert m["citation"] == {"precision": 0.5, "recall": 0.5, "cites_gold": 1.0, "n": 1, "cites_gold_answerable": 0.5}
    # retrieval over answerable: recall@1 (0 + 1) / 2; MRR (1/2 + 1) / 2
    assert m["retrieval"]["recall@1"] == 0.5 and m["retrieval"]["mrr"] == 0.75
    # total p50 of 30, 50, 10, 40 -> sorted 10 30 40 50, position 1.5 -> 35
    assert m["latency_ms"]["total"]["p50"] == 35.0 and m["latency_ms"]["retrieve"]["n"] == 2


def test_short_answers_are_scored_against_the_gold_strings():
    q1 = Question("1", "Which missile?", ("9M729",), (A3,), kind="fact")
    q2 = Question("2", "Which wards?", ("Birch, Hazel and Rowan",), (A3,), kind="fact")
    q3 = Question("3", "Who?", ("Peskov",), (A3,), kind="fact")
    q4 = Question("4", "Warheads?", answerable=False, kind="unanswerable")
    cit = [_cit(A3, 0.8)]
    a1 = {"answer": "It is the 9M729 [1].", "refused": False, "citations": cit, "short_answer": {"text": "the 9M729"}}
    a2 = {"answer": "The wards are Birch, Hazel and Rowan [1].", "refused": False, "citations": cit,
          "short_answer": {"text": "Birch"}}
    a3 = {"answer": "Peskov said so [1].", "refused": False, "citations": cit, "short_answer": None}
    a4 = {"answer": "Four [1].", "refused": False, "citations": cit, "short_answer": {"text": "Four"}}
    rows = [q.to_dict() | {"result": a, "scores": score_one(q, a, [A3], 1.0)} for q, a in ((q1, a1), (q2, a2), (q3, a3), (q4, a4))]
    assert (rows[0]["scores"]["short_answer_exact"], rows[0]["scores"]["short_answer_f1"]) == (True, 1.0)
    # "birch" vs "birch hazel and rowan": P 1, R 1/4 -> F1 0.4
    assert rows[1]["scores"]["short_answer_exact"] is False and rows[1]["scores"]["short_answer_f1"] == pytest.approx(0.4)
    assert rows[2]["scores"]["short_answer_f1"] is None and rows[3]["scores"]["short_answer_f1"] is None  # none given; unanswerable
    # answered answerable: q1-q3; given: q1, q2 -> 2/3; exact (1 + 0) / 2; F1 (1 + 0.4) / 2
    m = compute_metrics(rows)["short_answer"]
    assert m["n"] == 2 and m["given"] == pytest.approx(2 / 3) and m["exact"] == 0.5 and m["f1"] == pytest.approx(0.7)


def test_parse_overrides():
    assert benchmarks.parse_overrides("mode=generative, top_k=3") == {"answer_mode": "generative", "top_k": 3}
    assert benchmarks.parse_overrides("answer_threshold=0.3") == {"answer_threshold": 0.3}
    for bad in ("nokey=1", "top_k", "top_k=three"):
        with pytest.raises(QAError, match="--compare item"):
            benchmarks.parse_overrides(bad)


# --- SQuAD and BEIR loaders ------------------------------------------------------------------

SQUAD = {"version": "1.1", "data": [
    {"title": "Super_Bowl_50", "paragraphs": [
        {"context": "The Denver Broncos defeated the Carolina Panthers 24-10 to win Super Bowl 50 at Levi's Stadium.",
         "qas": [{"id": "s1", "question": "Which team won Super Bowl 50?",
                  "answers": [{"text": "Denver Broncos", "answer_start": 4}, {"text": "Denver Broncos", "answer_start": 4},
                              {"text": "The Denver Broncos", "answer_start": 0}]},
                 {"id": "s2", "question": "Where was Super Bowl 50 played?",
                  "answers": [{"text": "Levi's Stadium", "answer_start": 83}]}]},
        {"context": "Quarterback Cam Newton was named the league's Most Valuable Player.",
         "qas": [{"id": "s3", "question": "Who was named Most Valuable Player?", "answers": [{"text": "Cam Newton", "answer_start": 12}]}]}]},
    {"title": "Warsaw", "paragraphs": [
        {"context": "Warsaw is the capital of Poland and stands on the Vistula River.",
         "qas": [{"id": "s4", "question": "On which river does Warsaw stand?", "answers": [{"text": "Vistula", "answer_start": 50}]}]}]},
]}


def test_load_squad_json_and_zip(tmp_path):
    (tmp_path / "dev.json").write_text(json.dumps(SQUAD))
    with zipfile.ZipFile(tmp_path / "dev.zip", "w") as z:
        z.writestr("dev-v1.1.json", json.dumps(SQUAD))
    for name in ("dev.json", "dev.zip"):
        arts, qs = benchmarks.load_squad(tmp_path / name)
        assert [a.id for a in arts] == ["Super_Bowl_50#0", "Super_Bowl_50#1", "Warsaw#0"]
        assert arts[0].title == "Super Bowl 50" and arts[2].text.startswith("Warsaw is")
        assert [q.id for q in qs] == ["s1", "s2", "s3", "s4"]
        assert qs[0].answers == ("Denver Broncos", "The Denver Broncos") and qs[0].sources == ("Super_Bowl_50#0",)
        assert qs[2].sources == ("Super_Bowl_50#1",) and qs[3].kind == "squad"
    s = benchmarks.sample(qs, 2, seed=7)
    assert len(s) == 2 and s == benchmarks.sample(qs, 2, seed=7) and set(s) <= set(qs)
    (tmp_path / "bad.json").write_text('{"version": 1}')
    with pytest.raises(QAError, match="not in SQuAD format"):
        benchmarks.load_squad(tmp_path / "bad.json")


def _beir(tmp_path: Path) -> Path:
    d = tmp_path / "beir"
    (d / "qrels").mkdir(parents=True)
    docs = [("d1", "Statins and breast cancer", "Statin use was linked to lower breast cancer mortality in a Finnish cohort."),
            ("d2", "Vitamin D and bones", "Vitamin D supplements improve bone density in older adults."),
            ("d3", "Coffee and the liver", "Coffee drinking is linked to a lower risk of liver cirrhosis."),
            ("d4", "Green tea", "")]
    _write(d / "corpus.jsonl", [{"_id": i, "title": t, "text": x} for i, t, x in docs])
    _write(d / "queries.jsonl", [{"_id": "q1", "text": "do statins help breast cancer survival"},
                                 {"_id": "q2", "text": "coffee and liver disease"}, {"_id": "q9", "text": "not judged"}])
    (d / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t2\nq2\td3\t1\nq2\td4\t0\n")
    return d


def test_load_beir(tmp_path):
    d = _beir(tmp_path)
    arts, queries, qrels = benchmarks.load_beir(d, "test")
    assert [a.id for a in arts] == ["d1", "d2", "d3", "d4"]
    assert arts[0].title == "Statins and breast cancer" and arts[0].text.startswith("Statin use")
    assert arts[3].text == "Green tea"  # empty text: the title stands in
    assert queries == {"q1": "do statins help breast cancer survival", "q2": "coffee and liver disease"}
    assert qrels == {"q1": {"d1": 2}, "q2": {"d3": 1, "d4": 0}}
    with pytest.raises(QAError, match="dev.tsv is missing"):
        benchmarks.load_beir(d, "dev")


def test_beir_run_keeps_best_chunk_rank_per_document():
    def hit(doc):
        return SimpleNamespace(chunk=SimpleNamespace(article_id=doc))

    stub = SimpleNamespace(config=SimpleNamespace(candidates=10),
                           search=lambda text, k, method=None: [hit("b"), hit("a"), hit("b"), hit("c"), hit("a")])
    run = benchmarks.beir_run(stub, {"q": "x"}, docs=2, method="bm25", progress=False)
    assert run == {"q": {"b": 2.0, "a": 1.0}}  # b first (rank 1), a second; c cut at 2 documents


# --- end to end with the real Assistant ------------------------------------------------------

@pytest.fixture(scope="module")
def bundled_index(tmp_path_factory):
    from qa.assistant import Assistant

    cfg = Config(index_dir=str(tmp_path_factory.mktemp("eval") / "index"))
    Assistant.create(cfg).add_paths([ARTICLES])
    return cfg


def test_run_eval_real_assistant_writes_report(bundled_index, tmp_path):
    from qa.assistant import Assistant
    from qa.report import PLOTS, write_report

    f = _write(tmp_path / "q.jsonl", [
        {"id": "f1", "kind": "fact", "question": "Which Russian missile does NATO say violates the INF treaty?",
         "answers": ["9M729", "SSC-8"], "sources": [A3, A4]},
        {"id": "u1", "question": "Who won the 2022 World Cup?", "answerable": False},
        {"id": "fu", "kind": "follow-up", "history": ["Which Russian missile does NATO say violates the INF treaty?"],
         "question": "What is its other designation?", "answers": ["SSC-8"], "sources": [A4]},
    ])
    run = run_eval(Assistant.open(bundled_index), load_questions(f), progress=False)
    assert isinstance(run, EvalRun) and [r["id"] for r in run.results] == ["f1", "u1", "fu"]
    m = run.metrics
    assert m["n_questions"] == 3 and m["n_answerable"] == 2 and m["errors"] == 0
    assert set(m) >= {"accuracy", "refusal", "citation", "retrieval", "latency_ms", "mode"}
    # the assistant must find the missile's article among its top 5 for the first question
    assert run.results[0]["scores"]["recall@5"] > 0
    for v in (m["accuracy"]["answerable"], m["retrieval"]["recall@1"], m["retrieval"]["mrr"], m["refusal"]["rate"]):
        assert 0.0 <= v <= 1.0
    assert m["latency_ms"]["wall"]["p50"] > 0 and m["latency_ms"]["wall"]["p95"] >= m["latency_ms"]["wall"]["p50"]
    assert "search_query" in run.results[2]["result"] and "timings_ms" in run.results[2]["result"]
    out = write_report(run, tmp_path / "out", title="tiny")
    for name in ("results.jsonl", "metrics.json", "report.md", "report.html", *PLOTS):
        assert (out / name).stat().st_size > 0, name
    assert len((out / "results.jsonl").read_text().splitlines()) == 3
    assert json.loads((out / "metrics.json").read_text())["n_questions"] == 3
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == len(PLOTS) and "What is its other designation?" in html


@pytest.mark.slow  # ~30 s: three CLI runs, two of them building an index
def test_cli_eval_compare_squad_and_beir(bundled_index, tmp_path, capsys):
    from qa.cli import main

    f = _write(tmp_path / "q.jsonl", [{"question": "Which Russian missile does NATO say violates the INF treaty?",
                                      "answers": ["9M729"], "sources": [A3, A4]}])
    out = tmp_path / "cmp"
    assert main(["eval", str(f), "--index", bundled_index.index_dir, "--out", str(out), "--no-progress",
                 "--compare", "top_k=3", "top_k=5,retriever=bm25"]) == 0
    table = (out / "compare.md").read_text()
    assert "| metric | top_k=3 | top_k=5,retriever=bm25 |" in table
    assert json.loads((out / "top_k=3" / "metrics.json").read_text())["run"]["config"]["top_k"] == 3

    with zipfile.ZipFile(tmp_path / "dev.zip", "w") as z:
        z.writestr("dev-v1.1.json", json.dumps(SQUAD))
    assert main(["eval", "--format", "squad", str(tmp_path / "dev.zip"), "--limit", "2", "--seed", "1",
                 "--out", str(tmp_path / "sq"), "--no-progress"]) == 0
    m = json.loads((tmp_path / "sq" / "metrics.json").read_text())
    assert m["n_questions"] == 2 and m["retrieval"]["n"] == 2 and 0 <= m["retrieval"]["recall@1"] <= 1

    assert main(["eval-retrieval", "--beir", str(_beir(tmp_path)), "--out", str(tmp_path / "b"), "--no-progress",
                 "--retriever", "hybrid", "bm25"]) == 0
    b = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert set(b["splits"]) == {"test"} and b["documents"] == 4
    assert set(b["splits"]["test"]["retrievers"]) == {"hybrid", "bm25"}
    for s in b["splits"]["test"]["retrievers"].values():
        assert s["n_queries"] == 2 and set(s["per_query"]) == {"q1", "q2"}
        # four short documents on distinct topics: the judged document must come first
        assert s["mrr@10"] == 1.0 and s["ndcg@10"] == pytest.approx(1.0)
    assert "nDCG@10" in capsys.readouterr().out


def test_eval_retrieval_several_splits_and_a_kept_index(tmp_path, capsys):
    from qa.cli import main

    d = _beir(tmp_path)
    (d / "qrels" / "dev.tsv").write_text("query-id\tcorpus-id\tscore\nq9\td2\t1\n")
    (d / "queries.jsonl").write_text((d / "queries.jsonl").read_text().replace("not judged", "vitamin D for bones"))
    idx = tmp_path / "beir-index"
    args = ["eval-retrieval", "--beir", str(d), "--split", "dev", "test", "--index", str(idx), "--no-progress",
            "--retriever", "bm25"]
    assert main(args + ["--out", str(tmp_path / "r1")]) == 0
    assert "4 documents embedded, 0 reused" in capsys.readouterr().out
    assert (idx / "manifest.json").exists()
    assert main(args + ["--out", str(tmp_path / "r2")]) == 0  # second run: nothing embedded again
    assert "0 documents embedded, 4 reused" in capsys.readouterr().out
    r1, r2 = (json.loads((tmp_path / r / "metrics.json").read_text()) for r in ("r1", "r2"))
    assert r1 == r2 | {"dataset": r1["dataset"]}
    assert r1["splits"]["dev"]["queries"] == 1 and r1["splits"]["test"]["queries"] == 2
    assert r1["splits"]["dev"]["retrievers"]["bm25"]["per_query"]["q9"]["mrr@10"] == 1.0  # d2 first
