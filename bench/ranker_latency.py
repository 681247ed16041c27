"""Warm time of the answer-sentence ranker and of a whole extractive answer.

Usage (from the project root, after `make install`):
    .venv/bin/python bench/ranker_latency.py [--questions eval/questions/bundled.jsonl ...]
        [--repeat 3] [--fp32] [--int8] [--layers 3] [--out bench/results/ranker_latency.json]

The bundled articles are indexed into a temporary folder; models are warmed with one
question; then for every question of the sets (bundled + held-out by default) it times:
- `rank`: the cross-encoder over the pruned candidates of the top-5 chunks (what the issue
  calls "ranking the candidate sentences of the top 5 chunks"), with their count;
- the whole `Assistant.ask` in extractive mode (spelling, rewrite, retrieval, ranking, gate,
  composition), wall time.
The ranker runs in config `ranker_precision` ("auto": bf16 autocast on a CPU with native
bfloat16). `--fp32` times the fp32 ranker as well, `--int8` a dynamically int8-quantised copy,
`--layers N` a copy cut to its first N layers (speed only: what a smaller model of the same
shape would cost); those two run in the configured precision.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return round(s[max(0, min(len(s) - 1, int(round(q / 100 * len(s) + 0.5)) - 1))], 2)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", nargs="+", default=["eval/questions/bundled.jsonl", "eval/questions/heldout.jsonl"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--fp32", action="store_true", help="also time the ranker in fp32")
    ap.add_argument("--int8", action="store_true")
    ap.add_argument("--layers", type=int, default=0, help="also time the ranker cut to its first N layers")
    ap.add_argument("--out", default="bench/results/ranker_latency.json")
    a = ap.parse_args()

    import torch

    from qa.assistant import Assistant
    from qa.config import Config
    from qa.evaluate import load_questions
    from qa.gate import THRESHOLDS, Vocabulary, answer_type, key_terms, typed
    from qa.ranker import candidates, load_calibration, load_ranker, rank

    with tempfile.TemporaryDirectory() as tmp:
        config = Config(index_dir=tmp)
        assistant = Assistant.create(config)
        assistant.add_paths([ROOT / "data" / "articles"])
        questions = [q for f in a.questions for q in load_questions(f)]
        ranker = load_ranker(config.answer_ranker, config.ranker_precision)
        calibration = load_calibration(config.answer_ranker)
        assistant.ask(questions[0].question)  # warm: models loaded, caches filled
        Vocabulary.of(assistant.index)

        def ranker_times(r) -> tuple[list[float], list[int]]:
            times, counts = [], []
            for q in questions:
                hits = assistant.search(q.question, k=config.top_k)
                cands = candidates(hits)
                sims = assistant.retriever.similarity(q.question, [c.text for c in cands])
                w = key_terms(q.question, q.question)
                kind = answer_type(q.question)
                cands = [replace(c, similarity=float(s), typed=typed(kind, c.text, q.question),
                                 coverage=sum(v for t, v in w.items() if t in c.text.lower()) / max(1e-9, sum(w.values())))
                         for c, s in zip(cands, sims)]
                best = []
                for _ in range(a.repeat):
                    t = time.perf_counter()
                    rank(q.question, cands, r, calibration, THRESHOLDS.ranker_candidates)
                    best.append((time.perf_counter() - t) * 1000)
                times.append(min(best))
                counts.append(min(len(cands), THRESHOLDS.ranker_candidates))
            return times, counts

        rank_ms, counts = ranker_times(ranker)
        ask_ms = []
        for q in questions:
            t = time.perf_counter()
            assistant.ask(q.question, history=q.history, mode="extractive")
            ask_ms.append((time.perf_counter() - t) * 1000)
        result = {
            "machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "python": platform.python_version()},
            "questions": len(questions), "ranker": ranker.name,
            "ranker_precision": getattr(ranker, "precision", None), "ranked_candidates_mean": round(statistics.mean(counts), 1),
            "candidate_limit": THRESHOLDS.ranker_candidates,
            "rank_ms": {"p50": pct(rank_ms, 50), "p95": pct(rank_ms, 95), "mean": round(statistics.mean(rank_ms), 2)},
            "extractive_answer_ms": {"p50": pct(ask_ms, 50), "p95": pct(ask_ms, 95), "mean": round(statistics.mean(ask_ms), 2)},
        }
        def variant_ms(model) -> dict:
            class Variant:  # the shipped ranker's scoring, over another network
                score = ranker.score.__func__

            r = Variant()
            r._load, r.max_length, r.precision = (lambda: (tok, model)), ranker.max_length, ranker.precision
            ms, _ = ranker_times(r)
            return {"p50": pct(ms, 50), "p95": pct(ms, 95), "mean": round(statistics.mean(ms), 2)}

        tok, model = ranker._load()
        if a.fp32:
            fp32 = load_ranker(config.answer_ranker, "fp32")
            fp32.load()
            ms, _ = ranker_times(fp32)
            result["fp32_rank_ms"] = {"p50": pct(ms, 50), "p95": pct(ms, 95), "mean": round(statistics.mean(ms), 2)}
        if a.int8:
            result["int8_rank_ms"] = variant_ms(torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8))
        if a.layers:
            cut = copy.deepcopy(model)
            cut.bert.encoder.layer = cut.bert.encoder.layer[:a.layers]
            result[f"first_{a.layers}_layers_rank_ms"] = variant_ms(cut)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
