"""Fit the answer calibration on SQuAD's development half, and compare sentence choosers.

Why: the gate's hand-set thresholds were chosen on the bundled set and did not hold on
questions nobody tuned for. Here both decisions are learned on data the ranker never saw
(the "dev-calibrate" articles of the fixed split) and reported on data nobody tuned on
("test"):
- `sentence`: P(sentence holds the answer) from the cross-encoder logit and the cheap
  features (similarity, coverage, answer type, hit rank, lead sentence);
- `answerable`: P(the best sentence is right) from question-level signals, fitted on
  answerable questions (label: the best sentence holds a gold answer) and the same
  questions asked of an index without their article (label 0);
- `threshold`: the answerability below which to refuse, the highest one that still answers
  at least (1 - MAX_REFUSED_ANSWERABLE) of the development answerable questions that pass
  the principled rules.

`python -m qa.calibrate fit` writes models/answer-ranker/calibration.json (part of
`make model`); `python -m qa.calibrate compare --split test` prints the comparison of
sentence choosers on the test half (docs/EVAL.md).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from qa.gate import assess, Vocabulary
from qa.metrics import answer_contains
from qa.ranker import BUNDLED_RANKER, Calibration, Logistic, cheap_score, load_ranker

SENTENCE_FEATURES = ("ranker", "similarity", "coverage", "context_coverage", "typed", "hit_rank", "lead")
ANSWERABLE_FEATURES = ("best_score", "best_ranker", "best_similarity", "topic_coverage", "best_coverage",
                       "absent_words", "typed")
MAX_REFUSED_ANSWERABLE = 0.04  # the refusal rate on answerable dev questions the threshold may cost
SEED = 0
DEV_LIMIT = 1500  # questions of the dev-calibrate articles used (both variants each)
# The raw calibration used while collecting: the sentence score is the ranker's own probability.
RAW = Calibration(Logistic(("ranker",), (1.0,), 0.0), Logistic(("best_score",), (1.0,), 0.0), 0.0)


@dataclass
class Record:
    """What one question offers the fit: its ranked candidates and the gate's rule outcome."""

    qid: str
    answerable: bool  # the question's article is in the index
    kind: str | None
    rule: str  # the principled rule that refused ("" when none did)
    cands: list[dict[str, float]]  # features per candidate, best-by-ranker first
    labels: list[bool]  # candidate holds a gold answer
    sim_best_label: bool  # the most similar sentence of ALL candidates holds a gold answer
    absent_words: float
    topic_coverage: float


def collect(assistant: Any, questions: Sequence[Any], answerable: bool, progress: bool = True) -> list[Record]:
    """Run the gate with every candidate scored by the ranker, and keep its inputs."""
    from tqdm import tqdm

    from qa.gate import THRESHOLDS

    ranker = load_ranker(assistant.config.answer_ranker)
    every = replace(THRESHOLDS, ranker_candidates=1000)
    vocabulary = Vocabulary.of(assistant.index)
    out = []
    for q in tqdm(questions, desc="collect" + ("" if answerable else " (own article removed)"), disable=not progress):
        hits = assistant.search(q.question, k=assistant.config.top_k)
        ev = assess(q.question, q.question, hits, assistant.retriever.similarity, ranker, RAW, vocabulary, 0.0, every)
        labels = [answer_contains(c.text, q.answers) if answerable else False for c in ev.ranked]
        sim_best = max(ev.ranked, key=lambda c: c.similarity) if ev.ranked else None
        rule = ev.reason if not ev.answerable else ""
        out.append(Record(q.id, answerable, ev.answer_type, rule, [c.features() for c in ev.ranked], labels,
                          bool(sim_best and answerable and answer_contains(sim_best.text, q.answers)),
                          ev.signals.get("absent_words", 0.0), ev.signals.get("topic_coverage", 0.0)))
    return out


def _pruned(r: Record, limit: int) -> list[int]:
    """The candidates production scores with the ranker: the best `limit` by cheap signals."""
    order = sorted(range(len(r.cands)), key=lambda i: -cheap_score(r.cands[i]["similarity"], r.cands[i]["coverage"]))
    return order[:limit]


def _fit(x: np.ndarray, y: np.ndarray, names: Sequence[str], c: float = 1.0) -> Logistic:
    from sklearn.linear_model import LogisticRegression

    m = LogisticRegression(C=c, max_iter=1000, random_state=SEED).fit(x, y)
    return Logistic(tuple(names), tuple(float(w) for w in m.coef_[0]), float(m.intercept_[0]))


def _best(r: Record, sentence: Logistic, limit: int) -> tuple[int | None, float]:
    """Index and probability of the sentence production would pick (typed first)."""
    idx = _pruned(r, limit)
    if not idx:
        return None, 0.0
    scores = {i: sentence(r.cands[i]) for i in idx}
    typed_ = [i for i in idx if r.cands[i]["typed"]] or idx
    i = max(typed_, key=lambda j: scores[j])
    return i, scores[i]


def question_signals(r: Record, sentence: Logistic, limit: int) -> dict[str, float]:
    i, p = _best(r, sentence, limit)
    c = r.cands[i] if i is not None else {}
    return {"best_score": p, "best_ranker": c.get("ranker", -10.0),
            "best_similarity": max((x["similarity"] for x in r.cands), default=0.0),
            "topic_coverage": r.topic_coverage, "best_coverage": c.get("coverage", 0.0),
            "absent_words": r.absent_words, "typed": c.get("typed", 0.0)}


def fit(records: list[Record], limit: int) -> tuple[Calibration, dict]:
    ans = [r for r in records if r.answerable]
    xs, ys = [], []
    for r in ans:
        for i in _pruned(r, limit):
            xs.append([r.cands[i][f] for f in SENTENCE_FEATURES])
            ys.append(r.labels[i])
    sentence = _fit(np.array(xs), np.array(ys), SENTENCE_FEATURES)
    xa, ya, passed = [], [], []
    for r in records:
        s = question_signals(r, sentence, limit)
        i, _ = _best(r, sentence, limit)
        xa.append([s[f] for f in ANSWERABLE_FEATURES])
        ya.append(bool(r.answerable and i is not None and r.labels[i]))
        passed.append(not r.rule)
    answerable = _fit(np.array(xa), np.array(ya), ANSWERABLE_FEATURES)
    p = np.array([answerable(dict(zip(ANSWERABLE_FEATURES, row))) for row in xa])
    is_ans = np.array([r.answerable for r in records])
    ok = np.array(passed)
    # The highest threshold that refuses at most MAX_REFUSED_ANSWERABLE of the answerable
    # questions the rules let through.
    ans_p = np.sort(p[is_ans & ok])
    k = int(np.floor(MAX_REFUSED_ANSWERABLE * len(ans_p)))
    threshold = float(ans_p[k]) if len(ans_p) else 0.5
    refused = ~ok | (p < threshold)
    report = {
        "dev_questions": int(is_ans.sum()), "sentence_pairs": len(ys), "threshold": round(threshold, 4),
        "dev_answerable_refused": round(float(refused[is_ans].mean()), 4),
        "dev_answerable_refused_by_rules": round(float((~ok)[is_ans].mean()), 4),
        "dev_unanswerable_refused": round(float(refused[~is_ans].mean()), 4),
        "dev_unanswerable_refused_by_rules": round(float((~ok)[~is_ans].mean()), 4),
    }
    return Calibration(sentence, answerable, threshold), report


def compare(records: list[Record], calibration: Calibration, limit: int) -> dict:
    """On answerable records: how often each chooser's best sentence holds the answer."""
    ans = [r for r in records if r.answerable and r.cands]
    n = len(ans)
    any_holds = sum(any(r.labels) for r in ans)
    sim = sum(r.sim_best_label for r in ans)
    ce = 0
    combo = 0
    for r in ans:
        idx = _pruned(r, limit)
        ce += r.labels[max(idx, key=lambda i: r.cands[i]["ranker"])]
        i, _ = _best(r, calibration.sentence, limit)
        combo += r.labels[i]
    return {"questions": n, "a_sentence_holds_it": round(any_holds / n, 4), "similarity": round(sim / n, 4),
            "cross_encoder": round(ce / n, 4), "combination": round(combo / n, 4)}


def _squad(split: str, limit: int, seed: int, squad: Path, index_dir: Path, config: Any):
    from qa.benchmarks import beir_assistant, load_squad, sample, split_questions

    articles, questions = load_squad(squad)
    qs = sample(split_questions(articles, questions, split), limit, seed)
    assistant = beir_assistant(articles, config, str(index_dir))
    return assistant, qs


def records_for(split: str, limit: int, seed: int, squad: Path, index_dir: Path, config: Any,
                unanswerable: bool = True) -> list[Record]:
    from qa.assistant import Assistant
    from qa.benchmarks import _question_title, without_titles

    assistant, qs = _squad(split, limit, seed, squad, index_dir, config)
    records = collect(assistant, qs, answerable=True)
    if unanswerable:
        groups: dict[str, list[Any]] = {}
        for q in qs:
            groups.setdefault(_question_title(q), []).append(q)
        for title, members in groups.items():
            without = Assistant(assistant.config, without_titles(assistant.index, [title]), None)
            records += collect(without, members, answerable=False, progress=False)
    return records


def main(argv: Sequence[str] | None = None) -> int:
    from qa.config import load_config
    from qa.train import SQUAD, write_manifest

    ap = argparse.ArgumentParser(prog="python -m qa.calibrate")
    ap.add_argument("action", choices=("fit", "compare"))
    ap.add_argument("--split", default="dev-calibrate")
    ap.add_argument("--limit", type=int, default=DEV_LIMIT)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--squad", type=Path, default=SQUAD)
    ap.add_argument("--model", type=Path, default=BUNDLED_RANKER)
    ap.add_argument("--index-dir", type=Path, default=Path("eval/runs/squad-index"))
    ap.add_argument("--records", type=Path, default=None,
                    help="keep the collected records in this JSON file and reuse them when it exists (same model only)")
    a = ap.parse_args(argv)
    config = load_config(answer_ranker="" if a.model == BUNDLED_RANKER else str(a.model))
    from qa.gate import THRESHOLDS

    t0 = time.time()
    if a.records and a.records.exists():
        records = [Record(**r) for r in json.loads(a.records.read_text(encoding="utf-8"))]
    else:
        records = records_for(a.split, a.limit, a.seed, a.squad, a.index_dir, config, unanswerable=a.action == "fit")
        if a.records:
            a.records.write_text(json.dumps([asdict(r) for r in records]), encoding="utf-8")
    if a.action == "fit":
        calibration, report = fit(records, THRESHOLDS.ranker_candidates)
        out = {"sentence": calibration.sentence.to_dict(), "answerable": calibration.answerable.to_dict(),
               "threshold": calibration.threshold, "fitted_on": f"SQuAD v1.1 dev, split {a.split}, {a.limit} questions, seed {a.seed}",
               "report": report}
        (a.model / "calibration.json").write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
        write_manifest(a.model, {"calibration": report})
        print(json.dumps(out, indent=2))
    else:
        calibration = Calibration.load(a.model / "calibration.json")
        print(json.dumps(compare(records, calibration, THRESHOLDS.ranker_candidates) | {"split": a.split, "limit": a.limit,
                                                                                         "seconds": round(time.time() - t0)}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
