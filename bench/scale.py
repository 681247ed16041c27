"""Archive scale: what every cost does as the archive grows from 1,000 to 1,000,000 chunks.

    .venv/bin/python bench/scale.py                      # 1k, 10k, 100k, 1M chunks (~25 min)
    .venv/bin/python bench/scale.py --sizes 1000 10000   # a quick look

For each size it builds an archive with the product's own code (chunker, segments, merge
policy, BM25 postings, FAISS, the crash-safe save), then measures: build rate, the time to
open the saved index and the resident memory of a fresh process that opened it, search
latency p50/p95 (dense, BM25, hybrid, hybrid with a publisher filter and with a date
filter), the time and bytes of adding one article, and recall@10 of the dense search
against exact search. Results go to bench/results/scale.json; docs/PERFORMANCE.md
summarises them.

How the archives are made, and the one shortcut:
- Texts are real: SQuAD v1.1 dev paragraphs and NFCorpus abstracts (../shared/bench),
  split into sentences and recombined into articles of 4-20 sentences (~4 chunks) with a title, a
  date (2015-2024) and one of 30 publishers, so that every archive is new text for the
  chunker, BM25 and the merge policy.
- Encoding a million chunks with MiniLM takes ~6 hours on this machine, so archives are
  built with `PoolEmbedder`: each chunk's vector is a mix of two real MiniLM vectors of
  pool passages chosen by the chunk text's hash, plus noise, normalised. It has the
  geometry of real text vectors (what ANN recall and speed depend on) without the
  encoding. Build rates are therefore reported without encoding, next to the real
  encoding rate measured in the same run; the sum is what a real build costs.
- Queries are real SQuAD questions embedded by the real model, so dense and hybrid search
  latency include embedding the question, as the product does it (`query_embedder_for`:
  ONNX Runtime fp32 by default); hybrid is measured once more with torch embedding it.
- Up to 100k chunks, archives are built through `add_articles` (chunker, segments, merge
  policy, saves): the first 80 % in one batch, the rest in 10 batches, so the measured
  index has the segments a growing archive has. The 1M archive skips the chunker (see
  `build_direct`) and is optimized into one inverted-file (IVF) segment, as `qa index optimize` does.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "bench"
RESULTS = ROOT / "bench" / "results"
WORK = Path(os.environ.get("QA_BENCH_DIR", "/tmp/qa-scale"))
PUBLISHERS = [f"Outlet {i}" for i in range(30)]
POOL_SIZE = 2000  # passages embedded for real (~45 s idle); chunk vectors are mixes of these


def sentences_of_sources() -> tuple[list[str], list[str]]:
    """Real sentences (SQuAD paragraphs, NFCorpus abstracts) and real titles (NFCorpus)."""
    with zipfile.ZipFile(SHARED / "squad-v1.1-dev" / "dev-v1.1.json.zip") as z:
        squad = json.loads(z.read(z.namelist()[0]))
    texts = [p["context"] for a in squad["data"] for p in a["paragraphs"]]
    titles = []
    with open(SHARED / "nfcorpus" / "corpus.jsonl", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            texts.append(d["text"])
            titles.append(d["title"])
    split = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
    sents = [s.strip() for t in texts for s in split.split(t) if 30 <= len(s.strip()) <= 400]
    return sents, titles


def make_articles(n_chunks: int, sents: list[str], titles: list[str], seed: int, prefix: str):
    """Articles of recombined real sentences, about `n_chunks` chunks in all (~4 per article)."""
    from qa.types import Article

    rng = random.Random(seed)
    n_articles = max(1, n_chunks // 4)
    out = []
    for i in range(n_articles):
        body = [" ".join(rng.choice(sents) for _ in range(rng.randint(2, 5))) for _ in range(rng.randint(2, 4))]
        year, month, day = rng.randint(2015, 2024), rng.randint(1, 12), rng.randint(1, 28)
        out.append(Article(id=f"{prefix}{i:07d}.txt", text="\n\n".join(body), title=rng.choice(titles),
                           date=f"{year}-{month:02d}-{day:02d}", publisher=rng.choice(PUBLISHERS)))
    return out


NOISE = np.random.default_rng(7).normal(0, 0.02, (4096, 384)).astype(np.float32)


def mixed_vectors(pool: np.ndarray, hashes: np.ndarray) -> np.ndarray:
    """Unit vectors pool[a] + 0.5 pool[b] + noise[c], with a, b, c taken from each text hash."""
    h = hashes.astype(np.uint64)
    a = (h % np.uint64(len(pool))).astype(np.int64)
    b = ((h >> np.uint64(16)) % np.uint64(len(pool))).astype(np.int64)
    c = ((h >> np.uint64(32)) % np.uint64(len(NOISE))).astype(np.int64)
    v = pool[a] + 0.5 * pool[b] + NOISE[c, :pool.shape[1]]
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


class PoolEmbedder:
    """The real model's tokenizer and dimension; vectors mixed from real pool vectors (see above)."""

    def __init__(self, real, pool: np.ndarray) -> None:
        self.real, self.pool, self.name = real, pool, real.name
        self.backend = getattr(real, "backend", "torch")
        self.dim, self.max_tokens = real.dim, real.max_tokens

    def count_tokens(self, texts):
        return self.real.count_tokens(texts)

    def embed(self, texts, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        from qa.segment import text_hash

        return mixed_vectors(self.pool, np.array([text_hash(t) for t in texts], dtype=np.int64))


def build_direct(n_chunks: int, directory: Path, pool: np.ndarray, sents, titles, config, real) -> dict:
    """A 1M-chunk archive without the chunker: each article is 2-5 passages of 2-5 real
    sentences, each passage one chunk (tokenizing a million chunks to cut them would take
    ~12 minutes here and measures nothing the smaller archives do not). Segments of 100,000
    chunks are built by the product's Segment.build (BM25 postings, FAISS), then optimized
    into one IVF segment and saved, as `qa index optimize` does."""
    from qa.index import Index, embedding_text
    from qa.indexing import optimize, segment_name
    from qa.segment import Segment, text_hash
    from qa.store import save_index
    from qa.types import Article, Chunk

    shutil.rmtree(directory, ignore_errors=True)
    rng = random.Random(n_chunks)
    segments, made, t = [], 0, time.perf_counter()
    while made < n_chunks:
        articles, chunks, texts = [], [], []
        while len(chunks) < min(100_000, n_chunks - made):
            passages = [" ".join(rng.choice(sents) for _ in range(rng.randint(2, 5))) for _ in range(rng.randint(2, 5))]
            text = "\n\n".join(passages)
            year, month, day = rng.randint(2015, 2024), rng.randint(1, 12), rng.randint(1, 28)
            art = Article(id=f"m{made + len(chunks):08d}.txt", text=text, title=rng.choice(titles),
                          date=f"{year}-{month:02d}-{day:02d}", publisher=rng.choice(PUBLISHERS))
            start = 0
            for p_ in passages:
                c = Chunk(article_id=art.id, start=start, end=start + len(p_), text=p_)
                chunks.append(c)
                texts.append(embedding_text(art, c))
                start += len(p_) + 2
            articles.append(art)
        hashes = np.array([text_hash(x) for x in texts], dtype=np.int64)
        segments.append(Segment.build(segment_name(), articles, chunks, mixed_vectors(pool, hashes), hashes.tolist(),
                                      texts, ann_min_chunks=2**62))
        made += len(chunks)
        print(f"  {made} chunks in {time.perf_counter() - t:.0f} s", flush=True)
    built = time.perf_counter() - t
    index = Index(model=real.name, dim=real.dim, max_tokens=config.chunk_max_tokens,
                  overlap_tokens=config.chunk_overlap_tokens, segments=tuple(segments))
    t = time.perf_counter()
    merged = optimize(index, config)
    t_opt = time.perf_counter() - t
    t = time.perf_counter()
    save_index(merged, directory)
    t_save = time.perf_counter() - t
    return {"articles": len(merged.articles), "chunks": merged.chunk_count, "build_s": round(built, 1),
            "build_chunks_per_s_without_encoding": round(merged.chunk_count / built),
            "segments_after_build": len(segments), "optimize_s": round(t_opt, 1), "save_s": round(t_save, 1),
            "segments": len(merged.segments), "ann_segments": sum(s.is_ann for s in merged.segments),
            "disk_mb": round(sum(f.stat().st_size for f in directory.rglob("*") if f.is_file()) / 1e6, 1)}


def pool_vectors(real, sents: list[str]) -> tuple[np.ndarray, float]:
    """Real MiniLM vectors of POOL_SIZE passages (cached under WORK), and the encoding rate in
    passages/s measured now on 256 of them."""
    rng = random.Random(0)
    passages = [" ".join(rng.choice(sents) for _ in range(4)) for _ in range(POOL_SIZE)]
    t = time.perf_counter()
    real.embed(passages[:256], batch_size=32)
    rate = 256 / (time.perf_counter() - t)
    cache = WORK / f"pool-{POOL_SIZE}.npy"
    if cache.exists():
        return np.load(cache), rate
    vecs = real.embed(passages, batch_size=32, progress=True)
    WORK.mkdir(parents=True, exist_ok=True)
    np.save(cache, vecs)
    return vecs, rate


def build(n_chunks: int, directory: Path, embedder, sents, titles, config) -> dict:
    """Build and save an archive of about n_chunks chunks the way a growing archive gets one."""
    from qa.assistant import Assistant
    from qa.indexing import empty_index

    shutil.rmtree(directory, ignore_errors=True)
    articles = make_articles(n_chunks, sents, titles, seed=n_chunks, prefix="a")
    a = Assistant(config, empty_index(embedder, config), directory)
    a.embedder = embedder
    a.retriever.embedder = embedder
    t = time.perf_counter()
    head = int(len(articles) * 0.8)
    batches = [articles[:head]] + [articles[head + i::10] for i in range(10)]
    for part in batches:
        a.add_articles(part)
    built = time.perf_counter() - t
    index = a.index
    return {"articles": len(articles), "chunks": index.chunk_count, "build_s": round(built, 1),
            "build_chunks_per_s_without_encoding": round(index.chunk_count / built),
            "segments": len(index.segments), "ann_segments": sum(s.is_ann for s in index.segments),
            "disk_mb": round(sum(f.stat().st_size for f in directory.rglob("*") if f.is_file()) / 1e6, 1)}


_OPEN = r"""
import json, os, sys, time
sys.path.insert(0, {root!r})
t = time.perf_counter()
from qa.store import load_index
index = load_index({directory!r})
took = time.perf_counter() - t
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
print(json.dumps({{"open_s": round(took, 2), "rss_mb_index_only": round(rss()), "chunks": index.chunk_count}}))
"""


def open_in_fresh_process(directory: Path) -> dict:
    proc = subprocess.run([sys.executable, "-c", _OPEN.format(root=str(ROOT), directory=str(directory))],
                          capture_output=True, text=True, timeout=600)
    if proc.returncode:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def latencies(index, real, config, questions: list[str]) -> dict:
    """Search p50/p95 per retriever and filter, questions embedded as the product embeds them
    (`query_embedder_for`: ONNX Runtime fp32 by default); hybrid once more with torch
    embedding the questions, the engine the index was built with, for comparison."""
    from qa.embed import query_embedder_for
    from qa.retrieve import Retriever
    from qa.types import Filters

    queries = query_embedder_for(config)
    r = Retriever(lambda: index, queries, config)
    t = time.perf_counter()
    index.wire_groups()
    wire_s = time.perf_counter() - t
    out = {"wire_groups_first_search_s": round(wire_s, 1), "query_embedding_backend": queries.backend}
    cases = {
        "dense": dict(method="dense"), "bm25": dict(method="bm25"), "hybrid": dict(method="hybrid"),
        "hybrid_publisher_filter": dict(method="hybrid", filters=Filters(publishers=("Outlet 7",))),
        "hybrid_date_filter": dict(method="hybrid", filters=Filters(date_from="2019-01-01", date_to="2019-12-31")),
        "hybrid_torch_query": dict(method="hybrid"),
    }
    torch_r = Retriever(lambda: index, real, config)
    for q in questions[:5]:
        r.search(q, k=5)  # warm: models, filter columns
        torch_r.search(q, k=5)
    for name, kw in cases.items():
        searcher = torch_r if name == "hybrid_torch_query" else r
        times = []
        for q in questions:
            t = time.perf_counter()
            searcher.search(q, k=5, **kw)
            times.append((time.perf_counter() - t) * 1000)
        out[f"{name}_ms_p50"] = round(float(np.percentile(times, 50)), 1)
        out[f"{name}_ms_p95"] = round(float(np.percentile(times, 95)), 1)
    return out


def ann_recall(index, real, config, questions: list[str], nprobes=(8, 16, 32, 64, 128)) -> dict:
    """Recall@10 of the index's dense search against exact search, at the configured nprobe
    and across `nprobes` (with ms per query): exact scores are computed once, in blocks."""
    if not any(s.is_ann for s in index.segments):
        return {"ann_recall_at_10": None}
    q = real.embed(questions)
    scores = np.concatenate([seg.vectors_of(np.arange(start, min(seg.n_chunks, start + 100_000))) @ q.T
                             for seg in index.segments for start in range(0, seg.n_chunks, 100_000)])
    exact = np.argsort(-scores, axis=0)[:10].T

    def recall(nprobe: int) -> tuple[float, float]:
        t = time.perf_counter()
        found = [index.dense_search(q[i:i + 1], 10, None, nprobe)[0] for i in range(len(q))]
        ms = (time.perf_counter() - t) / len(q) * 1000
        return round(float(np.mean([len(set(e) & set(f)) / 10 for e, f in zip(exact, found)])), 4), round(ms, 2)

    sweep = {p: dict(zip(("recall_at_10", "ms_per_query"), recall(p))) for p in nprobes}
    at_config = sweep[config.ann_nprobe]["recall_at_10"] if config.ann_nprobe in sweep else recall(config.ann_nprobe)[0]
    return {"ann_recall_at_10": at_config, "nprobe_sweep": sweep}


def add_one(directory: Path, real, config, sents, titles, repeats: int = 5) -> dict:
    """Open the saved archive and add one new article `repeats` times: time and bytes each.
    The articles are removed again afterwards, so that a kept archive (`--keep`) stays the
    archive that was built and the next run's adds are new again."""
    from qa.assistant import Assistant

    a = Assistant.open(config.replace(index_dir=str(directory)))
    times, written = [], []
    new = make_articles(4 * repeats, sents, titles, seed=99, prefix="new")[:repeats]
    for art in new:
        before = _sizes(directory)
        t = time.perf_counter()
        status = a.add_articles([art])
        times.append(time.perf_counter() - t)
        after = _sizes(directory)
        written.append(sum(size for p, size in after.items() if before.get(p) != size))
        if status[art.id] != "added":
            raise RuntimeError(f"{art.id} was {status[art.id]}, not added: the archive already held it")
    for art in new:
        a.remove(art.id)
    return {"add_one_s_p50": round(float(np.median(times)), 3), "add_one_s_max": round(max(times), 3),
            "add_one_kb_written_p50": round(float(np.median(written)) / 1024, 1)}


def _sizes(directory: Path) -> dict[str, int]:
    return {str(p): p.stat().st_size for p in directory.rglob("*") if p.is_file()}


def wire_copy_savings(sents, titles, embedder, config, n_articles: int = 1000, share: float = 0.3) -> dict:
    """Chunks embedded when `share` of an archive's articles are wire copies of others (another
    outlet, one sentence edited), against today's count (every chunk of every article): once
    with the copies keeping the headline, once with a new headline (the title is part of each
    chunk's embedding text, so a new headline changes every chunk without it)."""
    from qa.indexing import add_articles, empty_index
    from qa.types import Article

    rng = random.Random(5)
    originals = []
    for i in range(int(n_articles * (1 - share))):  # news-length articles: 10-16 paragraphs
        paragraphs = [" ".join(rng.choice(sents) for _ in range(rng.randint(2, 3))) for _ in range(rng.randint(10, 16))]
        originals.append(Article(id=f"o{i:05d}.txt", text="\n\n".join(paragraphs), title=rng.choice(titles),
                                 publisher=rng.choice(PUBLISHERS), date="2023-05-01"))
    out = {"articles": n_articles, "wire_copy_share": share}
    for headline in ("same", "new"):
        copies = []
        for j in range(n_articles - len(originals)):
            src = rng.choice(originals)
            paragraphs = src.text.split("\n\n")
            k = rng.randrange(len(paragraphs))
            paragraphs[k] = paragraphs[k] + " " + rng.choice(sents)  # one sentence added by the desk
            copies.append(Article(id=f"c{j:05d}.txt", text="\n\n".join(paragraphs), publisher="Copy Wire",
                                  title=src.title if headline == "same" else rng.choice(titles), date="2023-05-02"))
        archive = originals + copies
        rng.shuffle(archive)
        added = add_articles(empty_index(embedder, config), archive, embedder, config)
        total = added.embedded + added.reused
        out[f"{headline}_headline"] = {"chunks": total, "embedded": added.embedded,
                                       "fewer_than_today": round(added.reused / total, 3)}
    return out


ROWS = [  # (label, key) of the table in docs/PERFORMANCE.md
    ("chunks", "chunks"), ("articles", "articles"), ("segments (IVF)", None),
    ("build, chunks/s without encoding", "build_chunks_per_s_without_encoding"), ("disk, MB", "disk_mb"),
    ("open, s (fresh process)", "open_s"), ("RSS after open, MB", "rss_mb_index_only"),
    ("dense p50 / p95, ms", ("dense_ms_p50", "dense_ms_p95")), ("BM25 p50 / p95, ms", ("bm25_ms_p50", "bm25_ms_p95")),
    ("hybrid p50 / p95, ms", ("hybrid_ms_p50", "hybrid_ms_p95")),
    ("hybrid, torch embeds the question, p50 / p95, ms", ("hybrid_torch_query_ms_p50", "hybrid_torch_query_ms_p95")),
    ("hybrid + publisher filter p50 / p95, ms", ("hybrid_publisher_filter_ms_p50", "hybrid_publisher_filter_ms_p95")),
    ("hybrid + date filter p50 / p95, ms", ("hybrid_date_filter_ms_p50", "hybrid_date_filter_ms_p95")),
    ("add one article, s (p50)", "add_one_s_p50"), ("add one article, KB written (p50)", "add_one_kb_written_p50"),
    ("dense recall@10 vs exact", "ann_recall_at_10"), ("wire groups, first search, s", "wire_groups_first_search_s"),
]


def table(result: dict) -> str:
    """The results as a Markdown table, one column per archive size."""
    sizes = result["sizes"]
    lines = ["| | " + " | ".join(f"{r['target_chunks']:,}" for r in sizes) + " |",
             "|---|" + "---|" * len(sizes)]
    for label, key in ROWS:
        cells = []
        for r in sizes:
            if key is None:
                cells.append(f"{r['segments']} ({r['ann_segments']})")
            elif isinstance(key, tuple):
                cells.append(" / ".join(str(r.get(k)) for k in key))
            else:
                v = r.get(key)
                cells.append("exact" if v is None and key == "ann_recall_at_10" else f"{v:,}" if isinstance(v, int) else str(v))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000, 1_000_000])
    p.add_argument("--queries", type=int, default=100)
    p.add_argument("--direct-from", type=int, default=1_000_000, help="sizes from here skip the chunker (build_direct)")
    p.add_argument("--out", default=str(RESULTS / "scale.json"))
    p.add_argument("--table", action="store_true", help="print the Markdown table of --out and stop")
    p.add_argument("--keep", type=int, nargs="*", default=[], help="sizes whose archive in QA_BENCH_DIR is reused if built")
    p.add_argument("--build-only", action="store_true", help="build the archives, measure nothing")
    args = p.parse_args()
    if args.table:
        print(table(json.loads(Path(args.out).read_text())))
        return 0
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from qa.config import Config
    from qa.embed import get_embedder
    from qa.store import load_index

    started = time.perf_counter()
    config = Config()
    real = get_embedder("")
    sents, titles = sentences_of_sources()
    pool, enc_rate = pool_vectors(real, sents)
    with zipfile.ZipFile(SHARED / "squad-v1.1-dev" / "dev-v1.1.json.zip") as z:
        squad = json.loads(z.read(z.namelist()[0]))
    questions = [q["question"] for a in squad["data"] for p_ in a["paragraphs"] for q in p_["qas"]]
    questions = random.Random(1).sample(questions, args.queries)
    rows = []
    for n in args.sizes:
        directory = WORK / f"archive-{n}"
        embedder = PoolEmbedder(real, pool)
        t0 = time.perf_counter()
        kept = directory / "built.json"
        if n in args.keep and kept.exists():  # measured before: its build numbers were recorded then
            made = json.loads(kept.read_text()) | {"build_kept_from_earlier_run": True}
        else:
            made = (build_direct(n, directory, pool, sents, titles, config, real) if n >= args.direct_from
                    else build(n, directory, embedder, sents, titles, config))
            kept.write_text(json.dumps(made | {"built_at": time.strftime("%Y-%m-%d %H:%M"),
                                               "load_average": os.getloadavg()[0]}))
        if args.build_only:
            print(json.dumps(made), flush=True)
            continue
        row = {"target_chunks": n, "built_by": "Segment.build + optimize" if n >= args.direct_from else "add_articles"} | made
        row |= open_in_fresh_process(directory)
        index = load_index(directory)
        row |= latencies(index, real, config, questions)
        row |= ann_recall(index, real, config, questions)
        del index
        row |= add_one(directory, real, config, sents, titles)
        row["bench_s"] = round(time.perf_counter() - t0, 1)
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.build_only:
        return 0
    t0 = time.perf_counter()
    savings = wire_copy_savings(sents, titles, PoolEmbedder(real, pool), config)
    print(json.dumps(savings), f"({time.perf_counter() - t0:.0f} s)", flush=True)
    result = {
        "command": "python bench/scale.py " + " ".join(sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d"), "machine": f"{os.cpu_count()} cores, {platform.machine()}",
        "load_average_at_end": os.getloadavg()[0],
        "encoding_chunks_per_s_real_minilm": round(enc_rate, 1),
        "config": {"ann_min_chunks": config.ann_min_chunks, "ann_nprobe": config.ann_nprobe,
                   "merge_factor": config.merge_factor},
        "total_s": round(time.perf_counter() - started), "sizes": rows, "wire_copy_savings": savings,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    print(f"wrote {args.out} in {result['total_s']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
