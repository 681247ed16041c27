"""Hybrid retrieval on the bundled corpus, BM25 by hand, and filters."""

import math

import pytest

from qa.bm25 import Postings, scores
from qa.types import Filters

# (query, acceptable first articles): written by reading the five articles.
CASES = [
    ("9M729 missile", {"003_c804dac4115a1700.txt", "004_7e226a48a90657f7.txt"}),
    ("Which missile violates the INF treaty?", {"003_c804dac4115a1700.txt", "004_7e226a48a90657f7.txt"}),
    ("SSC-8 missile system risk to strategic stability", {"004_7e226a48a90657f7.txt"}),
    ("Stoltenberg interview with the Canadian CBC television channel", {"001_a8a96078134d5575.txt"}),
    ("Peskov says relationship with NATO reached a red line", {"001_a8a96078134d5575.txt"}),
    ("Wendy Sherman at NATO headquarters", {"002_fe4bbc8259d23a58.txt"}),
    ("Groshko and Fomin lead the Moscow delegation", {"002_fe4bbc8259d23a58.txt"}),
    ("a new arms race would be dangerous and expensive", {"003_c804dac4115a1700.txt"}),
    ("presentation of the missile to military attaches in Moscow", {"003_c804dac4115a1700.txt"}),
    ("negotiations on missile limits should not be held in public", {"000_6f60db793837f3ef.txt"}),
    ("US unilateral withdrawal from the INF treaty in August 2019", {"000_6f60db793837f3ef.txt"}),
    ("second-class members of the alliance", {"001_a8a96078134d5575.txt"}),
    ("unification of Germany promise not to expand east", {"001_a8a96078134d5575.txt"}),
    ("Allies expressed serious concerns about the new Russian missile system", {"004_7e226a48a90657f7.txt"}),
    ("annexation of Crimea suspended council meetings", {"002_fe4bbc8259d23a58.txt"}),
]


@pytest.mark.parametrize("query,expected", CASES, ids=[c[0][:40] for c in CASES])
def test_right_article_comes_first(assistant, query, expected):
    hits = assistant.search(query, k=5)
    assert hits[0].chunk.article_id in expected, [h.chunk.article_id for h in hits]


def test_hits_are_typed_with_offsets_and_ranks(assistant):
    hits = assistant.search("9M729", k=5)
    assert len(hits) == 5
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    for h in hits:
        assert h.article.text[h.chunk.start:h.chunk.end] == h.chunk.text
        assert h.dense_rank is not None or h.bm25_rank is not None


def test_single_retrievers(assistant):
    assert assistant.search("9M729", k=3, method="bm25")[0].bm25_rank == 1
    dense = assistant.search("missile that breaks the treaty", k=3, method="dense")
    assert all(h.bm25_rank is None and h.dense_rank for h in dense)


def test_filters_by_date_publisher_and_id(assistant):
    only_2020 = assistant.search("NATO", k=20, filters=Filters(date_from="2020-01-01", date_to="2020-12-31"))
    assert only_2020 and {h.chunk.article_id for h in only_2020} == {"003_c804dac4115a1700.txt"}
    tass = assistant.search("NATO", k=20, filters=Filters(publishers=("tass",)))
    assert {h.article.publisher for h in tass} == {"TASS"}
    one = assistant.search("missile", k=20, filters=Filters(article_ids=("000_6f60db793837f3ef.txt",)))
    assert {h.chunk.article_id for h in one} == {"000_6f60db793837f3ef.txt"}
    assert assistant.search("missile", filters=Filters(publishers=("Nobody",))) == []


def test_bm25_matches_a_hand_computation():
    docs = ["missile treaty", "missile missile launch", "treaty talks today"]
    # N=3, "missil" in 2 docs: idf = ln(1 + (3-2+0.5)/(2+0.5)) = ln(1.6)
    # doc lengths (stopword-free stems): 2, 3, 3 -> avg 8/3
    idf = math.log(1.6)
    def w(tf, dl):
        return idf * tf * 2.2 / (tf + 1.2 * (1 - 0.75 + 0.75 * dl / (8 / 3)))
    one = Postings.build(docs)
    s = scores([(one, None)], "missile")[0]
    assert s[0] == pytest.approx(w(1, 2), rel=1e-5)
    assert s[1] == pytest.approx(w(2, 3), rel=1e-5)
    assert s[2] == 0
    # The same docs in two segments score the same: statistics are archive-wide.
    split = scores([(Postings.build(docs[:1]), None), (Postings.build(docs[1:]), None)], "missile")
    assert [*split[0], *split[1]] == pytest.approx(s.tolist(), rel=1e-6)
    # A deleted doc counts nowhere: scores are those of an index built without it.
    import numpy as np
    dead = scores([(one, np.array([True, True, False]))], "missile")[0]
    assert dead[:2].tolist() == pytest.approx(scores([(Postings.build(docs[:2]), None)], "missile")[0].tolist(), rel=1e-6)
    assert Postings.from_bytes(one.to_bytes()).tf.toarray().tolist() == one.tf.toarray().tolist()


def test_bm25_top_k_is_exactly_the_k_best_of_every_score():
    """`top` returns the k best docs of `scores` over segments with deletions, filters,
    repeated and missing query terms; words follow a Zipf law so the queries mix rare
    terms with terms found in most docs."""
    import numpy as np

    from qa.bm25 import Stats, top

    rng = np.random.default_rng(7)
    vocab = [f"w{i}x" for i in range(400)]
    zipf = 1 / np.arange(1, len(vocab) + 1)
    zipf /= zipf.sum()

    def text(n):
        return " ".join(rng.choice(vocab, size=n, p=zipf))

    segs = [Postings.build([text(int(rng.integers(3, 40))) for _ in range(n)]) for n in (700, 300, 50)]
    lives = [None, rng.random(300) > 0.2, np.ones(50, bool)]
    lives[2][:50] = False  # a segment whose every doc was removed
    parts = list(zip(segs, lives))
    stats = Stats.of(parts)
    checked = 0
    for trial in range(60):
        words = list(rng.choice(vocab[:30], size=int(rng.integers(1, 4)))) + list(rng.choice(vocab, size=int(rng.integers(0, 4))))
        query = " ".join(words + (["nowhere"] if trial % 7 == 0 else []) + words[:1] * (trial % 3 == 0))
        k = int(rng.choice([1, 5, 50]))
        masks = None if trial % 2 else [rng.random(s.n_docs) > 0.7 for s in segs]
        full = scores(parts, query, stats)
        got = top(parts, query, k, stats, masks)
        for j, (docs, sc) in enumerate(got):
            ref = full[j] if masks is None else np.where(masks[j], full[j], 0.0)
            positive = np.sort(ref[ref > 0])[::-1]
            assert len(docs) == min(k, len(positive)), (query, k, j)
            assert np.sort(sc)[::-1] == pytest.approx(positive[:k], rel=1e-5)  # the k best scores
            assert sc == pytest.approx(ref[docs], rel=1e-5)  # each the doc's own score
            assert lives[j] is None or lives[j][docs].all()
            checked += len(docs)
    assert checked > 1000


def test_similarity_cache_gives_the_uncached_scores_and_stays_bounded(assistant, monkeypatch):
    import numpy as np

    from qa import retrieve
    from qa.retrieve import Retriever

    fresh = Retriever(lambda: assistant.index, assistant.embedder, assistant.config)
    texts = ["NATO said the 9M729 violates the treaty.", "Russia denied it.", "NATO said the 9M729 violates the treaty."]
    direct = assistant.embedder.embed(["which missile?", *texts])
    expected = direct[1:] @ direct[0]
    first = fresh.similarity("which missile?", texts)
    again = fresh.similarity("which missile?", texts)  # served from the cache
    assert np.allclose(first, expected, atol=1e-5) and np.allclose(again, expected, atol=1e-5)
    assert len(fresh._vectors) == 2

    monkeypatch.setattr(retrieve, "SENTENCE_CACHE_SIZE", 3)
    fresh.similarity("q", [f"sentence number {i}" for i in range(5)])
    assert list(fresh._vectors) == [f"sentence number {i}" for i in range(2, 5)]
