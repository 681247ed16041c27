"""Warm time to answer and to the first streamed text, per stage, for both answer modes.

Usage (from the project root, after `make install` and `qa index build data/articles`):
    .venv/bin/python bench/answer_latency.py [--index index] [--modes extractive,generative]
        [--repeat 1] [--cold-start] [--out bench/results/answer_latency.json]

Models are loaded and warmed with one question first; then every question of the fixed list
below is answered in full through `Assistant.ask_stream` (rewrite, retrieval, evidence,
generation, verification). Per mode it reports p50/p95/mean of: wall time to the final
answer, time to the first "delta" event (the first text a user sees), and each stage of the
answer's `timings_ms`. `--cold-start` also times the generator's first start (GGUF
conversion into an empty cache folder) against a start from that cache, each in a fresh
process. Results go to the JSON file given by --out.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Fixed, so runs compare: every kind of question in the bundled set, two outside the corpus.
QUESTIONS: list[dict] = [
    {"question": "Which Russian missile does NATO say violates the INF treaty?"},
    {"question": "What other designation is the Russian 9M729 missile system known by?"},
    {"question": "Who said Russia's relationship with NATO had reached a red line?"},
    {"question": "When did the US withdraw from the INF Treaty?"},
    {"question": "What did Stoltenberg say about the demise of the INF treaty?"},
    {"question": "What conditions did Stoltenberg set for negotiations to re-establish missile restrictions?"},
    {"question": "What is its other designation?", "history": ["Which Russian missile does NATO say violates the INF treaty?"]},
    {"question": "What did he say about Russia's relationship with NATO?",
     "history": ["Who is the Russian presidential spokesman quoted about NATO?"]},
    {"question": "Who won the 2022 World Cup?"},
    {"question": "How many warheads does the 9M729 carry?"},
]

_COLD = """
import json, sys, time
t = time.perf_counter()
from qa.generate import LocalGenerator
g = LocalGenerator("", sys.argv[1])
g.load()
print(json.dumps({**g.load_info, "process_s": round(time.perf_counter() - t, 2)}))
"""


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile: percentile([1, 2, 3, 4], 50) == 2."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def summary(values: list[float]) -> dict[str, float]:
    return {"p50": round(percentile(values, 50), 1), "p95": round(percentile(values, 95), 1),
            "mean": round(statistics.fmean(values), 1), "n": len(values)}


def run_mode(assistant, mode: str, questions: list[dict], repeat: int) -> dict:
    t = time.perf_counter()
    assistant.ask("Which missile violates the INF treaty?", mode=mode)  # load and warm the models
    warmup_s = time.perf_counter() - t
    series: dict[str, list[float]] = {"answer (wall)": [], "first text": []}
    refused = fell_back = 0
    for _ in range(repeat):
        for q in questions:
            t = time.perf_counter()
            first = None
            for event in assistant.ask_stream(q["question"], history=q.get("history", []), mode=mode):
                if event.kind == "delta" and first is None:
                    first = (time.perf_counter() - t) * 1000
                if event.kind == "final":
                    answer = event.answer
            series["answer (wall)"].append((time.perf_counter() - t) * 1000)
            series["first text"].append(first if first is not None else series["answer (wall)"][-1])
            refused += answer.refused
            fell_back += "fell back" in str(answer.verification.get("outcome", ""))
            for stage, ms in answer.timings_ms.items():
                if stage != "total":
                    series.setdefault(f"stage {stage}", []).append(ms)
    return {
        "first_answer_s_including_model_load": round(warmup_s, 2),
        "ms": {name: summary(values) for name, values in series.items()},
        "answers": len(questions) * repeat, "refused": refused, "fell_back_to_extractive": fell_back,
    }


def cold_start() -> dict:
    """Generator start in fresh processes: convert into an empty cache, then load that cache."""
    with tempfile.TemporaryDirectory(prefix="qa-cold-") as cache:
        runs = []
        for _ in range(2):
            out = subprocess.run([sys.executable, "-c", _COLD, cache], cwd=ROOT, capture_output=True, text=True, check=True)
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {"first_start_converts": runs[0], "second_start_from_cache": runs[1]}


def print_table(report: dict) -> None:
    print(f"\n{'mode':<11} {'measure':<20} {'p50 ms':>9} {'p95 ms':>9} {'mean ms':>9} {'n':>4}")
    for mode, m in report["modes"].items():
        for name, s in m["ms"].items():
            print(f"{mode:<11} {name:<20} {s['p50']:>9.1f} {s['p95']:>9.1f} {s['mean']:>9.1f} {s['n']:>4}")
        print(f"{mode:<11} first answer incl. model load {m['first_answer_s_including_model_load']:.1f} s; "
              f"refused {m['refused']}, fell back {m['fell_back_to_extractive']} of {m['answers']}")
    if "cold_start" in report:
        c = report["cold_start"]
        print(f"generator cold start: convert GGUF {c['first_start_converts']['seconds']:.1f} s "
              f"(process {c['first_start_converts']['process_s']:.1f} s), from cache "
              f"{c['second_start_from_cache']['seconds']:.1f} s (process {c['second_start_from_cache']['process_s']:.1f} s)")


def main() -> int:
    from qa.assistant import Assistant
    from qa.config import load_config

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", default="index")
    ap.add_argument("--modes", default="extractive,generative")
    ap.add_argument("--repeat", type=int, default=1, help="answer the question list this many times")
    ap.add_argument("--cold-start", action="store_true", help="also time GGUF conversion vs cached load")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "answer_latency.json"))
    args = ap.parse_args()

    config = load_config(index_dir=args.index)
    assistant = Assistant.open(config)
    report: dict = {
        "machine": {"cpus": os.cpu_count(), "load_average_at_start": os.getloadavg(),
                    "python": platform.python_version(), "platform": platform.platform()},
        "index": assistant.stats(), "questions": QUESTIONS, "modes": {},
    }
    for mode in args.modes.split(","):
        report["modes"][mode] = run_mode(assistant, mode, QUESTIONS, args.repeat)
    if args.cold_start:
        report["cold_start"] = cold_start()
    report["machine"]["load_average_at_end"] = os.getloadavg()
    print_table(report)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
