"""A Ray build against the local build on this machine: throughput with 1 and 2 embedding
actors, and what Ray costs a small archive (docs/SCALING.md).

    .venv/bin/python bench/ray_build.py                 # ~10 min idle: 1,000 articles, writes bench/results/ray_build.json
    .venv/bin/python bench/ray_build.py --articles 200  # a quick look

Every build is `qa index build` run as the CLI runs it, in a fresh process (so each pays
its model loads, and a Ray build its Ray start), in one run: the local build, then
`--ray` with 1 and 2 embedding actors on a Ray started for the build (2 CPUs: this
machine). Each variant builds a small archive (the 5 bundled articles) and a large one
(N news-length articles of real text: SQuAD v1.1 dev paragraphs from ../shared/bench,
each with a title line), so that

    wall(archive) = overhead + chunks / rate

gives each variant's fixed overhead (the small build's time) and its marginal rate
(extra chunks over extra seconds). Where Ray's rate beats the local one, an archive pays
for Ray from overhead difference / (1/local rate - 1/Ray rate) chunks on. The load
average is recorded before and after each build: the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SQUAD = ROOT.parent / "shared" / "bench" / "squad-v1.1-dev" / "dev-v1.1.json.zip"
RESULTS = ROOT / "bench" / "results" / "ray_build.json"
# (name, extra `qa index build` arguments run through `--one`): the variants measured
VARIANTS = (("local", None), ("ray, 1 actor", 1), ("ray, 2 actors", 2))


def write_articles(folder: Path, n: int) -> None:
    """N articles of real news-length text (SQuAD dev paragraphs under their page's title)."""
    with zipfile.ZipFile(SQUAD) as z:
        squad = json.loads(z.read(z.namelist()[0]))
    paragraphs = [(a["title"].replace("_", " "), p["context"]) for a in squad["data"] for p in a["paragraphs"]]
    folder.mkdir(parents=True)
    for i, (title, text) in enumerate(paragraphs[:n]):
        (folder / f"squad-{i:05d}.txt").write_text(f"{title}\n\n{text}\n", encoding="utf-8")


def one_build(paths: list[str], index: str, actors: int | None) -> dict:
    """Run in the child: one build as `qa index build [--ray]` does it, timed."""
    from qa.assistant import Assistant
    from qa.config import load_config
    from qa.ray_build import RayOptions

    config = load_config(None, env={}, index_dir=index)
    ray = RayOptions(actors=actors) if actors else None
    t = time.perf_counter()
    assistant, _ = Assistant.build(config, paths, ray=ray)
    return {"seconds": time.perf_counter() - t, "articles": len(assistant.index.articles),
            "chunks": assistant.index.chunk_count, "embedded": assistant.embedded}


def timed(paths: list[str], actors: int | None, work: Path) -> dict:
    """One build in a fresh process (imports and model loads included, as for the CLI)."""
    index = work / "index"
    shutil.rmtree(index, ignore_errors=True)
    before = os.getloadavg()
    t = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--one", json.dumps([paths, str(index), actors])],
                          cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, HF_HUB_OFFLINE="1",
                                                                             TOKENIZERS_PARALLELISM="false"))
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_seconds"] = time.perf_counter() - t
    result["load_before"], result["load_after"] = [round(x, 2) for x in before], [round(x, 2) for x in os.getloadavg()]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=1000, help="articles in the large archive")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--one", help=argparse.SUPPRESS)  # child mode: [paths, index, actors]
    args = parser.parse_args()
    if args.one:
        paths, index, actors = json.loads(args.one)
        print(json.dumps(one_build(paths, index, actors)))
        return
    work = Path(tempfile.mkdtemp(prefix="qa-ray-bench-"))
    try:
        write_articles(work / "large", args.articles)
        archives = {"small": [str(ROOT / "data" / "articles")], "large": [str(work / "large")]}
        runs: dict[str, dict] = {}
        for name, actors in VARIANTS:
            runs[name] = {size: timed(paths, actors, work) for size, paths in archives.items()}
            print(name, json.dumps(runs[name]), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary = {}
    for name, r in runs.items():
        small, large = r["small"], r["large"]
        rate = (large["chunks"] - small["chunks"]) / (large["process_seconds"] - small["process_seconds"])
        summary[name] = {"overhead_s": round(small["process_seconds"], 1), "rate_chunks_per_s": round(rate, 1),
                         "large_s": round(large["process_seconds"], 1),
                         "large_chunks_per_s": round(large["chunks"] / large["process_seconds"], 1)}
    local = summary["local"]
    for name, s in summary.items():
        if name != "local":
            gain = 1 / local["rate_chunks_per_s"] - 1 / s["rate_chunks_per_s"]
            extra = s["overhead_s"] - local["overhead_s"]
            s["ray_pays_from_chunks"] = round(extra / gain) if gain > 0 else None  # None: never, on this machine
    out = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": "python bench/ray_build.py" + (f" --articles {args.articles}" if args.articles != 1000 else ""),
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "python": platform.python_version()},
        "articles_large": args.articles,
        "runs": runs,
        "summary": summary,
    }
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
