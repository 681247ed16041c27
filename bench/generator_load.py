"""How long the first generative answer waits for SmolLM2: converting the GGUF, or reading the cache.

Usage (from the project root, after `make install`):
    .venv/bin/python bench/generator_load.py [--repeat 3] [--out bench/results/generator_load.json]

Each load runs in a fresh process (a loaded model is cached per process) with a fresh
cache folder for the conversion and the converted folder for the cached load, so both
are what a user meets: the very first start, and every later one. The medians are what
the chat announces while the model loads (qa/generate.py LOAD_CONVERT_S, LOAD_CACHED_S).
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ONE_LOAD = ("import json, sys; from qa.generate import LocalGenerator; g = LocalGenerator('', sys.argv[1]); g.load(); "
            "print(json.dumps(g.load_info))")


def load_once(cache: Path) -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    out = subprocess.run([sys.executable, "-c", ONE_LOAD, str(cache)], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "generator_load.json")
    a = ap.parse_args()
    convert, cached = [], []
    for _ in range(a.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            first = load_once(Path(tmp))
            assert first["source"] == "converted", first
            again = load_once(Path(tmp))
            assert again["source"] == "cache", again
            convert.append(first["seconds"])
            cached.append(again["seconds"])
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "repeat": a.repeat,
        "convert_s": {"median": round(statistics.median(convert), 2), "all": convert},
        "cached_s": {"median": round(statistics.median(cached), 2), "all": cached},
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
