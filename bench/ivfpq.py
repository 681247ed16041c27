"""What a FAISS IVF-PQ index keeps of dense-search quality, measured on real MiniLM vectors,
for the 100M-chunk serving plan in docs/SCALING.md.

    .venv/bin/python bench/ivfpq.py                # ~10 min idle (embedding 10,000 chunks), writes bench/results/ivfpq.json
    .venv/bin/python bench/ivfpq.py --chunks 3000  # a quick look

Vectors: real chunks of real text (SQuAD v1.1 dev paragraphs, then NFCorpus abstracts, from
../shared/bench), cut by the product's chunker and embedded by the product's embedder, as
a build would; cached in $QA_BENCH_DIR (default /tmp/qa-ivfpq) for reruns. Queries: SQuAD
dev questions, embedded the same way. Truth: exact inner-product top 10.

Measured, recall@10 against exact search and the bytes each vector costs in memory:
- PQ alone (every code scanned): the loss of the code size by itself, m bytes a vector;
- IVF-PQ with nlist lists and an nprobe sweep: the loss of probing only some lists;
- IVF-PQ re-ranked: the top REFINE x 10 by code re-scored with the exact vectors, which at
  100M come from disk, not memory.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "bench"
RESULTS = ROOT / "bench" / "results" / "ivfpq.json"
WORK = Path(os.environ.get("QA_BENCH_DIR", "/tmp/qa-ivfpq"))
CODE_BYTES = (24, 48, 96)  # PQ sub-quantizers of 8 bits: bytes of code per vector
NPROBE = (4, 8, 16, 32, 64)
K = 10
REFINE = 4  # re-ranked candidates per result: the top 40 by code for a top 10


def corpus() -> tuple[list[tuple[str, str]], list[str]]:
    """(title, text) documents and SQuAD questions."""
    with zipfile.ZipFile(SHARED / "squad-v1.1-dev" / "dev-v1.1.json.zip") as z:
        squad = json.loads(z.read(z.namelist()[0]))
    docs = [(a["title"].replace("_", " "), p["context"]) for a in squad["data"] for p in a["paragraphs"]]
    questions = [q["question"] for a in squad["data"] for p in a["paragraphs"] for q in p["qas"]]
    with open(SHARED / "nfcorpus" / "corpus.jsonl", encoding="utf-8") as f:
        docs += [(d["title"], d["text"]) for d in map(json.loads, f)]
    return docs, questions


def vectors(n_chunks: int, n_queries: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Chunk vectors, query vectors, and the embedding rate (chunks/s) when they were made."""
    from qa.chunking import chunk_article
    from qa.config import Config
    from qa.embed import embedder_for
    from qa.index import embedding_text
    from qa.types import Article

    cache = WORK / f"vectors-{n_chunks}-{n_queries}.npz"
    if cache.exists():
        d = np.load(cache)
        return d["chunks"], d["queries"], float(d["rate"])
    config = Config()
    embedder = embedder_for(config)
    docs, questions = corpus()
    texts: list[str] = []
    for i, (title, text) in enumerate(docs):
        a = Article(id=f"d{i}", text=text, title=title)
        texts += [embedding_text(a, c) for c in chunk_article(a, embedder.count_tokens, config.chunk_max_tokens,
                                                               config.chunk_overlap_tokens)]
        if len(texts) >= n_chunks:
            break
    texts = texts[:n_chunks]
    t = time.perf_counter()
    chunks = embedder.embed(texts, batch_size=config.embedding_batch_size)
    rate = len(texts) / (time.perf_counter() - t)
    step = max(1, len(questions) // n_queries)
    queries = embedder.embed(questions[::step][:n_queries], batch_size=config.embedding_batch_size)
    WORK.mkdir(parents=True, exist_ok=True)
    np.savez(cache, chunks=chunks, queries=queries, rate=rate)
    return chunks, queries, rate


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth)]))


def measure(chunks: np.ndarray, queries: np.ndarray) -> dict:
    import faiss

    # One thread: k-means on 10,000 points is too small to share, and OpenMP threads that
    # wait by spinning are slow on a shared 2-core machine.
    faiss.omp_set_num_threads(1)

    dim = chunks.shape[1]
    exact = faiss.IndexFlatIP(dim)
    exact.add(chunks)
    truth = exact.search(queries, K)[1]
    nlist = int(2 ** np.floor(np.log2(len(chunks) / 39)))  # FAISS trains k-means on >= 39 points a list
    out: dict = {"nlist": nlist, "pq_only": {}, "ivfpq": {}, "ivfpq_refined": {}}
    for m in CODE_BYTES:
        # "np": no polysemous training (a Hamming-distance reordering of codes this search does not use)
        pq = faiss.index_factory(dim, f"PQ{m}np", faiss.METRIC_INNER_PRODUCT)
        pq.train(chunks)
        pq.add(chunks)
        out["pq_only"][m] = round(recall(pq.search(queries, K)[1], truth), 3)
        ivf = faiss.index_factory(dim, f"IVF{nlist},PQ{m}np", faiss.METRIC_INNER_PRODUCT)
        t = time.perf_counter()
        ivf.train(chunks)
        train_s = time.perf_counter() - t
        ivf.add(chunks)
        sweep = {}
        for nprobe in NPROBE:
            ivf.nprobe = nprobe
            t = time.perf_counter()
            found = ivf.search(queries, K)[1]
            sweep[nprobe] = {"recall": round(recall(found, truth), 3),
                             "ms_per_query": round(1000 * (time.perf_counter() - t) / len(queries), 3)}
        out["ivfpq"][m] = {"train_s": round(train_s, 1), "code_bytes": ivf.code_size, "nprobe": sweep}
        sweep = {}
        for nprobe in NPROBE:  # re-ranking: the top K x REFINE by code, re-scored with the exact vectors
            ivf.nprobe = nprobe
            candidates = ivf.search(queries, K * REFINE)[1]
            scores = np.einsum("qd,qkd->qk", queries, chunks[np.maximum(candidates, 0)])
            scores[candidates < 0] = -np.inf
            found = np.take_along_axis(candidates, np.argsort(-scores, axis=1)[:, :K], axis=1)
            sweep[nprobe] = round(recall(found, truth), 3)
        out["ivfpq_refined"][m] = {"k_factor": REFINE, "nprobe": sweep}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=10000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    load_before = os.getloadavg()
    chunks, queries, rate = vectors(args.chunks, args.queries)
    result = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": "python bench/ivfpq.py" + (f" --chunks {args.chunks}" if args.chunks != 10000 else ""),
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()},
        "load_average": {"start": [round(x, 2) for x in load_before]},
        "chunks": len(chunks), "queries": len(queries), "k": K,
        "embedding_rate_chunks_per_s": round(rate, 1),
        **measure(chunks, queries),
    }
    result["load_average"]["end"] = [round(x, 2) for x in os.getloadavg()]
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
