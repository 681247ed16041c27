"""Segmented storage: adds write one segment, merges keep every hit, embeddings are never
computed twice, the inverted file finds what exact search finds, filters apply inside the search, and a
killed bulk build resumes without embedding again what it saved."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from qa.assistant import Assistant
from qa.config import Config
from qa.indexing import add_articles, build_index, optimize, remove_articles
from qa.ingest import ingest_paths
from qa.segment import ivf_lists, vector_index
from qa.store import MANIFEST, load_index, read_manifest, save_index
from qa.types import Article, Filters

ROOT = Path(__file__).resolve().parents[1]
ARTICLES = ROOT / "data" / "articles"
QUERIES = ["Which missile violates the INF treaty?", "Peskov red line", "Wendy Sherman in Brussels",
           "arms race cost", "dove of peace", "Geneva talks January"]


def _hits(index, embedder, config, filters=None):
    from qa.retrieve import Retriever

    r = Retriever(lambda: index, embedder, config)
    return [[(h.chunk.id, round(h.score, 5)) for h in r.search(q, k=5, filters=filters)] for q in QUERIES]


@pytest.fixture(scope="module")
def bundled():
    return ingest_paths([ARTICLES]).articles


def test_segments_one_per_add_merge_and_optimize_keep_every_hit(assistant, bundled):
    config = Config(merge_factor=3)
    embedder = assistant.embedder
    one = build_index(bundled, embedder, config)
    index = build_index(bundled[:1], embedder, config)
    for a in bundled[1:]:
        index = add_articles(index, [a], embedder, config).index
    # 5 adds with merge factor 3: the three newest one-article segments merged once
    assert len(index.segments) == 3
    assert [c.id for c in index.chunks] != [] and sorted(c.id for c in index.chunks) == sorted(c.id for c in one.chunks)
    assert _hits(index, embedder, config) == _hits(one, embedder, config)
    merged = optimize(index, config)
    assert len(merged.segments) == 1 and _hits(merged, embedder, config) == _hits(one, embedder, config)
    assert np.allclose(merged.vectors, one.vectors, atol=1e-6)


def test_removed_and_replaced_articles_score_as_if_never_indexed(assistant, bundled):
    config = Config()
    embedder = assistant.embedder
    without = build_index(bundled[1:], embedder, config)
    index = remove_articles(build_index(bundled, embedder, config), [bundled[0].id])
    assert index.deleted[0] == {bundled[0].id} and len(index.articles) == 4
    assert _hits(index, embedder, config) == _hits(without, embedder, config)
    compacted = optimize(index, config)
    assert compacted.deleted == (frozenset(),) and compacted.segments[0].n_chunks == without.chunk_count
    edited = Article(**(bundled[1].to_dict() | {"text": bundled[1].text + "\n\nA closing line was added."}))
    added = add_articles(index, [edited], embedder, config)
    assert added.status == {edited.id: "updated"} and len(added.index.articles) == 4
    assert added.index.articles[edited.id].text.endswith("A closing line was added.")
    # Only the chunks the new line changed are embedded; the rest reuse their vectors.
    assert added.embedded <= 2 and added.reused >= 1


def test_a_wire_copy_reuses_the_vectors_of_the_unchanged_paragraphs(assistant, bundled):
    config = Config()
    index = build_index(bundled, assistant.embedder, config)
    original = next(a for a in bundled if a.id.startswith("003_"))
    paragraphs = original.text.split("\n\n")
    paragraphs[-1] = paragraphs[-1].replace("NATO", "the Alliance", 1) + " (Edited by the desk.)"
    copy = Article(id="gazeta-copy.txt", text="\n\n".join(paragraphs), title=original.title, date=original.date,
                   publisher="Gazeta.ru")
    added = add_articles(index, [copy], assistant.embedder, config)
    total = added.embedded + added.reused
    assert added.reused >= 0.5 * total and added.embedded >= 1, (added.embedded, added.reused)


def test_adding_one_article_writes_one_segment_and_leaves_the_others(index_copy):
    before = read_manifest(index_copy)
    old = {s["name"]: (index_copy / s["name"] / "vectors.faiss").stat().st_mtime_ns for s in before["segments"]}
    a = Assistant.open(Config(index_dir=str(index_copy)))
    a.add_articles([Article(id="kestrel.txt", text="The Kestrel-9 probe reached orbit on Tuesday, its makers said.")])
    after = read_manifest(index_copy)
    names = [s["name"] for s in after["segments"]]
    assert names[:-1] == list(old) and len(names) == len(old) + 1
    assert {n: (index_copy / n / "vectors.faiss").stat().st_mtime_ns for n in old} == old
    new_bytes = sum(f["bytes"] for f in after["segments"][-1]["files"].values())
    assert new_bytes < 20_000  # one short article: its vectors (1.5 KB each), text, postings
    assert a.search("Kestrel-9 probe", k=1)[0].chunk.article_id == "kestrel.txt"
    assert Assistant.open(Config(index_dir=str(index_copy))).search("Kestrel-9 probe", k=1)[0].chunk.article_id == "kestrel.txt"


def test_save_and_load_of_several_segments_with_deletions(assistant, bundled, tmp_path):
    config = Config()
    index = build_index(bundled[:3], assistant.embedder, config)
    index = add_articles(index, bundled[3:], assistant.embedder, config).index
    index = remove_articles(index, [bundled[1].id])
    save_index(index, tmp_path / "ix")
    m = read_manifest(tmp_path / "ix")
    assert [s["deleted"] for s in m["segments"]] == [[bundled[1].id], []]
    assert m["counts"] == {"articles": 4, "chunks": index.chunk_count}
    loaded = load_index(tmp_path / "ix")
    assert _hits(loaded, assistant.embedder, config) == _hits(index, assistant.embedder, config)
    assert loaded.articles[bundled[2].id].text == bundled[2].text  # read from texts.bin on demand


def test_ivf_recall_at_10_against_exact_search(assistant):
    """Real MiniLM vectors of every 14-word window (stride 2) of the repository's news texts,
    overlapping and so crowded with near neighbours, searched with the 147 bundled and
    held-out questions, through an inverted file built as the product builds one (32 cells
    for these 1,439 windows), a query scanning a quarter of its cells (here: 0.60 / 0.81 /
    0.93 / 0.99 recall at 1 / 2 / 4 / 8 cells). At a million chunks the default scans 64 of
    4096 cells: bench/scale.py measures that."""
    import faiss

    words = " ".join(p.read_text("utf-8") for folder in (ARTICLES, ROOT / "eval" / "conflict_articles",
                                                           ROOT / "eval" / "conflict_articles_heldout")
                     for p in sorted(folder.iterdir()) if p.suffix in (".txt", ".md", ".json")).split()
    windows = [" ".join(words[i:i + 14]) for i in range(0, len(words) - 14, 2)]
    questions = [json.loads(line)["question"] for name in ("bundled.jsonl", "heldout.jsonl")
                 for line in (ROOT / "eval" / "questions" / name).read_text("utf-8").splitlines() if line.strip()]
    vectors = assistant.embedder.embed(windows, batch_size=64)
    queries = assistant.embedder.embed(questions)
    exact = vector_index(vectors, ann_min_chunks=10**9)
    ann = vector_index(vectors, ann_min_chunks=1)
    assert isinstance(exact, faiss.IndexFlatIP) and isinstance(ann, faiss.IndexIVFFlat) and len(windows) > 1000
    assert ann.nlist == ivf_lists(len(windows)) >= 16
    nprobe = ann.nlist // 4  # three quarters of the cells are skipped: this is not exact search
    _, truth = exact.search(queries, 10)
    _, found = ann.search(queries, 10, params=faiss.SearchParametersIVF(nprobe=nprobe))
    recall = np.mean([len(set(t) & set(f)) / 10 for t, f in zip(truth, found)])
    assert recall >= 0.98, recall


def test_filters_apply_inside_an_ivf_search(assistant, bundled):
    exact = Config()
    ann = Config(ann_min_chunks=1)
    flat = build_index(bundled, assistant.embedder, exact)
    graph = build_index(bundled, assistant.embedder, ann)
    assert graph.segments[0].is_ann and not flat.segments[0].is_ann
    assert _hits(graph, assistant.embedder, ann) == _hits(flat, assistant.embedder, exact)
    for f in (Filters(publishers=("TASS",)), Filters(date_from="2022-01-01"),
              Filters(article_ids=(bundled[0].id,))):  # one article of five: searched exactly over its rows
        got = _hits(graph, assistant.embedder, ann, f)
        assert got == _hits(flat, assistant.embedder, exact, f)
        ids = {c for q in got for c, _ in q}
        allowed = {c.id for c in flat.chunks if f.accepts(flat.articles[c.article_id])}
        assert ids and ids <= allowed


def _write_articles(folder: Path, n: int) -> None:
    folder.mkdir()
    for i in range(n):
        (folder / f"a{i:03d}.txt").write_text(
            f"Report {i}: The council of Velmora-{i} met on Monday to discuss bridge {i}.\n\n"
            f"Officials said repairs to bridge {i} would cost {i * 7 + 3} million and take {i % 9 + 2} months.")


def test_a_killed_bulk_build_resumes_without_embedding_again(tmp_path):
    src = tmp_path / "articles"
    _write_articles(src, 60)
    index = tmp_path / "index"
    env = dict(os.environ, QA_CONFIG="/nonexistent/qa.toml", HF_HUB_OFFLINE="1", QA_BUILD_BATCH_ARTICLES="6",
               QA_MERGE_FACTOR="50", TOKENIZERS_PARALLELISM="false")
    cmd = [sys.executable, "-m", "qa.cli", "index", "build", str(src), "--index", str(index)]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # kill once at least two batches are committed
        try:
            m = json.loads((index / MANIFEST).read_text())
            if len(m["segments"]) >= 2 and "building" in m:
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("the build committed no batch within 120 s")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    saved = read_manifest(index)["counts"]
    assert "building" in read_manifest(index) and 12 <= saved["articles"] < 60
    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    embedded = int(done.stdout.split("embedded ")[1].split()[0])
    final = read_manifest(index)
    assert "building" not in final and final["counts"]["articles"] == 60
    assert embedded == final["counts"]["chunks"] - saved["chunks"], done.stdout  # the saved ones were not embedded again
    assert "unchanged" in done.stdout and "added" in done.stdout
