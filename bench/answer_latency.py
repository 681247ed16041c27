"""Time to answer with warm models, per stage, for both answer modes.

Usage (from the project root, after `make install`):
    .venv/bin/python bench/answer_latency.py [--index index] [--questions eval/questions/bundled.jsonl]
        [--limit 20] [--modes extractive,generative] [--out bench/results/answer_latency.json]

Models are loaded and warmed with one question first; every question is then answered in
full (retrieval, evidence, generation, verification), and the per-stage `timings_ms` that
`ask` reports are summarised as p50/p95 along with wall-clock time per answer.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile: percentile([1, 2, 3, 4], 50) == 2."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def load_questions(path: Path, limit: int) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows[:limit]


def main() -> int:
    from qa.assistant import Assistant
    from qa.config import load_config

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", default="index")
    ap.add_argument("--questions", default=str(ROOT / "eval" / "questions" / "bundled.jsonl"))
    ap.add_argument("--limit", type=int, default=20)
    ap.add_argument("--modes", default="extractive,generative")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "answer_latency.json"))
    args = ap.parse_args()

    config = load_config(index_dir=args.index)
    assistant = Assistant.open(config)
    questions = load_questions(Path(args.questions), args.limit)
    report = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "index": assistant.stats(), "questions": len(questions), "modes": {},
    }
    for mode in args.modes.split(","):
        t = time.perf_counter()
        assistant.ask("Which missile violates the INF treaty?", mode=mode)  # load and warm the models
        warmup_s = time.perf_counter() - t
        walls: list[float] = []
        stages: dict[str, list[float]] = {}
        refused = 0
        for q in questions:
            t = time.perf_counter()
            answer = assistant.ask(q["question"], history=q.get("history", []), mode=mode)
            walls.append((time.perf_counter() - t) * 1000)
            refused += answer.refused
            for stage, ms in answer.timings_ms.items():
                stages.setdefault(stage, []).append(ms)
        report["modes"][mode] = {
            "first_answer_s_including_model_load": round(warmup_s, 2),
            "wall_ms": {"p50": round(percentile(walls, 50), 1), "p95": round(percentile(walls, 95), 1),
                        "mean": round(statistics.fmean(walls), 1)},
            "stage_ms_p50": {k: round(percentile(v, 50), 1) for k, v in stages.items()},
            "stage_ms_p95": {k: round(percentile(v, 95), 1) for k, v in stages.items()},
            "refused": refused,
        }
        m = report["modes"][mode]
        print(f"{mode:>11}: p50 {m['wall_ms']['p50']:>8.1f} ms  p95 {m['wall_ms']['p95']:>8.1f} ms  "
              f"(first answer incl. model load {warmup_s:.1f} s; stages p50 {m['stage_ms_p50']})")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
