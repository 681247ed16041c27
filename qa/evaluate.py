"""Run a question set through the assistant and score every answer.

Why: "does it answer right, cite right and refuse right" must be a number that a change
can move, measured the way a user meets the product (the real `ask`, history and all).

Decisions:
- A question set is JSONL, one question a line (format in eval/README.md). Unknown
  fields are ignored so sets can carry notes; a bad line is a QAError naming file and line.
- Every result keeps the full `ask(...).to_dict()` next to its scores, so a report can
  be re-scored or inspected without re-running.
- Retrieval is scored on `assistant.search(answer.search_query, k=60)`: the query the
  assistant actually searched for (after a follow-up rewrite), chunk hits reduced to
  article ids in order of first appearance, cut to 20. Asking for 3 chunks per wanted
  article lets recall@20 count 20 distinct articles when an article has several chunks.
- A question counts as "correct" when an answerable one is answered with a gold string,
  or an unanswerable one is refused; answer accuracy is over answerable questions only.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from qa import metrics as M
from qa.errors import QAError

KINDS = ("fact", "who-said", "when", "multi-article", "follow-up", "unanswerable")
RETRIEVAL_K = (1, 5, 20)
_MARKER = re.compile(r"\[\d+\]")


@dataclass(frozen=True)
class Question:
    """One evaluation question; `history` holds earlier user questions of the same chat."""

    id: str
    question: str
    answers: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    answerable: bool = True
    history: tuple[str, ...] = ()
    kind: str = "fact"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "question": self.question, "history": list(self.history), "answers": list(self.answers),
            "sources": list(self.sources), "answerable": self.answerable, "kind": self.kind,
        }


@dataclass
class EvalRun:
    """Per-question results (each the answer dict plus scores) and the aggregate metrics."""

    results: list[dict[str, Any]]
    metrics: dict[str, Any]
    config: dict[str, Any] = field(default_factory=dict)
    label: str = ""


def _strings(value: Any, name: str, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise QAError(f"{where}: `{name}` must be a list of strings, not {value!r}")
    return tuple(value)


def parse_question(obj: Any, where: str, default_id: str) -> Question:
    """One JSON object as a Question; `where` ("file:line") names it in errors."""
    if not isinstance(obj, dict):
        raise QAError(f"{where}: expected a JSON object with a `question`, got {type(obj).__name__}")
    q = obj.get("question")
    if not isinstance(q, str) or not q.strip():
        raise QAError(f"{where}: missing or empty `question` (every line needs one)")
    answerable = obj.get("answerable", True)
    if not isinstance(answerable, bool):
        raise QAError(f"{where}: `answerable` must be true or false, not {answerable!r}")
    kind = obj.get("kind") or ("fact" if answerable else "unanswerable")
    return Question(
        id=str(obj.get("id") or default_id), question=q.strip(), answers=_strings(obj.get("answers"), "answers", where),
        sources=_strings(obj.get("sources"), "sources", where), answerable=answerable,
        history=_strings(obj.get("history"), "history", where), kind=str(kind),
    )


def load_questions(path: str | Path) -> list[Question]:
    """Read a JSONL question set; blank lines are skipped, ids default to `line<N>`."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise QAError(f"cannot read question file {path}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise QAError(f"question file {path} is not UTF-8 text") from None
    out: list[Question] = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise QAError(f"{where}: not valid JSON ({e.msg}); each line must be one JSON object") from None
        out.append(parse_question(obj, where, f"line{n}"))
    if not out:
        raise QAError(f"question file {path} holds no questions")
    ids = [q.id for q in out]
    dup = next((i for i in ids if ids.count(i) > 1), None)
    if dup is not None:
        raise QAError(f"question file {path}: id {dup!r} is used more than once")
    return out


def article_ranking(hits: Sequence[Any]) -> list[str]:
    """Chunk hits -> article ids in order of first appearance."""
    return list(dict.fromkeys(h.chunk.article_id for h in hits))


def score_one(q: Question, answer: dict[str, Any], ranked: list[str], wall_ms: float) -> dict[str, Any]:
    """The scores of one answered question (pure: used by run_eval and by tests)."""
    refused = bool(answer.get("refused"))
    text = _MARKER.sub(" ", answer.get("answer") or "")
    contains = M.answer_contains(text, q.answers) if q.answers else None
    correct = (not refused and bool(contains)) if q.answerable else refused
    cited = [c["source"] for c in answer.get("citations", [])]
    p, r = M.citation_precision_recall(cited, q.sources) if (q.answerable and q.sources and not refused) else (None, None)
    support_list = answer.get("closest") if refused else answer.get("citations")
    support = max((c["score"] for c in support_list or []), default=None)
    # the bold short answer of an answered answerable question, against the gold strings
    short = (answer.get("short_answer") or {}).get("text") if (q.answerable and q.answers and not refused) else None
    s: dict[str, Any] = {
        "correct": correct, "contains_answer": contains, "refused": refused, "cited_sources": cited,
        "short_answer_exact": M.exact_match(short, q.answers) if short else None,
        "short_answer_f1": M.token_f1(short, q.answers) if short else None,
        "citation_precision": p, "citation_recall": r, "retrieved": ranked[:20], "support_score": support,
        "wall_ms": round(wall_ms, 2),
    }
    gold = q.sources if q.answerable else ()
    for k in RETRIEVAL_K:
        s[f"recall@{k}"] = M.recall_at_k(ranked, gold, k)
    s["rr"] = M.reciprocal_rank(ranked, gold) if gold else None
    return s


def eval_question(assistant: Any, q: Question, mode: str | None = None) -> dict[str, Any]:
    """Ask one question (with its history) and score it: its fields, `result`, `scores`."""
    t0 = time.perf_counter()
    try:
        ans = assistant.ask(q.question, history=q.history, mode=mode).to_dict()
    except QAError as e:  # a question the assistant rejects is a wrong answer, not a crash
        ans = {"question": q.question, "search_query": q.question, "answer": "", "refused": False,
               "error": str(e), "citations": [], "closest": [], "timings_ms": {}}
    wall = (time.perf_counter() - t0) * 1000
    hits = assistant.search(ans.get("search_query") or q.question, k=3 * max(RETRIEVAL_K))
    ranked = article_ranking(hits)[: max(RETRIEVAL_K)]
    return q.to_dict() | {"result": ans, "scores": score_one(q, ans, ranked, wall)}


def run_eval(assistant: Any, questions: Sequence[Question], mode: str | None = None, progress: bool = True) -> EvalRun:
    """Ask every question (with its history) in this process and score it."""
    from tqdm import tqdm

    results = [eval_question(assistant, q, mode) for q in tqdm(questions, desc="eval", unit="q", disable=not progress)]
    return eval_run(assistant, results, mode)


def eval_run(assistant: Any, results: list[dict[str, Any]], mode: str | None = None) -> EvalRun:
    """`results` of `eval_question` with their metrics and the assistant's config."""
    cfg = assistant.config.to_dict() if hasattr(assistant, "config") else {}
    return EvalRun(results, compute_metrics(results, mode or cfg.get("answer_mode")), cfg)


def compute_metrics(results: Sequence[dict[str, Any]], mode: str | None = None) -> dict[str, Any]:
    """Aggregate metrics from `run_eval` results (see docs/EVAL.md for definitions)."""
    ans = [r for r in results if r["answerable"]]
    scored = [r for r in ans if r["answers"]]
    by_kind: dict[str, dict[str, Any]] = {}
    for r in results:
        if r["answerable"] and not r["answers"]:
            continue
        k = by_kind.setdefault(r["kind"], {"n": 0, "correct": 0})
        k["n"] += 1
        k["correct"] += bool(r["scores"]["correct"])
    for k in by_kind.values():
        k["accuracy"] = k["correct"] / k["n"]
    refused = [r["scores"]["refused"] for r in results]
    unans = [not r["answerable"] for r in results]
    rp, rr = M.refusal_precision_recall(refused, unans)
    cited = [r for r in ans if r["sources"] and not r["scores"]["refused"]]
    with_gold = [r for r in ans if r["sources"]]
    ans_refused = sum(r["scores"]["refused"] for r in ans)
    unans_refused = sum(r["scores"]["refused"] for r in results if not r["answerable"])
    n_unans = len(results) - len(ans)
    retrieval: dict[str, Any] = {f"recall@{k}": M.mean(r["scores"][f"recall@{k}"] for r in with_gold) for k in RETRIEVAL_K}
    retrieval |= {"mrr": M.mean(r["scores"]["rr"] for r in with_gold), "n": len(with_gold)}
    return {
        "mode": mode,
        "n_questions": len(results), "n_answerable": len(ans), "n_unanswerable": n_unans,
        "errors": sum("error" in r["result"] for r in results),
        "accuracy": {
            "answerable": M.mean(float(r["scores"]["correct"]) for r in scored), "n": len(scored),
            "by_kind": dict(sorted(by_kind.items())),
        },
        "refusal": {
            "precision": rp, "recall": rr, "rate": sum(refused) / len(results) if results else None,
            "answerable_refused": ans_refused,
            "answerable_refused_rate": ans_refused / len(ans) if ans else None,
            "unanswerable_refused": unans_refused,
            "unanswerable_refused_rate": unans_refused / n_unans if n_unans else None,  # = recall, named for readers
        },
        "citation": {
            "precision": M.mean(r["scores"]["citation_precision"] for r in cited),
            "recall": M.mean(r["scores"]["citation_recall"] for r in cited),
            "cites_gold": M.mean(_cites_gold(r) for r in cited),
            "n": len(cited),
            # over every answerable question with gold sources: a refusal cites nothing
            "cites_gold_answerable": M.mean(_cites_gold(r) for r in with_gold),
        },
        "short_answer": short_answer_summary(scored),
        "retrieval": retrieval,
        "latency_ms": latency_summary(results),
    }


def short_answer_summary(scored: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Of answered answerable questions: the share given a short answer, and of those, exact
    match and SQuAD F1 against the gold strings."""
    answered = [r for r in scored if not r["scores"]["refused"]]
    given = [r for r in answered if r["scores"].get("short_answer_f1") is not None]
    return {"given": len(given) / len(answered) if answered else None, "n": len(given),
            "exact": M.mean(float(r["scores"]["short_answer_exact"]) for r in given),
            "f1": M.mean(r["scores"]["short_answer_f1"] for r in given)}


def _cites_gold(r: dict[str, Any]) -> float:
    """1.0 when an answered question cites a gold source (a refusal cites nothing)."""
    return float(not r["scores"]["refused"] and bool(set(r["scores"]["cited_sources"]) & set(r["sources"])))


def latency_summary(results: Sequence[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """p50/p95 of every `timings_ms` stage, plus `wall` (measured around `ask`)."""
    stages: dict[str, list[float]] = {}
    for r in results:
        for name, ms in (r["result"].get("timings_ms") or {}).items():
            stages.setdefault(name, []).append(float(ms))
        stages.setdefault("wall", []).append(float(r["scores"]["wall_ms"]))
    return {n: {"p50": M.percentile(v, 50), "p95": M.percentile(v, 95), "n": len(v)} for n, v in stages.items()}


def register(subparsers: Any) -> None:
    """Add `qa eval` and `qa eval-retrieval` to the CLI (handlers in qa.benchmarks)."""
    from qa import benchmarks

    p = subparsers.add_parser("eval", help="answer a question set (or SQuAD) and write a scored report")
    p.add_argument("questions", help="question set (.jsonl), or a SQuAD .json/.zip with --format squad")
    p.add_argument("--format", choices=("jsonl", "squad"), default="jsonl", help="question file format")
    p.add_argument("--mode", choices=("extractive", "generative"), help="answer mode (default: config)")
    p.add_argument("--out", help="output folder (default: eval/runs/<timestamp>/)")
    p.add_argument("--limit", type=int, help="only the first N questions (SQuAD: a sample of N)")
    p.add_argument("--seed", type=int, default=0, help="SQuAD sampling seed (default 0)")
    p.add_argument("--split", choices=benchmarks.SQUAD_SPLITS,
                   help="SQuAD: sample questions only from this part of the fixed split by article (report on "
                        "`test`); every paragraph stays indexed (default: all questions, with a warning)")
    p.add_argument("--unanswerable", action="store_true",
                   help="SQuAD: ask each question with its own article removed from the index; refusing is right")
    p.add_argument("--compare", nargs="+", metavar="KEY=VALUE[,KEY=VALUE]",
                   help="run each configuration (config overrides; mode= means answer_mode=) side by side")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--index", dest="index_dir", help="index folder for question sets (default: index/ or the config)")
    p.set_defaults(func=benchmarks.cmd_eval)

    r = subparsers.add_parser("eval-retrieval", help="retrieval quality on a BEIR dataset (nDCG@10, recall@100, MRR@10)")
    r.add_argument("--beir", required=True, help="BEIR folder with corpus.jsonl, queries.jsonl, qrels/<split>.tsv")
    r.add_argument("--split", dest="splits", nargs="+", default=["test"], metavar="SPLIT",
                   help="qrels split(s), each scored over the same index (default test; e.g. --split dev test)")
    r.add_argument("--limit", type=int, help="only the first N queries of each split")
    r.add_argument("--retriever", dest="retrievers", nargs="+", choices=("hybrid", "dense", "bm25"),
                   help="retrieval method(s), each scored over the same index (default: the config's)")
    r.add_argument("--index", dest="index_dir",
                   help="keep the corpus index in this folder: built on the first run, reused (only new or changed "
                        "documents embedded) later (default: in memory, rebuilt every run)")
    r.add_argument("--out", help="output folder (default: eval/runs/<timestamp>-beir/)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    r.set_defaults(func=benchmarks.cmd_eval_retrieval)
