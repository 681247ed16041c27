"""Every metric pinned on small cases worked out by hand (the arithmetic is in the comments)."""

from __future__ import annotations

import math

import pytest

from qa import metrics as M


# --- answers -----------------------------------------------------------------------------

def test_normalize_answer_follows_squad():
    # lower-case; "," "-" "!" dropped; "The" and "a" dropped; spaces collapsed
    assert M.normalize_answer("The  SSC-8, a missile!") == "ssc8 missile"
    # articles only as whole words: "another" and "theory" keep their letters
    assert M.normalize_answer("another theory") == "another theory"
    # Unicode punctuation too (curly quotes and apostrophes in news text)
    assert M.normalize_answer("doesn’t “work”") == M.normalize_answer("doesn't \"work\"") == "doesnt work"


def test_answer_contains_whole_words_after_normalisation():
    text = "Russia's missile, the 9M729 [1], also called SSC-8."
    assert M.answer_contains(text, ["ssc 8", "SSC-8"])  # "ssc 8" -> "ssc 8" not in text, "ssc8" is
    assert M.answer_contains(text, ["The 9M729"])  # article dropped on both sides
    assert not M.answer_contains(text, ["9M72"])  # a prefix of a word is not the word
    assert not M.answer_contains("They realize it", ["IZ"])
    assert not M.answer_contains("anything", [])
    assert not M.answer_contains("the", ["the"])  # normalises to "": an empty gold never matches


def test_short_answer_exact_match_and_f1_follow_squad():
    # "Birch" vs "birch hazel and rowan": 1 shared token, P = 1/1, R = 1/4 -> F1 = 2 * 0.25 / 1.25 = 0.4;
    # "and" is no article, so it counts as a token
    assert M.token_f1("Birch", ["Birch, Hazel and Rowan"]) == pytest.approx(0.4)
    # the best gold wins: "Birch" vs "Birch" -> 1.0
    assert M.token_f1("Birch", ["Birch, Hazel and Rowan", "Birch"]) == 1.0
    # repeated tokens count as often as both sides have them: "the 48 48" -> "48 48" vs "48": same 1, P 1/2, R 1 -> 2/3
    assert M.token_f1("the 48 48", ["48"]) == pytest.approx(2 / 3)
    assert M.token_f1("140", ["48-hour"]) == 0.0 and M.token_f1("Birch", []) == 0.0
    assert M.exact_match("the Sarne", ["Sarne river", "Sarne"]) and not M.exact_match("Sarne river", ["Sarne"])


# --- citations and refusals --------------------------------------------------------------

def test_citation_precision_recall_by_source():
    # cited {a, b} (a twice counts once), gold {a, c}: overlap {a} -> P = 1/2, R = 1/2
    assert M.citation_precision_recall(["a", "b", "a"], ["a", "c"]) == (0.5, 0.5)
    # cited {a}, gold {a, b, c}: P = 1/1, R = 1/3
    p, r = M.citation_precision_recall(["a"], ["a", "b", "c"])
    assert (p, r) == (1.0, pytest.approx(1 / 3))
    # nothing cited: precision undefined, recall 0/1
    assert M.citation_precision_recall([], ["a"]) == (None, 0.0)


def test_refusal_precision_recall_positive_class_is_refusal():
    refused = [True, True, True, False, False, False]
    unanswerable = [True, True, False, True, False, False]
    # TP = refused & unanswerable = q1, q2 -> 2; refusals = 3; unanswerable = 3
    # precision = 2/3, recall = 2/3
    p, r = M.refusal_precision_recall(refused, unanswerable)
    assert p == pytest.approx(2 / 3) and r == pytest.approx(2 / 3)
    # no refusals at all: precision undefined, recall 0/1
    assert M.refusal_precision_recall([False, False], [True, False]) == (None, 0.0)
    with pytest.raises(ValueError):
        M.refusal_precision_recall([True], [True, False])


# --- retrieval ---------------------------------------------------------------------------

def test_recall_at_k_and_reciprocal_rank():
    ranked = ["x", "a", "y", "b"]
    gold = ["a", "b"]
    # top1 {x}: 0/2; top2 {x,a}: 1/2; top4: 2/2
    assert M.recall_at_k(ranked, gold, 1) == 0.0
    assert M.recall_at_k(ranked, gold, 2) == 0.5
    assert M.recall_at_k(ranked, gold, 20) == 1.0
    assert M.recall_at_k(ranked, [], 5) is None
    # first gold "a" at rank 2 -> 1/2; with k=1 it is cut off -> 0
    assert M.reciprocal_rank(ranked, gold) == 0.5
    assert M.reciprocal_rank(ranked, gold, k=1) == 0.0
    assert M.reciprocal_rank(ranked, ["zzz"]) == 0.0


def test_mean_reciprocal_rank():
    # ranks 1, 4 and not found: (1 + 1/4 + 0) / 3 = 0.41666...
    mrr = M.mean_reciprocal_rank([["a"], ["x", "y", "z", "b"], ["x"]], [["a"], ["b"], ["c"]])
    assert mrr == pytest.approx(1.25 / 3)
    assert M.mean([None, None]) is None


def test_percentile_linear_interpolation():
    vals = [40, 10, 30, 20]  # sorted 10 20 30 40, n-1 = 3
    assert M.percentile(vals, 50) == 25.0  # position 1.5: 20 + 0.5 * 10
    assert M.percentile(vals, 95) == pytest.approx(38.5)  # position 2.85: 30 + 0.85 * 10
    assert M.percentile(vals, 0) == 10.0 and M.percentile(vals, 100) == 40.0
    assert M.percentile([7.0], 95) == 7.0
    assert M.percentile([], 50) is None
    with pytest.raises(ValueError):
        M.percentile(vals, 101)


# --- BEIR via pytrec_eval: a 3-query toy computed on paper ----------------------------------

def _toy():
    qrels = {
        "q1": {"d1": 1},
        "q2": {"d1": 2, "d2": 1},
        "q3": {"d4": 1, "d5": 1},
    }
    run = {
        "q1": M.ranks_to_run(["d2", "d1", "d3"]),
        "q2": M.ranks_to_run(["d1", "d3", "d2"]),
        # eleven non-relevant documents, then d4 at rank 12; d5 never retrieved
        "q3": M.ranks_to_run([f"x{i}" for i in range(1, 12)] + ["d4"]),
    }
    return qrels, run


def test_beir_scores_three_query_toy():
    qrels, run = _toy()
    s = M.beir_scores(qrels, run)
    # q1: the one relevant doc at rank 2. DCG = 1/log2(3) = 0.630930; IDCG = 1/log2(2) = 1
    #     nDCG = 0.630930; RR = 1/2; recall@100 = 1/1
    # q2: d1 (rel 2) at rank 1, d2 (rel 1) at rank 3 (trec_eval gain is linear in rel).
    #     DCG = 2/log2(2) + 1/log2(4) = 2 + 0.5 = 2.5
    #     IDCG = 2/log2(2) + 1/log2(3) = 2 + 0.630930 = 2.630930 -> nDCG = 0.950226
    #     RR = 1; recall@100 = 2/2
    # q3: first relevant at rank 12: nDCG@10 = 0, RR@10 = 0; recall@100 = 1/2 (d5 missing)
    # means: nDCG@10 = (0.630930 + 0.950226 + 0) / 3 = 0.527052
    #        MRR@10  = (0.5 + 1 + 0) / 3 = 0.5
    #        recall@100 = (1 + 1 + 0.5) / 3 = 0.833333
    pq = s["per_query"]
    assert pq["q1"]["ndcg@10"] == pytest.approx(1 / math.log2(3), abs=1e-4)
    assert pq["q2"]["ndcg@10"] == pytest.approx(2.5 / (2 + 1 / math.log2(3)), abs=1e-4)
    assert pq["q3"] == {"ndcg@10": 0.0, "recall@100": 0.5, "mrr@10": 0.0}
    assert s["ndcg@10"] == pytest.approx(0.527052, abs=1e-4)
    assert s["mrr@10"] == pytest.approx(0.5, abs=1e-6)
    assert s["recall@100"] == pytest.approx(0.833333, abs=1e-4)
    assert s["n_queries"] == 3


def test_beir_mrr_is_cut_at_ten_and_missing_queries_score_zero():
    qrels, run = _toy()
    # Untruncated trec_eval recip_rank would give q3 1/12; MRR@10 must give 0 (checked above).
    # A fourth judged query with no run at all counts as 0 in every mean:
    qrels["q4"] = {"d9": 1}
    s = M.beir_scores(qrels, run)
    assert s["per_query"]["q4"] == {"ndcg@10": 0.0, "recall@100": 0.0, "mrr@10": 0.0}
    assert s["mrr@10"] == pytest.approx(1.5 / 4)  # (0.5 + 1 + 0 + 0) / 4
    assert s["n_queries"] == 4


def test_ranks_to_run_keeps_order_even_against_id_ties():
    # trec_eval breaks score ties by doc id; strictly decreasing scores keep our order:
    # "z" at rank 1 is relevant -> RR = 1, not 1/2 as an id-sorted tie would give.
    s = M.beir_scores({"q": {"z": 1}}, {"q": M.ranks_to_run(["z", "a"])})
    assert s["mrr@10"] == 1.0


def test_beir_recall_is_cut_at_100_and_ndcg_ignores_unjudged_and_zero_grades():
    # Two relevant documents: "r1" at rank 50, "r2" at rank 101 -> recall@100 = 1/2.
    ranked = [f"x{i}" for i in range(1, 50)] + ["r1"] + [f"y{i}" for i in range(51, 101)] + ["r2"]
    assert ranked.index("r1") == 49 and ranked.index("r2") == 100
    s = M.beir_scores({"q": {"r1": 1, "r2": 1}}, {"q": M.ranks_to_run(ranked)})
    assert s["recall@100"] == pytest.approx(0.5)
    assert s["ndcg@10"] == 0.0 and s["mrr@10"] == 0.0  # nothing relevant in the first 10
    # A document judged 0 is not relevant: "z" (grade 0) at rank 1, "r" (grade 1) at rank 2.
    # DCG = 0/log2(2) + 1/log2(3) = 0.630930; IDCG = 1/log2(2) = 1 -> nDCG = 0.630930; RR = 1/2
    s = M.beir_scores({"q": {"z": 0, "r": 1}}, {"q": M.ranks_to_run(["z", "r"])})
    assert s["ndcg@10"] == pytest.approx(1 / math.log2(3), abs=1e-4)
    assert s["mrr@10"] == 0.5 and s["recall@100"] == 1.0
