"""A writer to kill: adds small made-up articles to an index and saves, in a loop.

Used by tests/test_crash.py. Loading torch and MiniLM takes seconds, far longer than the
writes we want to interrupt, so this is a fork server: the parent loads the embedding
model once, then for each `run` command forks a child that opens the index from disk
(exactly as a fresh process would), prints `ready <pid>`, and adds one article per save
until it is killed (or has made `max_saves` saves). The caller SIGKILLs the child, never
the parent.

Embedding one short text costs ~250 ms on 2 CPU cores against ~15 ms for the save itself,
so random kills would nearly all land inside the model. The parent therefore embeds a
pool of POOL article texts once, with the real MiniLM, and the children look their
vectors up (`PooledEmbedder`): chunking, BM25, FAISS, the save and the manifest switch
all run for real, and a kill lands in them about half the time. Children run no torch
code at all, which also keeps clear of OpenMP thread pools across fork().

Commit log (one line per event, flushed and fsynced before moving on):
    begin <article id>     before `Assistant.add_articles` starts embedding and saving
    commit <article id>    after it returned, i.e. after the manifest rename
After a kill the index must hold every committed id, plus at most the one begun last.

Protocol on stdin/stdout (one line each):
    -> run <prefix> [max_saves]        <- child <pid>, ready <pid>, exited <pid> <status>
    -> quit
Run by hand: `python bench/crash_writer.py --index DIR --log FILE`, then type `run a 5`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

POOL = 40  # distinct article texts; ids are unique per save, texts repeat every POOL saves
_WORDS = ("harbour", "council", "bridge", "festival", "orchard", "tramway", "library", "glacier", "ferry", "quarry")


def made_up_article(article_id: str, n: int):
    """A short news-like article; the text depends on n % POOL."""
    from qa.types import Article

    n = n % POOL
    a, b = _WORDS[n % len(_WORDS)], _WORDS[(n * 7 + 3) % len(_WORDS)]
    text = (
        f"The {a} of Velmora reopened on Tuesday after {n + 3} weeks of repairs, the town council said. "
        f"Officials said the {b} project cost {1000 + 37 * n} thalers and drew {n * 11 + 5} visitors.\n\n"
        f"Residents welcomed the news. Velmora item number {n} was filed by the local desk."
    )
    return Article(id=article_id, text=text, title=f"Velmora {a} reopens ({n})", date="2024-05-14", publisher="Velmora Post")


class PooledEmbedder:
    """The real embedder, with the vectors of the pool's chunks computed up front."""

    def __init__(self, real, config) -> None:
        from qa.chunking import chunk_article
        from qa.index import embedding_text

        self.real, self.name, self.backend = real, real.name, real.backend
        texts = []
        for n in range(POOL):
            a = made_up_article(f"pool-{n}", n)
            chunks = chunk_article(a, real.count_tokens, config.chunk_max_tokens, config.chunk_overlap_tokens)
            texts.extend(embedding_text(a, c) for c in chunks)
        self.vectors = dict(zip(texts, real.embed(texts)))
        self.dim, self.max_tokens = real.dim, real.max_tokens

    def count_tokens(self, texts):
        return self.real.count_tokens(texts)

    def embed(self, texts, batch_size: int = 32, progress: bool = False):
        import numpy as np

        missing = [t for t in texts if t not in self.vectors]
        if missing:  # the children must not run torch after fork()
            raise RuntimeError(f"text not in the embedding pool: {missing[0][:60]!r}")
        return np.stack([self.vectors[t] for t in texts]).astype(np.float32) if texts else np.zeros((0, self.dim), np.float32)


def _log(fh, line: str) -> None:
    fh.write(line + "\n")
    fh.flush()
    os.fsync(fh.fileno())


def child(index_dir: Path, log_path: Path, prefix: str, max_saves: int, embedder: PooledEmbedder) -> None:
    """Open the index from disk and add one article per save, logging each commit."""
    from qa.assistant import Assistant
    from qa.config import Config

    assistant = Assistant.open(Config(index_dir=str(index_dir)))
    assistant.embedder = embedder
    start = len(assistant.index.articles)
    with open(log_path, "a", encoding="utf-8") as log:
        print(f"ready {os.getpid()}", flush=True)
        for i in range(max_saves):
            article_id = f"{prefix}-{i:04d}.txt"
            _log(log, f"begin {article_id}")
            status = assistant.add_articles([made_up_article(article_id, start + i)])
            if status.get(article_id) != "added":
                raise SystemExit(f"{article_id} was not added: {status}")
            _log(log, f"commit {article_id}")


def serve(index_dir: Path, log_path: Path) -> int:
    from qa.config import Config
    from qa.embed import get_embedder

    embedder = PooledEmbedder(get_embedder(""), Config())
    print("loaded", flush=True)
    for line in sys.stdin:
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "quit":
            return 0
        if parts[0] != "run" or len(parts) not in (2, 3):
            print(f"error unknown command {line.strip()!r}", flush=True)
            continue
        max_saves = int(parts[2]) if len(parts) == 3 else 1_000_000
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                child(index_dir, log_path, parts[1], max_saves, embedder)
            except BaseException as e:  # report, then leave without running the parent's cleanup
                print(f"failed {os.getpid()} {type(e).__name__}: {e}", flush=True)
                code = 1
            finally:
                sys.stdout.flush()
                os._exit(code)
        print(f"child {pid}", flush=True)
        _, status = os.waitpid(pid, 0)
        how = f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"code {os.WEXITSTATUS(status)}"
        print(f"exited {pid} {how}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--index", required=True, help="index folder (must already hold an index)")
    p.add_argument("--log", required=True, help="commit log to append to")
    args = p.parse_args(argv)
    return serve(Path(args.index), Path(args.log))


if __name__ == "__main__":
    sys.exit(main())
