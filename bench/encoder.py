"""Encoder speed against the machine's compute ceiling, and what int8 costs in retrieval.

Usage (from the project root, after `make install`):
    .venv/bin/python bench/encoder.py [--speed-texts 160] [--repeats 5] [--nfcorpus-docs N]
        [--squad-questions N] [--out bench/results/encoder.json]

One run measures, for the embedding backends (qa/embed.py, qa/onnx_embed.py):
1. The export: the ONNX graphs are built into a fresh temporary cache, timed.
2. Speed: chunk-sized texts (NFCorpus chunks of 120-128 tokens with [CLS]/[SEP]) encoded
   by every variant, interleaved (each repeat runs all variants in a rotated order), so
   load from other processes on this shared machine falls on all of them alike. Median
   chunks/s per variant, and the median over repeats of each variant's ratio to torch in
   the same repeat. "onnx-int8 padded x32" runs batches of 32 in one call, which
   `OnnxEmbedder.embed` avoids (each text runs alone), and "onnx-int8 spinning" lets ONNX
   Runtime's idle threads spin (its default; the embedder turns it off), to show what
   those two choices cost.
3. The ceiling, measured inside every speed repeat (same load): FLOPs per chunk of
   MiniLM-L6 (6 layers, hidden 384, FFN 1536) counted from its matrix products, against
   the best GFLOP/s of a large fp32 matmul (torch and numpy, same threads) and the best
   GOP/s of a large int8 matmul (ONNX Runtime MatMulInteger, the int8 graph's kernel);
   ceiling chunks/s = peak / FLOPs per chunk.
4. Quality, dense retrieval only (exact inner product over every chunk, chunks grouped to
   documents by best rank), metrics by pytrec_eval (qa.metrics.beir_scores):
   NFCorpus test queries over the whole corpus (nDCG@10, recall@100, MRR@10), and the
   SQuAD v1.1 test split (every question; its paragraph is the one relevant document:
   nDCG@10, recall@1/5/20, MRR@10). Per backend, with each backend's cosine to torch on
   every NFCorpus chunk and a paired bootstrap interval of each nDCG@10 change.
5. The default rule of issue 13: onnx-int8 may become the default only if it loses
   <= 0.005 nDCG@10 against torch in this run; applied to both benchmarks.
Results go to --out as JSON; a table is printed.
"""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

# MiniLM-L6-H384 (config.json of the packaged model)
LAYERS, HIDDEN, FFN = 6, 384, 1536
NDCG_BUDGET = 0.005  # issue 13: the largest nDCG@10 loss that lets int8 become the default
CANDIDATE_CHUNKS = 300  # chunks ranked per query before grouping to documents (as `qa eval-retrieval`)


def flops_per_chunk(tokens: int, layers: int = LAYERS, d: int = HIDDEN, f: int = FFN) -> dict[str, int]:
    """Multiply-adds x 2 of one encoder pass over `tokens` tokens, by part.

    Per layer: Q, K, V and the attention output are four d x d projections (8·L·d²),
    the FFN is d -> f -> d (4·L·d·f), and attention is Q·Kᵀ plus weights·V over all heads
    (2·L²·d each, 4·L²·d). Embedding look-ups, layer norms, softmax, GELU and pooling are
    O(L·d) element-wise work, under 1% here, and are left out.

    >>> flops_per_chunk(128)["total"]
    2868903936
    """
    L = tokens
    parts = {
        "qkv_and_output_projections": layers * 8 * L * d * d,
        "ffn": layers * 4 * L * d * f,
        "attention_scores_and_values": layers * 4 * L * L * d,
    }
    return parts | {"total": sum(parts.values())}


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')} load {loadavg()[0]:.1f}] {msg}", flush=True)


# --- the ceiling -----------------------------------------------------------------------

def _best_rate(fn, flops: float, repeats: int) -> float:
    fn()  # warm: threads started, memory touched
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return flops / best / 1e9


def ceiling_probe(threads: int, n: int = 2048, repeats: int = 3):
    """A function measuring, each time it is called: peak fp32 GFLOP/s (torch and numpy),
    the FFN-shaped fp32 GEMM, and peak int8 GOP/s. Called once per speed repeat, so the
    ceiling is measured under the same load as the encoders it is compared with."""
    import onnxruntime as ort
    import torch
    from onnx import TensorProto, helper, numpy_helper

    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    square = 2 * n**3
    # The FFN's first product for a batch of 32 chunks of 128 tokens: (4096 x 384) @ (384 x 1536).
    x = torch.from_numpy(rng.standard_normal((32 * 128, HIDDEN), dtype=np.float32))
    w = torch.from_numpy(rng.standard_normal((HIDDEN, FFN), dtype=np.float32))
    # int8: uint8 activations x int8 weights -> int32, the kernel behind the int8 graph's
    # MatMulInteger / DynamicQuantizeMatMul nodes (MLAS; AVX2 on this machine).
    wq = numpy_helper.from_array(rng.integers(-127, 128, (n, n), dtype=np.int8), "B")
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["A", "B"], ["Y"])], "mmi",
        [helper.make_tensor_value_info("A", TensorProto.UINT8, [n, n])],
        [helper.make_tensor_value_info("Y", TensorProto.INT32, [n, n])], initializer=[wq],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    session = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    aq = rng.integers(0, 256, (n, n), dtype=np.uint8)

    def measure() -> dict[str, float]:
        out = {
            "torch_fp32_gflops": _best_rate(lambda: torch.mm(ta, tb), square, repeats),
            "numpy_fp32_gflops": _best_rate(lambda: a @ b, square, repeats),
            "ffn_shaped_fp32_gflops": _best_rate(lambda: torch.mm(x, w), 2 * x.shape[0] * HIDDEN * FFN, repeats),
            "ort_int8_gops": _best_rate(lambda: session.run(None, {"A": aq}), square, repeats),
        }
        out["fp32_peak_gflops"] = max(out["torch_fp32_gflops"], out["numpy_fp32_gflops"])
        return {k: round(v, 1) for k, v in out.items()}

    return measure


def spinning_int8(folder: Path, threads: int):
    """`OnnxEmbedder.embed` of the int8 graph, one text per call, but with ONNX Runtime's
    default of idle threads spinning (the embedder lets them sleep)."""
    import onnxruntime as ort
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    session = ort.InferenceSession(str(folder / "model_int8.onnx"), opts, providers=["CPUExecutionProvider"])

    def embed(texts: list[str]) -> np.ndarray:
        out = []
        for ids in tokenizer(texts, truncation=True, max_length=256)["input_ids"]:
            x = np.asarray([ids], dtype=np.int64)
            out.append(session.run(None, {"input_ids": x, "attention_mask": np.ones_like(x)})[0][0])
        v = np.asarray(out, dtype=np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    return embed


# --- data ------------------------------------------------------------------------------

def chunk_corpus(articles, count_tokens, max_tokens: int, overlap: int):
    """(chunk texts as the index embeds them, the article id of each)."""
    from qa.chunking import chunk_article
    from qa.index import embedding_text

    texts, owners = [], []
    for a in articles:
        for c in chunk_article(a, count_tokens, max_tokens, overlap):
            texts.append(embedding_text(a, c))
            owners.append(a.id)
    return texts, owners


def rank_articles(query_vecs: np.ndarray, chunk_vecs: np.ndarray, owners: list[str], docs: int) -> list[list[str]]:
    """Per query: article ids by their best chunk's inner product (cosine), best first."""
    out = []
    for start in range(0, len(query_vecs), 64):
        scores = query_vecs[start:start + 64] @ chunk_vecs.T
        k = min(CANDIDATE_CHUNKS, scores.shape[1])
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        for row, cand in zip(scores, top):
            ordered = cand[np.argsort(-row[cand], kind="stable")]
            out.append(list(dict.fromkeys(owners[i] for i in ordered))[:docs])
    return out


def cosine_stats(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    from qa.metrics import percentile

    c = np.sum(a * b, axis=1).astype(float)
    return {"mean": round(float(c.mean()), 5), "p1": round(percentile(c.tolist(), 1), 5), "min": round(float(c.min()), 5)}


def bootstrap_change(per_query_a: dict, per_query_b: dict, metric: str, samples: int = 2000) -> list[float]:
    """95% paired bootstrap interval of mean(b - a) over queries (seed 0)."""
    qs = sorted(per_query_a)
    diff = np.array([per_query_b[q][metric] - per_query_a[q][metric] for q in qs])
    rng = np.random.default_rng(0)
    means = diff[rng.integers(0, len(diff), (samples, len(diff)))].mean(axis=1)
    return [round(float(np.percentile(means, 2.5)), 4), round(float(np.percentile(means, 97.5)), 4)]


# --- main ------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nfcorpus", default=str(ROOT.parent / "shared" / "bench" / "nfcorpus"))
    ap.add_argument("--squad", default=str(ROOT.parent / "shared" / "bench" / "squad-v1.1-dev" / "dev-v1.1.json.zip"))
    ap.add_argument("--speed-texts", type=int, default=160)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--nfcorpus-docs", type=int, default=0, help="a fixed-seed sample of the corpus (0: all)")
    ap.add_argument("--squad-questions", type=int, default=0,
                    help="a sample of the SQuAD test split, seed 0 (0: all of it; -1: skip SQuAD)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "encoder.json"))
    a = ap.parse_args()

    import onnxruntime
    import torch

    from qa.benchmarks import load_beir, load_squad, sample, split_questions
    from qa.config import Config
    from qa.embed import get_embedder
    from qa.metrics import beir_scores, mean, ranks_to_run, recall_at_k

    started = time.time()
    cfg = Config()
    threads = torch.get_num_threads()
    result: dict = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": "python bench/encoder.py " + " ".join(sys.argv[1:]),
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "threads": threads,
                    "torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
                    "python": platform.python_version()},
        "load_average": {"start": loadavg()},
    }
    try:
        result["machine"]["cpu"] = next(line.split(":", 1)[1].strip() for line in
                                        open("/proc/cpuinfo", encoding="utf-8") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    log(f"start; load average {loadavg()}")

    cache = Path(tempfile.mkdtemp(prefix="qa-encoder-bench-"))
    atexit.register(shutil.rmtree, cache, ignore_errors=True)  # two graphs, ~115 MB
    torch_e = get_embedder(cfg.embedding_model)
    torch_e.embed(["warm up"])
    t = time.perf_counter()
    int8_e = get_embedder(cfg.embedding_model, "onnx-int8", cache)
    int8_e.embed(["warm up"])  # exports both graphs into the fresh cache
    result["export_seconds"] = round(time.perf_counter() - t, 1)
    fp32_e = get_embedder(cfg.embedding_model, "onnx", cache)
    fp32_e.embed(["warm up"])
    log(f"exported both ONNX graphs in {result['export_seconds']} s")

    probe = ceiling_probe(threads)

    # --- data ---------------------------------------------------------------------------
    articles, queries, qrels = load_beir(a.nfcorpus, "test")
    corpus_note = f"all {len(articles)} documents"
    if a.nfcorpus_docs and a.nfcorpus_docs < len(articles):
        articles = random.Random(0).sample(articles, a.nfcorpus_docs)
        corpus_note = f"{len(articles)} documents sampled with random.Random(0)"
    chunks, owners = chunk_corpus(articles, torch_e.count_tokens, cfg.chunk_max_tokens, cfg.chunk_overlap_tokens)
    log(f"NFCorpus: {corpus_note}, {len(chunks)} chunks, {len(queries)} test queries")

    lengths = torch_e.count_tokens(chunks)
    full = [i for i, n in enumerate(lengths) if 118 <= n <= 126]  # 120-128 with [CLS] and [SEP]
    speed_idx = sorted(random.Random(0).sample(full, min(a.speed_texts, len(full))))
    speed_texts = [chunks[i] for i in speed_idx]
    tokens = [lengths[i] + 2 for i in speed_idx]
    flops_each = [flops_per_chunk(n)["total"] for n in tokens]
    flops_mean = statistics.mean(flops_each)

    # --- speed, interleaved -------------------------------------------------------------
    def padded32(texts):
        return np.concatenate([int8_e.embed_padded(texts[i:i + 32]) for i in range(0, len(texts), 32)])

    spinning = spinning_int8(int8_e.folder, threads)
    variants = {
        "torch": lambda texts: torch_e.embed(texts, batch_size=cfg.embedding_batch_size),
        "onnx": lambda texts: fp32_e.embed(texts),
        "onnx-int8": lambda texts: int8_e.embed(texts),
        "onnx-int8 padded x32": padded32,
        "onnx-int8 spinning": spinning,
    }
    names = list(variants)
    # The ceiling each variant is held to: fp32 matmul peak for fp32 graphs, int8 for int8.
    peak_key = {n: "ort_int8_gops" if "int8" in n else "fp32_peak_gflops" for n in names}
    runs: dict[str, list[float]] = {n: [] for n in names}
    ratios: dict[str, list[float]] = {n: [] for n in names if n != "torch"}
    fractions: dict[str, list[float]] = {n: [] for n in names}
    peaks: list[dict[str, float]] = []
    vectors: dict[str, np.ndarray] = {}
    loads = []
    for r in range(a.repeats):
        order = ["ceiling"] + names
        order = order[r % len(order):] + order[:r % len(order)]
        loads.append(loadavg()[0])
        this = {}
        for n in order:
            if n == "ceiling":
                peaks.append(probe())
                continue
            t = time.perf_counter()
            vectors[n] = variants[n](speed_texts)
            this[n] = len(speed_texts) / (time.perf_counter() - t)
            runs[n].append(round(this[n], 2))
        for n in names:
            fractions[n].append(this[n] * flops_mean / (peaks[-1][peak_key[n]] * 1e9))
            if n in ratios:
                ratios[n].append(this[n] / this["torch"])
        log(f"speed repeat {r + 1}/{a.repeats}: " + ", ".join(f"{n} {this[n]:.1f}/s" for n in names)
            + f"; peaks {peaks[-1]}")
    ceiling = {k: round(statistics.median(p[k] for p in peaks), 1) for k in peaks[0]}
    ceiling |= {"runs": peaks, "matrix": "2048x2048x2048, best of 3 per repeat, median over repeats",
                "threads": threads}
    speed = {"texts": len(speed_texts), "tokens_mean": round(statistics.mean(tokens), 1),
             "flops_per_chunk_mean": int(flops_mean), "repeats": a.repeats, "load_average_1min": loads,
             "variants": {}}
    for n in names:
        med = statistics.median(runs[n])
        speed["variants"][n] = {
            "chunks_per_s_median": round(med, 2), "runs": runs[n],
            "ratio_to_torch_median": round(statistics.median(ratios[n]), 3) if n in ratios else 1.0,
            "achieved_gflops": round(med * flops_mean / 1e9, 1),
            "ceiling": peak_key[n],
            "ceiling_chunks_per_s": round(ceiling[peak_key[n]] * 1e9 / flops_mean, 1),
            "fraction_of_ceiling_median": round(statistics.median(fractions[n]), 3),
            "cosine_to_torch": cosine_stats(vectors[n], vectors["torch"]),
        }
    result["ceiling"] = ceiling | {
        "flops_per_chunk_at_128_tokens": flops_per_chunk(128),
        "fp32_ceiling_chunks_per_s_at_128": round(ceiling["fp32_peak_gflops"] * 1e9 / flops_per_chunk(128)["total"], 1),
        "int8_ceiling_chunks_per_s_at_128": round(ceiling["ort_int8_gops"] * 1e9 / flops_per_chunk(128)["total"], 1),
    }
    result["speed"] = speed

    # --- NFCorpus quality -----------------------------------------------------------------
    quality_backends = {"torch": torch_e, "onnx-int8": int8_e}
    chunk_vecs: dict[str, np.ndarray] = {}
    nf: dict = {"corpus": corpus_note, "chunks": len(chunks), "queries": len(queries), "backends": {}}
    qids = list(queries)
    for b, e in quality_backends.items():
        t = time.perf_counter()
        chunk_vecs[b] = e.embed(chunks, batch_size=cfg.embedding_batch_size)
        seconds = time.perf_counter() - t
        qv = e.embed([queries[q] for q in qids], batch_size=cfg.embedding_batch_size)
        ranked = rank_articles(qv, chunk_vecs[b], owners, 100)
        scores = beir_scores(qrels, {q: ranks_to_run(r) for q, r in zip(qids, ranked)})
        nf["backends"][b] = {m: round(scores[m], 4) for m in ("ndcg@10", "recall@100", "mrr@10")} | {
            "encode_seconds": round(seconds, 1), "chunks_per_s": round(len(chunks) / seconds, 2),
            "per_query": scores["per_query"], "top10": {q: r[:10] for q, r in zip(qids, ranked)}}
        log(f"NFCorpus {b}: nDCG@10 {scores['ndcg@10']:.4f}, {len(chunks) / seconds:.1f} chunks/s")
    base, q8 = nf["backends"]["torch"], nf["backends"]["onnx-int8"]
    nf["ndcg@10_change"] = round(q8["ndcg@10"] - base["ndcg@10"], 4)
    nf["ndcg@10_change_95ci"] = bootstrap_change(base["per_query"], q8["per_query"], "ndcg@10")
    nf["top10_overlap_mean"] = round(statistics.mean(
        len(set(base["top10"][q]) & set(q8["top10"][q])) / 10 for q in qids), 3)
    nf["cosine_to_torch_all_chunks"] = cosine_stats(chunk_vecs["onnx-int8"], chunk_vecs["torch"])
    for b in nf["backends"].values():
        del b["per_query"], b["top10"]
    result["nfcorpus"] = nf

    # --- SQuAD quality --------------------------------------------------------------------
    if a.squad_questions >= 0:
        paragraphs, questions = load_squad(a.squad)
        questions = split_questions(paragraphs, questions, "test")
        how = f"all {len(questions)} questions of the test split"
        if a.squad_questions:
            questions = sample(questions, a.squad_questions, 0)
            how = f"{len(questions)} questions of the test split, sampled with seed 0"
        p_chunks, p_owners = chunk_corpus(paragraphs, torch_e.count_tokens, cfg.chunk_max_tokens,
                                          cfg.chunk_overlap_tokens)
        squad_qrels = {q.id: {src: 1 for src in q.sources} for q in questions}
        sq: dict = {"paragraphs": len(paragraphs), "chunks": len(p_chunks), "questions": how, "backends": {}}
        for b, e in quality_backends.items():
            cv = e.embed(p_chunks, batch_size=cfg.embedding_batch_size)
            qv = e.embed([q.question for q in questions], batch_size=cfg.embedding_batch_size)
            ranked = rank_articles(qv, cv, p_owners, 100)
            scores = beir_scores(squad_qrels, {q.id: ranks_to_run(r) for q, r in zip(questions, ranked)})
            row = {"ndcg@10": round(scores["ndcg@10"], 4)}
            row |= {f"recall@{k}": round(mean(recall_at_k(r, q.sources, k) for r, q in zip(ranked, questions)), 4)
                    for k in (1, 5, 20)}
            row["mrr@10"] = round(scores["mrr@10"], 4)
            sq["backends"][b] = row | {"per_query": scores["per_query"]}
            log(f"SQuAD {b}: {row}")
        base, q8 = sq["backends"]["torch"], sq["backends"]["onnx-int8"]
        sq["ndcg@10_change"] = round(q8["ndcg@10"] - base["ndcg@10"], 4)
        sq["ndcg@10_change_95ci"] = bootstrap_change(base["per_query"], q8["per_query"], "ndcg@10")
        for b in sq["backends"].values():
            del b["per_query"]
        result["squad"] = sq

    losses = {"nfcorpus": -nf["ndcg@10_change"]}
    if "squad" in result:
        losses["squad"] = -result["squad"]["ndcg@10_change"]
    result["decision"] = {
        "rule": f"onnx-int8 becomes the default only if it loses <= {NDCG_BUDGET} nDCG@10 against torch "
                "on every benchmark of this run",
        "ndcg@10_loss": {k: round(v, 4) for k, v in losses.items()},
        "default": "onnx-int8" if all(v <= NDCG_BUDGET for v in losses.values()) else "torch",
    }
    result["load_average"]["end"] = loadavg()
    result["seconds"] = round(time.time() - started, 1)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print_table(result)
    print(f"wrote {a.out} ({result['seconds']} s)")
    return 0


def print_table(r: dict) -> None:
    c, s = r["ceiling"], r["speed"]
    print(f"\n{r['date']}  {r['machine']['cpu']}, {r['machine']['threads']} threads; "
          f"load average {r['load_average']['start']} -> {r['load_average']['end']}")
    print(f"ceiling: fp32 {c['fp32_peak_gflops']} GFLOP/s (torch {c['torch_fp32_gflops']}, numpy {c['numpy_fp32_gflops']}, "
          f"FFN-shaped {c['ffn_shaped_fp32_gflops']}), int8 {c['ort_int8_gops']} GOP/s; "
          f"{s['flops_per_chunk_mean'] / 1e9:.2f} GFLOP per chunk ({s['tokens_mean']} tokens)")
    print(f"{'variant':<22}{'chunks/s':>9}{'x torch':>9}{'GFLOP/s':>9}{'ceiling':>9}{'of ceil':>9}{'cos mean':>10}{'cos min':>9}")
    for n, v in s["variants"].items():
        print(f"{n:<22}{v['chunks_per_s_median']:>9.1f}{v['ratio_to_torch_median']:>9.2f}{v['achieved_gflops']:>9.1f}"
              f"{v['ceiling_chunks_per_s']:>9.1f}{v['fraction_of_ceiling_median']:>9.2f}"
              f"{v['cosine_to_torch']['mean']:>10.4f}{v['cosine_to_torch']['min']:>9.4f}")
    nf = r["nfcorpus"]
    print(f"\nNFCorpus ({nf['corpus']}, {nf['chunks']} chunks, {nf['queries']} test queries), dense only")
    print(f"{'backend':<12}{'nDCG@10':>9}{'R@100':>8}{'MRR@10':>8}{'chunks/s':>10}")
    for b, v in nf["backends"].items():
        print(f"{b:<12}{v['ndcg@10']:>9.4f}{v['recall@100']:>8.4f}{v['mrr@10']:>8.4f}{v['chunks_per_s']:>10.1f}")
    print(f"nDCG@10 change {nf['ndcg@10_change']:+.4f} (95% CI {nf['ndcg@10_change_95ci']}), top-10 overlap "
          f"{nf['top10_overlap_mean']}, cosine to torch {nf['cosine_to_torch_all_chunks']}")
    if "squad" in r:
        sq = r["squad"]
        print(f"\nSQuAD ({sq['questions']}; {sq['paragraphs']} paragraphs, {sq['chunks']} chunks)")
        for b, v in sq["backends"].items():
            print(f"{b:<12}" + "  ".join(f"{k} {x:.4f}" for k, x in v.items()))
        print(f"nDCG@10 change {sq['ndcg@10_change']:+.4f} (95% CI {sq['ndcg@10_change_95ci']})")
    d = r["decision"]
    print(f"\ndecision: default = {d['default']} (nDCG@10 loss {d['ndcg@10_loss']}; {d['rule']})")


if __name__ == "__main__":
    raise SystemExit(main())
