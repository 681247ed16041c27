"""The ONNX Runtime embedding backends against torch, with the real MiniLM model.

The int8 graph is exported once per session into a temporary cache folder (about 8 s on
2 cores, the model load included), so these tests run in well under 30 s.
"""

from __future__ import annotations

import numpy as np
import pytest

from qa.config import Config, load_config
from qa.errors import QAError
from tests.conftest import ARTICLES

# Real sentences of the bundled articles (checked below to be in them).
SENTENCES = [
    "Earlier in the day, Russian presidential spokesman Dmitry Peskov said Russia’s relationship with NATO had "
    "reached a red line due to the alliance’s push into Ukraine.",
    "He also recalled that during the unification of Germany, the United States promised not to extend the "
    "infrastructure of the alliance to the east, but this was not formalized into legal guarantees.",
    "In January 2019, Russian Ministry of Defense conducted a presentation of the 9M729 missile for all military "
    "attaches in Moscow, showing that these missile comply with the terms of the military agreement.",
    "US Deputy Secretary of State Wendy Sherman will also be present at NATO Headquarters in Brussels.",
    "A new arms race would be dangerous, and also extremely expensive.",
    "(Image: AP/Representative)",
]
# question -> the index in SENTENCES of the one that answers it
QUERIES = {
    "What did the United States promise during German unification?": 1,
    "Who said relations with NATO had reached a red line?": 0,
    "Where was the 9M729 missile shown to military attaches?": 2,
}


@pytest.fixture(scope="module")
def torch_embedder():
    from qa.embed import get_embedder

    return get_embedder("", "torch")


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("qa-cache")


@pytest.fixture(scope="module")
def int8(onnx_cache):
    from qa.embed import get_embedder

    embedder = get_embedder("", "onnx-int8", onnx_cache)
    embedder.embed(["warm up"])  # exports model.onnx and model_int8.onnx into onnx_cache
    return embedder


def test_sentences_are_from_the_bundled_articles():
    corpus = " ".join(" ".join(p.read_text(encoding="utf-8").split()) for p in ARTICLES.iterdir())
    for s in SENTENCES:
        assert s in corpus, s


def test_int8_vectors_are_unit_length_and_agree_with_torch(int8, torch_embedder):
    got, want = int8.embed(SENTENCES), torch_embedder.embed(SENTENCES)
    assert got.shape == (len(SENTENCES), 384) and got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cosine = np.sum(got * want, axis=1)
    assert cosine.min() >= 0.9, cosine
    # Quantization moves each vector, not the space: a sentence stays closer to its own
    # torch vector than to any other sentence's.
    assert (np.argmax(got @ want.T, axis=1) == np.arange(len(SENTENCES))).all()


def test_fp32_graph_matches_torch(int8, onnx_cache, torch_embedder):
    from qa.embed import get_embedder

    fp32 = get_embedder("", "onnx", onnx_cache)  # exported with the int8 graph: no second export
    cosine = np.sum(fp32.embed(SENTENCES) * torch_embedder.embed(SENTENCES), axis=1)
    assert cosine.min() >= 0.999, cosine


def test_int8_ranks_the_answering_sentence_first(int8):
    vectors = int8.embed(SENTENCES)
    for question, answer in QUERIES.items():
        scores = vectors @ int8.embed([question])[0]
        assert int(np.argmax(scores)) == answer, (question, scores.round(3))


def test_a_text_gets_the_same_int8_vector_whatever_else_is_embedded(int8):
    # int8 activations are scaled per call: each text runs alone, so its vector does not
    # depend on what shares the call (in one padded batch it would move measurably).
    alone = np.concatenate([int8.embed([s]) for s in SENTENCES])
    together = int8.embed(list(reversed(SENTENCES)), batch_size=4)[::-1]
    np.testing.assert_array_equal(alone, together)
    padded = int8.embed_padded(SENTENCES)
    assert np.sum(alone * padded, axis=1).min() < 0.999  # why they run alone


def test_names_tokens_and_limits_match_torch(int8, torch_embedder):
    assert (int8.name, int8.backend) == ("all-MiniLM-L6-v2", "onnx-int8")
    assert torch_embedder.backend == "torch"
    assert int8.dim == torch_embedder.dim == 384
    assert int8.max_tokens == torch_embedder.max_tokens
    assert int8.count_tokens(SENTENCES) == torch_embedder.count_tokens(SENTENCES)
    assert int8.embed([]).shape == (0, 384)


def test_export_is_reused_and_leaves_no_temporary_folder(int8, onnx_cache):
    from qa.onnx_embed import OnnxEmbedder

    folder = int8.folder
    assert folder.parent == onnx_cache / "onnx"
    marker = folder / "qa-source.json"
    before = marker.stat().st_mtime_ns
    again = OnnxEmbedder("", "onnx-int8", onnx_cache)  # a new process would do this
    assert again.embed(SENTENCES[:1]).shape == (1, 384)
    assert marker.stat().st_mtime_ns == before  # loaded, not exported again
    assert [p.name for p in (onnx_cache / "onnx").iterdir()] == [folder.name]


def test_backend_is_a_config_key_with_a_checked_value():
    assert Config().embedding_backend == "torch"  # docs/PERFORMANCE.md "Decision" says why
    assert load_config(env={"QA_EMBEDDING_BACKEND": "onnx-int8"}).embedding_backend == "onnx-int8"
    with pytest.raises(QAError, match="embedding_backend must be one of torch, onnx, onnx-int8, not 'tensorrt'"):
        load_config(env={"QA_EMBEDDING_BACKEND": "tensorrt"})
    with pytest.raises(QAError, match="embedding_backend"):
        Config(embedding_backend="int8")


def test_config_selects_the_embedder(tmp_path):
    from qa.embed import embedder_for, get_embedder

    e = embedder_for(Config(embedding_backend="onnx-int8", cache_dir=str(tmp_path)))
    assert (e.name, e.backend, e.folder.parent) == ("all-MiniLM-L6-v2", "onnx-int8", tmp_path / "onnx")
    assert embedder_for(Config(embedding_backend="torch")).backend == "torch"
    with pytest.raises(QAError, match="not 'tensorrt'"):
        get_embedder("", "tensorrt")


def test_a_model_that_cannot_be_loaded_is_a_clear_error(tmp_path):
    from qa.onnx_embed import OnnxEmbedder

    missing = tmp_path / "no-such-model"
    with pytest.raises(QAError, match="could not load embedding model"):
        OnnxEmbedder(str(missing), "onnx-int8", tmp_path).embed(["x"])
    assert not (tmp_path / "onnx").exists() or not any((tmp_path / "onnx").iterdir())


def test_questions_are_embedded_by_the_fp32_onnx_graph_with_the_index_vectors(int8, onnx_cache, torch_embedder):
    """With the default "auto", questions go through ONNX Runtime fp32 (the faster engine for
    one short text) and land where torch puts them, so a torch-built index ranks the same."""
    from qa.embed import query_backend, query_embedder_for

    config = Config(cache_dir=str(onnx_cache))
    queries = query_embedder_for(config)
    questions = list(QUERIES)
    assert queries.backend == "onnx" and queries.name == "all-MiniLM-L6-v2"
    got, want = queries.embed(questions), torch_embedder.embed(questions)
    assert np.abs(got - want).max() < 1e-4
    sentences = torch_embedder.embed(SENTENCES)
    assert ((got @ sentences.T).argmax(1) == list(QUERIES.values())).all()
    # int8 indexes get int8 questions; a backend named explicitly is used as named.
    assert query_backend(Config(embedding_backend="onnx-int8")) == "onnx-int8"
    assert query_embedder_for(Config(query_embedding_backend="torch")) is torch_embedder
    with pytest.raises(QAError, match="query_embedding_backend must be one of auto, torch, onnx, onnx-int8"):
        load_config(env={"QA_QUERY_EMBEDDING_BACKEND": "fast"})


def test_auto_falls_back_to_the_index_embedder_when_the_graph_cannot_be_made(tmp_path, torch_embedder, caplog):
    """A model the ONNX exporter refuses still answers questions, on torch, with a warning."""
    from qa import embed

    class Unexportable:
        name, backend = "all-MiniLM-L6-v2", "onnx"

        @property
        def dim(self):
            raise QAError("the onnx backends export models made of a transformer and mean or CLS pooling")

    auto = embed._FirstThatLoads(Unexportable(), torch_embedder)
    vec = auto.embed(["Who said relations with NATO had reached a red line?"])
    assert auto.backend == "torch" and vec.shape == (1, 384)
    assert "questions are embedded with all-MiniLM-L6-v2 on torch instead" in caplog.text


def test_adding_articles_does_not_load_the_question_embedder(tmp_path):
    """An add embeds with the indexing model and checks the index against it; the question
    embedder (an ONNX session, exported on first use) loads with the first question only."""
    from qa.assistant import Assistant

    src = tmp_path / "note.txt"
    src.write_text("The Velmora council met on Monday to discuss bridge repairs.", encoding="utf-8")
    assistant = Assistant.create(Config(index_dir=str(tmp_path / "index"), cache_dir=str(tmp_path / "cache")))
    assert [o.status for o in assistant.add_paths([src])] == ["added"]
    assert assistant.retriever.embedder._chosen is None and not (tmp_path / "cache").exists()
