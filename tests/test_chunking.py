import pytest

from qa.chunking import chunk_article
from qa.types import Article
from tests.conftest import ARTICLES


def word_count(texts):
    return [len(t.split()) for t in texts]


def test_chunks_are_sentence_runs_with_overlap():
    a = Article(id="a", text="One two. Three four. Five six.")
    chunks = chunk_article(a, word_count, max_tokens=4, overlap_tokens=2)
    assert [c.text for c in chunks] == ["One two. Three four.", "Three four. Five six."]


def test_overlong_sentence_is_cut_not_truncated():
    text = " ".join(f"w{i}" for i in range(25)) + "."
    chunks = chunk_article(Article(id="a", text=text), word_count, max_tokens=10, overlap_tokens=0)
    assert all(len(c.text.split()) <= 10 for c in chunks)
    # Every word survives: nothing silently dropped.
    assert " ".join(c.text for c in chunks).split() == text.split()


@pytest.fixture(scope="module")
def embedder():
    from qa.embed import get_embedder

    return get_embedder()


def test_bundled_chunks_reproduce_text_and_fit_the_model(embedder):
    from qa.ingest import read_file

    for path in sorted(ARTICLES.iterdir()):
        (article,), _ = read_file(path)
        chunks = chunk_article(article, embedder.count_tokens, 128, 32)
        assert chunks, path
        for c in chunks:
            assert article.text[c.start:c.end] == c.text
        assert max(embedder.count_tokens([c.text for c in chunks])) <= 128
        # Chunks cover the article from its first to its last sentence.
        assert chunks[0].start <= 1 and chunks[-1].end == len(article.text.rstrip())
        # Ids are stable: rebuilding gives the same ids.
        assert [c.id for c in chunks] == [c.id for c in chunk_article(article, embedder.count_tokens, 128, 32)]


def test_long_url_word_is_split_to_fit(embedder):
    a = Article(id="u", text="See " + "http://example.com/" + "a1b2c3" * 300 + " for more.")
    chunks = chunk_article(a, embedder.count_tokens, 64, 8)
    assert max(embedder.count_tokens([c.text for c in chunks])) <= 64
    assert all(a.text[c.start:c.end] == c.text for c in chunks)
