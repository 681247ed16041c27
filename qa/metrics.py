"""Evaluation metrics as small pure functions, each with a worked example.

Why a module of its own: every number in a report must be traceable to one definition
that a test pins on a hand-computed case. Nothing here loads a model or reads a file.

Decisions:
- Answer correctness is SQuAD's normalisation plus *containment*: an answer is right when
  its normalised text contains a normalised gold string as whole words. Our answers are sentences with
  citations, not spans, so exact match would call every right answer wrong.
- Refusal is the positive class: precision = right refusals / all refusals, recall =
  right refusals / all unanswerable questions.
- Retrieval metrics work on ranked *article* ids (chunk hits reduced to the first
  appearance of each article): recall@k = share of gold articles in the top k.
- BEIR numbers come from pytrec_eval (the trec_eval code BEIR itself uses), not from a
  hand-rolled formula, so they compare with published tables.
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections import Counter
from typing import Iterable, Mapping, Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation)


def _is_punct(ch: str) -> bool:
    return ch in _PUNCT or unicodedata.category(ch).startswith("P")


def normalize_answer(text: str) -> str:
    """SQuAD v1.1's normalisation: lower-case, drop punctuation and articles, collapse spaces.

    One deviation: besides ASCII punctuation, Unicode punctuation (curly quotes, dashes)
    is dropped too, since news text is full of it: "doesn’t" and "doesn't" both become
    "doesnt". SQuAD's own script keeps "’", which only ever makes it stricter.

    >>> normalize_answer("The  SSC-8, a missile!"), normalize_answer("“second-class members.”")
    ('ssc8 missile', 'secondclass members')
    """
    text = "".join(ch for ch in text.lower() if not _is_punct(ch))
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def answer_contains(text: str, answers: Iterable[str]) -> bool:
    """True when normalised `text` contains any normalised, non-empty gold answer as whole
    words (so the gold "IZ" does not match inside "realize", nor "2019" inside "20190").

    >>> answer_contains("Russia's missile, the 9M729 [1].", ["SSC-8", "9M729"])
    True
    >>> answer_contains("It was in 2019.", ["2020"]), answer_contains("They realize it.", ["IZ"])
    (False, False)
    """
    norm = f" {normalize_answer(text)} "
    return any(g and f" {g} " in norm for g in (normalize_answer(a) for a in answers))


def token_f1(prediction: str, answers: Iterable[str]) -> float:
    """SQuAD v1.1's F1: token overlap of the normalised prediction with each gold answer, the
    best over the answers (0.0 when there are none).

    >>> token_f1("Birch", ["Birch, Hazel and Rowan"]), token_f1("Drayford Civil", ["the contractor Drayford Civil"])
    (0.4, 0.8)
    >>> token_f1("140", ["48-hour"])
    0.0
    """
    pred = normalize_answer(prediction).split()
    best = 0.0
    for gold in (normalize_answer(a).split() for a in answers):
        same = sum((Counter(pred) & Counter(gold)).values())
        if same and pred and gold:
            p, r = same / len(pred), same / len(gold)
            best = max(best, 2 * p * r / (p + r))
    return best


def exact_match(prediction: str, answers: Iterable[str]) -> bool:
    """SQuAD v1.1's exact match: the normalised prediction equals a normalised gold answer.

    >>> exact_match("the Sarne", ["Sarne", "the Sarne river"]), exact_match("Sarne river", ["Sarne"])
    (True, False)
    """
    pred = normalize_answer(prediction)
    return any(pred == normalize_answer(a) for a in answers)


def citation_precision_recall(cited: Iterable[str], gold: Iterable[str]) -> tuple[float | None, float | None]:
    """Precision and recall of the cited article ids against the gold ones (as sets).

    Cited {A, B}, gold {A, C}: precision 1/2, recall 1/2. None where undefined (nothing
    cited, or no gold sources).

    >>> citation_precision_recall(["a", "b", "a"], ["a", "c"])
    (0.5, 0.5)
    """
    c, g = set(cited), set(gold)
    both = len(c & g)
    return (both / len(c) if c else None, both / len(g) if g else None)


def refusal_precision_recall(refused: Sequence[bool], unanswerable: Sequence[bool]) -> tuple[float | None, float | None]:
    """Refusal as the positive class, over all questions.

    refused      [T, T, F, F], unanswerable [T, F, T, F]: one right refusal (TP=1), one
    refusal of an answerable question (FP=1), one unanswerable answered (FN=1):
    precision 1/2, recall 1/2. None where the denominator is 0.

    >>> refusal_precision_recall([True, True, False, False], [True, False, True, False])
    (0.5, 0.5)
    """
    if len(refused) != len(unanswerable):
        raise ValueError("refused and unanswerable must have one entry per question")
    tp = sum(r and u for r, u in zip(refused, unanswerable))
    n_refused, n_unans = sum(refused), sum(unanswerable)
    return (tp / n_refused if n_refused else None, tp / n_unans if n_unans else None)


def recall_at_k(ranked: Sequence[str], gold: Iterable[str], k: int) -> float | None:
    """Share of gold ids among the first `k` ranked ids; None without gold ids.

    >>> recall_at_k(["x", "a", "y", "b"], ["a", "b"], 2)
    0.5
    """
    g = set(gold)
    if not g:
        return None
    return len(g & set(ranked[:k])) / len(g)


def reciprocal_rank(ranked: Sequence[str], gold: Iterable[str], k: int | None = None) -> float:
    """1 / rank of the first gold id (1-based), 0 when none is in the (first k) ranks.

    >>> reciprocal_rank(["x", "y", "a"], ["a"])
    0.3333333333333333
    """
    g = set(gold)
    for rank, item in enumerate(ranked[:k] if k else ranked, 1):
        if item in g:
            return 1.0 / rank
    return 0.0


def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the non-None values, None when there are none.

    >>> mean([1.0, None, 0.0])
    0.5
    """
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def mean_reciprocal_rank(rankings: Sequence[Sequence[str]], golds: Sequence[Iterable[str]]) -> float | None:
    """Mean of `reciprocal_rank` over queries: ranks 1 and 4 give (1 + 0.25) / 2.

    >>> mean_reciprocal_rank([["a"], ["x", "y", "z", "b"]], [["a"], ["b"]])
    0.625
    """
    return mean(reciprocal_rank(r, g) for r, g in zip(rankings, golds))


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile with linear interpolation between order statistics (numpy's
    default): position (n - 1) * q / 100 in the sorted values.

    [10, 20, 30, 40]: p50 sits at position 1.5 -> 25; p95 at 2.85 -> 30 + 0.85 * 10 = 38.5.

    >>> percentile([40, 10, 30, 20], 50), percentile([40, 10, 30, 20], 95)
    (25.0, 38.5)
    """
    if not values:
        return None
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be in [0, 100], not {q}")
    s = sorted(float(v) for v in values)
    pos = (len(s) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def ranks_to_run(ranked: Sequence[str]) -> dict[str, float]:
    """A ranked id list as a trec run {doc: score} with strictly decreasing scores, so
    trec_eval's tie-breaking (by doc id) can never reorder it.

    >>> ranks_to_run(["b", "a"])
    {'b': 2.0, 'a': 1.0}
    """
    n = len(ranked)
    return {doc: float(n - i) for i, doc in enumerate(ranked)}


def beir_scores(
    qrels: Mapping[str, Mapping[str, int]], run: Mapping[str, Mapping[str, float]]
) -> dict[str, float | dict[str, dict[str, float]]]:
    """nDCG@10, recall@100 and MRR@10 as BEIR reports them, computed by pytrec_eval.

    `qrels`: {query: {doc: graded relevance}}; `run`: {query: {doc: score}} (higher is
    better). MRR@10 is trec_eval's recip_rank on the run cut to its 10 best documents.
    Means are over every query in `qrels`; a query missing from the run scores 0.
    nDCG uses trec_eval's linear gain (rel / log2(rank + 1)), like BEIR's tables.
    Returns {"ndcg@10", "recall@100", "mrr@10", "n_queries", "per_query": {q: {...}}}.
    """
    import pytrec_eval

    qrels = {q: {d: int(r) for d, r in docs.items()} for q, docs in qrels.items()}
    run = {q: {d: float(s) for d, s in docs.items()} for q, docs in run.items() if q in qrels and docs}
    top10 = {q: dict(sorted(docs.items(), key=lambda kv: (-kv[1], kv[0]))[:10]) for q, docs in run.items()}
    full = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.100"}).evaluate(run) if run else {}
    cut = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(top10) if run else {}
    per_query: dict[str, dict[str, float]] = {}
    for q in qrels:
        f, c = full.get(q, {}), cut.get(q, {})
        per_query[q] = {
            "ndcg@10": f.get("ndcg_cut_10", 0.0),
            "recall@100": f.get("recall_100", 0.0),
            "mrr@10": c.get("recip_rank", 0.0),
        }
    n = len(per_query)
    out: dict[str, float | dict[str, dict[str, float]]] = {
        m: (sum(p[m] for p in per_query.values()) / n if n else 0.0) for m in ("ndcg@10", "recall@100", "mrr@10")
    }
    out["n_queries"] = n
    out["per_query"] = per_query
    return out
