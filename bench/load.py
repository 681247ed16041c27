"""Load on the real web app: concurrent sessions, uploads during questions, a full queue, memory.

    .venv/bin/python bench/load.py                      # the full run recorded in docs/RELIABILITY.md
    .venv/bin/python bench/load.py --sessions 4 --per-session 2 --sequential 20   # a quick look

It launches `python app.py --index DIR --port P` as a subprocess (a private copy of the index,
built from data/articles when --index is not given) and talks to it with gradio_client, one
Client per simulated user, through the public `/ask` and `/upload` endpoints:

1. concurrent: N sessions each ask M answerable bundled questions at once; every answer must
   arrive without error and be cited (its [n] markers name citations whose quotes are the
   exact text of the cited article at the cited offsets);
2. uploads: while sessions keep asking, articles are uploaded one by one; every answer must be
   consistent with a complete index, and the index on disk, read over and over meanwhile,
   always loads with as many vectors as chunks and holds the base articles plus a prefix of
   the uploads (before or after each upload, never between);
3. burst: more simultaneous requests than `queue_concurrency + queue_max_size`; the excess
   must be refused at once with gradio_client's "Queue is full" error, the rest answered;
4. sequential: K questions one after another; the server's RSS after the first 10 and after
   all K shows whether memory keeps growing.

Peak RSS is the server's VmHWM from /proc. Results go to bench/results/load.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "eval" / "questions" / "bundled.jsonl"


# ---- the server ----------------------------------------------------------------------


def app_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               QA_CONFIG="/nonexistent/qa.toml")  # ignore any qa.toml in the working tree
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`python app.py` on a free port over `index`; `with Server(...) as s:` waits until it answers."""

    def __init__(self, index: Path, log: Path, **env: str) -> None:
        self.index, self.log, self.env = Path(index), Path(log), env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "Server":
        with open(self.log, "w") as fh:
            self.proc = subprocess.Popen(
                [sys.executable, str(ROOT / "app.py"), "--port", str(self.port), "--index", str(self.index)],
                cwd=ROOT, env=app_env(**self.env), stdout=fh, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"app.py exited with {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                with urllib.request.urlopen(self.url + "/gradio_api/info", timeout=2):
                    return self
            except OSError:
                time.sleep(0.5)
        self.__exit__()
        raise RuntimeError(f"app.py did not answer within 180 s:\n{self.log.read_text()}")

    def __exit__(self, *exc: Any) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)

    def memory_mb(self) -> dict[str, float]:
        """Current (VmRSS) and peak (VmHWM) resident memory of the server process, in MB."""
        out = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out["rss_mb" if key == "VmRSS" else "peak_rss_mb"] = round(int(value.split()[0]) / 1024, 1)
        return out


def client(url: str):
    from gradio_client import Client

    return Client(url, verbose=False)


def ask(c, question: str, mode: str = "extractive", top_k: int = 5) -> dict[str, Any]:
    return c.predict(question, [], mode, top_k, api_name="/ask")


def upload(c, path: Path) -> list[dict[str, Any]]:
    from gradio_client import handle_file

    return c.predict([handle_file(str(path))], api_name="/upload")


# ---- what a consistent answer is -------------------------------------------------------


def inconsistencies(answer: dict[str, Any], texts: dict[str, str]) -> list[str]:
    """Why `answer` could not have come from a complete index whose article texts are `texts`
    (articles are only ever added here, so the final index holds every article ever cited)."""
    problems = []
    numbers = {c["n"] for c in answer["citations"]}
    for n in {int(n) for n in re.findall(r"\[(\d+)\]", answer["answer"])} - numbers:
        problems.append(f"[{n}] has no citation")
    for c in list(answer["citations"]) + list(answer["closest"]):
        text = texts.get(c["source"])
        if text is None:
            problems.append(f"cites {c['source']}, which is not in the index")
        elif text[c["start"]:c["end"]] != c["quote"]:
            problems.append(f"[{c['n']}] quote is not {c['source']}[{c['start']}:{c['end']}]")
    if not answer["refused"] and not answer["citations"]:
        problems.append("an answer without citations")
    return problems


def article_texts(index: Path) -> dict[str, str]:
    from qa.store import load_index

    return {a.id: a.text for a in load_index(index).articles.values()}


# ---- the phases --------------------------------------------------------------------------


def answerable_questions() -> list[str]:
    rows = [json.loads(line) for line in QUESTIONS.open(encoding="utf-8")]
    return [r["question"] for r in rows if r.get("answerable", True)]


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    if not values:
        return float("nan")
    i = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[i]


def concurrent_sessions(url: str, sessions: int, per_session: int, questions: list[str],
                        until: Callable[[], bool] | None = None) -> dict[str, Any]:
    """`sessions` threads, each with its own Client, ask `per_session` questions (or keep asking
    until `until()` is true); returns every answer, latency and error."""
    answers: list[dict] = []
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(sessions)

    def session(i: int) -> None:
        try:
            c = client(url)
        except Exception as e:
            with lock:
                errors.append(f"session {i}: connect: {type(e).__name__}: {e}")
            start.abort()
            return
        try:
            start.wait(timeout=120)
        except threading.BrokenBarrierError:
            pass
        j = 0
        while (j < per_session) if until is None else not until() or j < per_session:
            q = questions[(i * per_session + j) % len(questions)]
            t = time.perf_counter()
            try:
                d = ask(c, q)
                with lock:
                    latencies.append(time.perf_counter() - t)
                    answers.append(d)
            except Exception as e:
                with lock:
                    errors.append(f"session {i} {q!r}: {type(e).__name__}: {e}")
            j += 1

    threads = [threading.Thread(target=session, args=(i,)) for i in range(sessions)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"answers": answers, "latencies": latencies, "errors": errors, "wall_s": time.perf_counter() - t0}


def summary(run: dict[str, Any], texts: dict[str, str]) -> dict[str, Any]:
    lat = run["latencies"]
    bad = [(a["question"], p) for a in run["answers"] for p in inconsistencies(a, texts)]
    return {
        "requests": len(run["answers"]) + len(run["errors"]), "errors": len(run["errors"]),
        "error_samples": run["errors"][:5], "answered": sum(not a["refused"] for a in run["answers"]),
        "refused": sum(a["refused"] for a in run["answers"]),
        "cited": sum(bool(a["citations"]) for a in run["answers"]),
        "inconsistent": len(bad), "inconsistent_samples": bad[:5],
        "latency_s": {"p50": round(percentile(lat, 50), 3), "p95": round(percentile(lat, 95), 3),
                      "max": round(max(lat), 3) if lat else None},
        "wall_s": round(run["wall_s"], 2),
        "throughput_qps": round(len(lat) / run["wall_s"], 2) if run["wall_s"] else None,
    }


NEW_ARTICLE = ("{town} water report\n\nThe town of {town} has {n} public water fountains, the council said on "
               "Monday. {town} plans to add more fountains next year.\n")
TOWNS = ["Brackenholt", "Corrowby", "Dunmarsh", "Elvenstow", "Fennick", "Gorsefield", "Hollowmere", "Ivybridge"]


def uploads_during_questions(server: Server, folder: Path, uploads: int, sessions: int) -> dict[str, Any]:
    """Upload `uploads` new articles one by one while `sessions` clients keep asking (about the
    bundled articles and the new ones) and a reader keeps loading the index from disk."""
    from qa.errors import QAError
    from qa.store import load_index

    folder.mkdir(parents=True, exist_ok=True)
    base = set(article_texts(server.index))
    towns = TOWNS[:uploads]
    files = []
    for i, town in enumerate(towns):
        f = folder / f"{town.lower()}_water.txt"
        f.write_text(NEW_ARTICLE.format(town=town, n=100 + i), encoding="utf-8")
        files.append(f)
    order = [f.name for f in files]
    done = threading.Event()
    disk = {"loads": 0, "retried": 0, "bad": []}

    def reader() -> None:  # another process's view of the index while the app writes it
        while not done.is_set():
            try:
                idx = load_index(server.index)
            except (QAError, OSError) as e:  # the generation named by the manifest removed while reading
                disk["retried"] += 1
                disk["retry_reason"] = str(e)
                continue
            disk["loads"] += 1
            ids = set(idx.articles)
            new = [a for a in order if a in ids]
            if ids != base | set(new) or new != order[:len(new)] or len(idx.vectors) != len(idx.chunks):
                disk["bad"].append(f"{len(ids)} articles, {len(idx.vectors)} vectors, {len(idx.chunks)} chunks")

    outcomes: list[Any] = []

    def uploader() -> None:
        c = client(server.url)
        time.sleep(1.0)  # let the askers start first
        for f in files:
            try:
                outcomes.append(upload(c, f))
            except Exception as e:
                outcomes.append(f"{type(e).__name__}: {e}")
        done.set()

    about = {f"How many public water fountains does {t} have?": f.name for t, f in zip(towns, files)}
    questions = [q for pair in zip(answerable_questions(), list(about) * 20) for q in pair]
    threads = [threading.Thread(target=reader), threading.Thread(target=uploader)]
    for t in threads:
        t.start()
    run = concurrent_sessions(server.url, sessions, 2, questions, until=done.is_set)
    for t in threads:
        t.join()
    texts = article_texts(server.index)
    out = summary(run, texts)
    about_new = [a for a in run["answers"] if a["question"] in about]
    wrong_source = [a["question"] for a in about_new if not a["refused"]
                    and a["citations"][0]["source"] != about[a["question"]]]
    out.update({
        "uploads": len(files), "upload_outcomes": outcomes,
        "uploads_added": sum(isinstance(o, list) and o and o[0]["status"] == "added" for o in outcomes),
        "questions_about_new_articles": len(about_new),
        "answered_from_new_articles": sum(not a["refused"] for a in about_new),
        "new_article_answers_citing_the_wrong_article": wrong_source,
        "disk_loads": disk["loads"], "disk_load_retries": disk["retried"], "disk_inconsistent": disk["bad"],
        "disk_retry_reason": disk.get("retry_reason"),
        "final_articles": len(texts),
    })
    return out


def burst(url: str, n: int) -> dict[str, Any]:
    """`n` requests at the same instant from `n` clients: how many are answered, how many are told
    the queue is full, how quickly, and whether any hangs (no answer within 120 s)."""
    from concurrent.futures import TimeoutError as FutureTimeout

    clients = [client(url) for _ in range(n)]
    q = answerable_questions()[0]
    results: list[tuple[str, float, str]] = []
    lock = threading.Lock()
    go = threading.Barrier(n)

    def one(c) -> None:
        go.wait()
        t = time.perf_counter()
        try:
            job = c.submit(q, [], "extractive", 20, api_name="/ask")
            job.result(timeout=120)
            kind, msg = "answered", ""
        except FutureTimeout:
            kind, msg = "hung", "no answer within 120 s"
        except Exception as e:
            kind = "busy" if "queue is full" in str(e).lower() else "error"
            msg = f"{type(e).__name__}: {e}"
        with lock:
            results.append((kind, time.perf_counter() - t, msg))

    threads = [threading.Thread(target=one, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    kinds = [k for k, _, _ in results]
    busy_s = [s for k, s, _ in results if k == "busy"]
    return {
        "requests": n, "answered": kinds.count("answered"), "busy": kinds.count("busy"),
        "errors": kinds.count("error"), "hung": kinds.count("hung"),
        "busy_message": next((m for k, _, m in results if k == "busy"), None),
        "other_messages": sorted({m for k, _, m in results if k in ("error", "hung")})[:5],
        "slowest_busy_reply_s": round(max(busy_s), 3) if busy_s else None,
    }


def sequential(server: Server, n: int, questions: list[str], texts: dict[str, str]) -> dict[str, Any]:
    c = client(server.url)
    memory, lat, errors, bad = [], [], [], 0
    for i in range(n):
        t = time.perf_counter()
        try:
            d = ask(c, questions[i % len(questions)])
            bad += bool(inconsistencies(d, texts))
        except Exception as e:
            errors.append(f"{type(e).__name__}: {e}")
        lat.append(time.perf_counter() - t)
        if i + 1 in (10, 50, 100) or (i + 1) % 100 == 0 or i + 1 == n:
            memory.append({"after": i + 1, **server.memory_mb()})
    return {"questions": n, "errors": len(errors), "error_samples": errors[:5], "inconsistent": bad,
            "latency_s": {"p50": round(percentile(lat, 50), 3), "p95": round(percentile(lat, 95), 3)},
            "memory": memory,
            "rss_after_10_mb": memory[0]["rss_mb"], f"rss_after_{n}_mb": memory[-1]["rss_mb"],
            "growth_mb": round(memory[-1]["rss_mb"] - memory[0]["rss_mb"], 1)}


# ---- main ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--index", help="index to copy (default: build one from data/articles)")
    p.add_argument("--sessions", type=int, default=16)
    p.add_argument("--per-session", type=int, default=5)
    p.add_argument("--uploads", type=int, default=4)
    p.add_argument("--sequential", type=int, default=500)
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "load.json"))
    args = p.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="qa-load-") as tmp:
        tmp = Path(tmp)
        index = tmp / "index"
        if args.index:
            shutil.copytree(args.index, index)
        else:
            subprocess.run([str(Path(sys.executable).parent / "qa"), "index", "build", str(ROOT / "data/articles"),
                            "--index", str(index)], env=app_env(), check=True, capture_output=True)
        from qa.config import Config

        cfg = Config()
        result: dict[str, Any] = {
            "command": "python bench/load.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
            "config": {"queue_concurrency": cfg.queue_concurrency, "queue_max_size": cfg.queue_max_size,
                       "answer_mode": "extractive", "top_k": cfg.top_k},
        }
        with Server(index, tmp / "app.log") as server:
            questions = answerable_questions()
            texts = article_texts(index)
            ask(client(server.url), questions[0])  # the models load on the first question, not in the timing
            result["memory_after_first_question"] = server.memory_mb()
            print(f"concurrent: {args.sessions} sessions x {args.per_session} questions", flush=True)
            run = concurrent_sessions(server.url, args.sessions, args.per_session, questions)
            result["concurrent"] = {"sessions": args.sessions, "per_session": args.per_session,
                                    **summary(run, texts), **server.memory_mb()}
            print(json.dumps(result["concurrent"]), flush=True)
            print(f"uploads: {args.uploads} during questions", flush=True)
            result["uploads_during_questions"] = uploads_during_questions(server, tmp / "new", args.uploads, 4)
            print(json.dumps(result["uploads_during_questions"])[:1500], flush=True)
            n = cfg.queue_concurrency + cfg.queue_max_size + 16
            print(f"burst: {n} at once", flush=True)
            result["burst"] = burst(server.url, n)
            print(json.dumps(result["burst"]), flush=True)
            print(f"sequential: {args.sequential}", flush=True)
            texts = article_texts(index)
            result["sequential"] = sequential(server, args.sequential, questions, texts)
            result["peak_rss_mb"] = server.memory_mb()["peak_rss_mb"]
            print(json.dumps(result["sequential"]), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    ok = (result["concurrent"]["errors"] == 0 and result["concurrent"]["inconsistent"] == 0
          and result["uploads_during_questions"]["errors"] == 0 and result["uploads_during_questions"]["inconsistent"] == 0
          and not result["uploads_during_questions"]["disk_inconsistent"] and result["burst"]["hung"] == 0
          and result["burst"]["errors"] == 0 and result["sequential"]["errors"] == 0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
