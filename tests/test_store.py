"""The index on disk: round trips, integrity checks, model mismatch, incremental updates, full disks."""

import json
import os

import numpy as np
import pytest

from qa.assistant import Assistant
from qa.config import Config
from qa.errors import IndexCorruptError, IndexMissingError, ModelMismatchError, QAError
from qa.store import MANIFEST, load_index, read_manifest, save_index
from qa.types import Article

QUERIES = ["Which missile violates the INF treaty?", "Peskov red line", "Wendy Sherman in Brussels", "arms race cost"]


def _hits(assistant):
    return [[(h.chunk.id, round(h.score, 6)) for h in assistant.search(q, k=5)] for q in QUERIES]


def test_load_of_save_gives_the_same_hits(assistant, tmp_path):
    save_index(assistant.index, tmp_path / "copy")
    reloaded = Assistant.open(Config(index_dir=str(tmp_path / "copy")))
    assert _hits(reloaded) == _hits(assistant)
    assert np.array_equal(reloaded.index.vectors, assistant.index.vectors)
    assert [c.text for c in reloaded.index.chunks] == [c.text for c in assistant.index.chunks]


def test_manifest_records_model_dimension_counts_and_checksums(bundled_index_dir):
    m = read_manifest(bundled_index_dir)
    assert m["model"] == "all-MiniLM-L6-v2" and m["dim"] == 384 and m["embedding_backend"] == "torch"
    assert m["counts"]["articles"] == 5 and m["counts"]["chunks"] > 5
    assert [s["articles"] for s in m["segments"]] == [5] and m["segments"][0]["deleted"] == []
    files = m["segments"][0]["files"]
    assert set(files) == {"vectors.faiss", "articles.json", "chunks.npy", "texts.bin", "bm25.npz", "minhash.npy"}
    assert all(len(f["sha256"]) == 64 for f in files.values())


def test_the_backend_that_made_the_vectors_is_kept_and_int8_is_never_mixed_with_fp32(index_copy, tmp_path):
    """The manifest says what embedded the chunks; an add with int8 vectors to a torch-built
    index (or the reverse) is refused with what to do, an fp32 one (onnx) is not; a manifest
    from before the key existed still opens."""
    import json

    from qa.errors import QAError

    assert Assistant.open(Config(index_dir=str(index_copy))).stats()["embedding_backend"] == "torch"
    new = tmp_path / "new.txt"
    new.write_text("The Velmora council approved the bridge repairs on Monday.", encoding="utf-8")
    int8 = Assistant.open(Config(index_dir=str(index_copy), embedding_backend="onnx-int8", cache_dir=str(tmp_path)))
    with pytest.raises(QAError, match="made with embedding_backend 'torch', the configured one is 'onnx-int8'"):
        int8.add_paths([new])
    m = json.loads((index_copy / MANIFEST).read_text())
    del m["embedding_backend"]
    (index_copy / MANIFEST).write_text(json.dumps(m))
    assert load_index(index_copy).backend is None
    m["embedding_backend"] = "tensorrt"
    (index_copy / MANIFEST).write_text(json.dumps(m))
    with pytest.raises(QAError, match="unknown embedding_backend 'tensorrt'"):
        load_index(index_copy)


def test_missing_index_says_how_to_build(tmp_path):
    with pytest.raises(IndexMissingError, match="qa index build"):
        Assistant.open(Config(index_dir=str(tmp_path / "nowhere")))


def test_other_model_is_refused_with_rebuild_hint(index_copy):
    with pytest.raises(ModelMismatchError, match=r"all-MiniLM-L6-v2 \(384 dims\).*qa index build"):
        Assistant.open(Config(index_dir=str(index_copy), embedding_model="sentence-transformers/all-mpnet-base-v2"))


def test_dimension_mismatch_is_refused(index_copy):
    m = json.loads((index_copy / MANIFEST).read_text())
    index = load_index(index_copy)
    assistant = Assistant(Config(index_dir=str(index_copy)), index, index_copy)
    object.__setattr__(index, "dim", 768)  # as if built by a 768-dim model under the same name
    with pytest.raises(ModelMismatchError, match="768"):
        assistant.search("missile")
    assert m["dim"] == 384


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_damaged_file_is_reported_before_it_is_read(index_copy, damage):
    m = read_manifest(index_copy)
    target = index_copy / m["segments"][0]["name"] / "vectors.faiss"
    data = target.read_bytes()
    target.write_bytes(data[: len(data) // 2] if damage == "truncate" else data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(IndexCorruptError, match="vectors.faiss.*checksum"):
        load_index(index_copy)


def test_a_segment_saved_without_minhash_signatures_still_loads_and_signs_its_texts(index_copy, assistant):
    """Segments saved before signatures were kept have no minhash.npy: they load, and their
    signatures are computed from the texts (the same values the saved file holds)."""
    m = read_manifest(index_copy)
    seg = m["segments"][0]
    saved = np.load(index_copy / seg["name"] / "minhash.npy")
    del seg["files"]["minhash.npy"]
    (index_copy / seg["name"] / "minhash.npy").write_bytes(b"not read: the manifest does not list it")
    (index_copy / MANIFEST).write_text(json.dumps(m))
    index = load_index(index_copy)
    assert index.segments[0].minhash is None
    assert np.array_equal(index.segments[0].signatures(), saved)
    assert index.wire_groups() == assistant.index.wire_groups() == {}


def test_add_embeds_only_new_or_changed_articles(index_copy, tmp_path):
    assistant = Assistant.open(Config(index_dir=str(index_copy)))
    calls = []
    real_embed = assistant.embedder.embed

    def counting_embed(texts, **kw):
        calls.append(len(texts))
        return real_embed(texts, **kw)

    assistant.embedder.embed = counting_embed
    try:
        before = len(assistant.index.chunks)
        new = tmp_path / "new_article.txt"
        new.write_text("Zarovia launched the Kestrel-7 satellite on 3 March 2021.\n\nIt weighs 740 kilograms.")
        outcomes = assistant.add_paths([new])
        assert [o.status for o in outcomes] == ["added"] and calls == [1]
        assert outcomes[0].article_ids == ("new_article.txt",)
        calls.clear()
        assert [o.status for o in assistant.add_paths([new])] == ["unchanged"] and calls == []
        new.write_text("Zarovia launched the Kestrel-7 satellite on 4 March 2021.")
        assert [o.status for o in assistant.add_paths([new])] == ["updated"] and calls == [1]
    finally:
        del assistant.embedder.embed
    reopened = Assistant.open(Config(index_dir=str(index_copy)))
    assert len(reopened.index.articles) == 6 and len(reopened.index.chunks) == before + 1
    assert reopened.search("Kestrel-7 satellite", k=1)[0].chunk.article_id == "new_article.txt"
    reopened.remove("new_article.txt")
    again = Assistant.open(Config(index_dir=str(index_copy)))
    assert len(again.index.articles) == 5 and len(again.index.chunks) == before
    with pytest.raises(QAError, match="no article with id"):
        again.remove("new_article.txt")


def test_full_disk_during_save_leaves_previous_index_intact(index_copy, monkeypatch):
    import qa.store as store

    before = read_manifest(index_copy)
    assistant = Assistant.open(Config(index_dir=str(index_copy)))
    real = store._write_file
    written = []

    def full_disk(path, data):
        written.append(path.name)
        if path.name == "chunks.npy":
            raise OSError(28, "No space left on device")
        real(path, data)

    monkeypatch.setattr(store, "_write_file", full_disk)
    with pytest.raises(QAError, match="No space left.*previous index is intact"):
        assistant.add_articles([Article(id="x.txt", text="A new article about the Zarovian navy.")])
    monkeypatch.undo()
    assert written[:2] == ["vectors.faiss", "articles.json"]
    assert read_manifest(index_copy) == before
    assert sorted(p.name for p in index_copy.iterdir() if p.is_dir()) == [s["name"] for s in before["segments"]]
    reloaded = Assistant.open(Config(index_dir=str(index_copy)))
    assert "x.txt" not in reloaded.index.articles  # the failed write changed nothing
    assert "x.txt" not in assistant.index.articles  # nor the in-memory snapshot


def test_another_process_save_is_picked_up(index_copy):
    reader = Assistant.open(Config(index_dir=str(index_copy)))
    writer = Assistant.open(Config(index_dir=str(index_copy)))
    writer.add_articles([Article(id="late.txt", text="The Kestrel-9 probe reached orbit on Tuesday.")])
    os.utime(index_copy / MANIFEST)  # make sure the mtime differs even on coarse clocks
    assert "late.txt" in {a["id"] for a in reader.articles()}
