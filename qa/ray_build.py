"""Bulk ingestion on a Ray cluster: `qa index build PATHS --ray [ADDRESS]` and `qa index add --ray`.

Why: embedding is nearly all of a build's time, and one machine embeds a few dozen chunks a
second (docs/PERFORMANCE.md, "Encoding"); a cluster embeds on every core it has. Ray is an
optional extra (`pip install -e ".[ray]"`), imported only here and only when asked for.

What runs where (docs/SCALING.md has the measurements):
- Ray Data tasks list the input files, then read, clean and chunk them, `files_per_task` files
  a task, with the local build's own functions (qa/ingest.py `list_files`, `read_listed`;
  qa/chunking.py). The rules that depend on file order (identical text kept once, an id
  used twice refused: qa/ingest.py `collect`) run on the driver, so each file's outcome is
  the local build's.
- An actor pool embeds (`map_batches` with `Embed`, which loads the model once per actor),
  `batch_size` texts a call. Only texts whose vector neither the index being resumed nor the
  index a rebuild replaces holds are sent, each once: a resumed build sends only what its
  committed segments lack.
- The driver commits part after part (`build_batch_articles` articles) as soon as all of a
  part's vectors are back, through the local build's own code (qa/assistant.py
  `Assistant.build`: the same crash-safe commit and resume note). A killed driver leaves the
  index as of its last commit, and a rerun, with Ray or without, resumes from it.

A killed actor is restarted and its batch retried (`max_restarts`, `max_task_retries`), a
killed task is retried (`max_retries`): RETRIES times each, then the build fails.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import socket
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from qa.config import Config
from qa.embed import embedder_for, token_counter
from qa.errors import QAError
from qa.index import Index, embedding_text
from qa.indexing import Prepared
from qa.ingest import FileRead, Ingested, collect
from qa.segment import text_hash
from qa.types import Article, Chunk

INSTALL = 'pip install -e ".[ray]"'
LOCAL = "local"  # `--ray` without an address: start Ray on this machine for the build, stop it after
RETRIES = 3  # a killed task is retried, a killed actor restarted, this many times before the build fails
# bench/ray_build.py (bench/results/ray_build.json, docs/SCALING.md): with --ray a build cost
# ~19 s more before its first vector (Ray's start, the workers' and actors' model loads),
# time in which a build without Ray embeds ~600 chunks on this 2-core machine.
SMALL_ARCHIVE_CHUNKS = 600
# Passed on to the workers of a cluster that was started elsewhere, when set here.
_ENV = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TOKENIZERS_PARALLELISM")


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide a Ray build runs (the defaults are Config's `ray_*` keys)."""

    address: str = LOCAL  # "local", "auto" (the cluster this machine is part of) or HOST:PORT of a head node
    actors: int = Config.ray_actors
    batch_size: int = Config.ray_batch_size
    files_per_task: int = Config.ray_files_per_task

    @classmethod
    def of(cls, config: Config, address: str = LOCAL) -> "RayOptions":
        return cls(address=address, actors=config.ray_actors, batch_size=config.ray_batch_size,
                   files_per_task=config.ray_files_per_task)

    def __post_init__(self) -> None:
        _host_port(self.address)  # raises on a malformed address before anything starts
        for name in ("batch_size", "files_per_task"):
            if getattr(self, name) < 1:
                raise QAError(f"Ray {name} must be at least 1, not {getattr(self, name)}")
        if self.actors < 0:
            raise QAError(f"Ray actors must be 0 (one per CPU) or more, not {self.actors}")


def _host_port(address: str) -> tuple[str, int] | None:
    """(host, port) of a HOST:PORT address; None for "local" and "auto"; QAError otherwise.

    >>> _host_port("127.0.0.1:6379")
    ('127.0.0.1', 6379)
    """
    if address in (LOCAL, "auto"):
        return None
    host, _, port = address.rpartition(":")
    if "://" in address or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise QAError(
            f"--ray {address!r} is not a Ray head node's HOST:PORT (the address `ray start --head` prints, "
            "e.g. 10.0.0.5:6379); give `--ray` alone to start Ray on this machine, or `--ray auto`"
        )
    return host, int(port)


def advice(embedded: int, options: RayOptions) -> str | None:
    """A note for the user after a Ray build that would have been faster without Ray.

    >>> advice(26, RayOptions(address="10.0.0.5:6379"))[:40]
    'note: embedding 26 chunks took less time'
    """
    if embedded < SMALL_ARCHIVE_CHUNKS:
        return (f"note: embedding {embedded} chunks took less time than Ray takes to start its workers; below "
                f"~{SMALL_ARCHIVE_CHUNKS} chunks to embed, the same command without --ray is faster (docs/SCALING.md)")
    if options.address == LOCAL:
        return ("note: Ray ran on this machine only, where a build without --ray embeds faster; --ray pays with "
                "the address of a cluster of several machines (docs/SCALING.md)")
    return None


def _import_ray():
    try:
        import ray
        import ray.data  # noqa: F401  (the extra must bring Ray Data, not only Ray core)
    except ImportError:
        raise QAError(f"--ray needs Ray, an optional extra: run `{INSTALL}`") from None
    return ray


def _connect(options: RayOptions) -> bool:
    """Join the cluster at `options.address`, or start Ray on this machine; a QAError a user
    can act on when there is none. False when this process was connected already (a
    notebook, a test): then it builds on that cluster, whatever the address, and stays connected."""
    ray = _import_ray()
    if ray.is_initialized():
        return False
    where = _host_port(options.address)
    if where is not None:  # fail in seconds with a plain message, not after Ray's own retries
        try:
            socket.create_connection(where, timeout=5).close()
        except OSError as e:
            raise QAError(
                f"no Ray cluster answers at {options.address} ({e.strerror or e}); start one there with "
                f"`ray start --head --port={where[1]}`, or give `--ray` alone to start Ray on this machine"
            ) from None
    env = {k: os.environ[k] for k in _ENV if k in os.environ}
    started = {"include_dashboard": False} if options.address == LOCAL else {}  # only for a Ray started here
    try:
        ray.init(address=options.address, logging_level=logging.WARNING, log_to_driver=False,
                 runtime_env={"env_vars": env} if env else None, **started)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise QAError(f"could not join the Ray cluster at {options.address}: {e}") from None
    return True


def _quiet() -> None:
    """Ray Data's own bars and notes off: the build shows its own bars."""
    import ray.data

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # e.g. "progress bars disabled", on purpose


class RaySource:
    """Articles read, chunked and embedded on a Ray cluster, for `Assistant.build` and
    `Assistant.add_paths` (the `_Source` they take); connected while the `with` lasts."""

    def __init__(self, config: Config, options: RayOptions, progress: bool = False) -> None:
        self.config = config
        self.options = options
        self.progress = progress
        self.chunker = (config.chunk_max_tokens, config.chunk_overlap_tokens)
        self._chunks: dict[str, tuple[Chunk, ...]] = {}
        self._connected = False

    def __enter__(self) -> "RaySource":
        self._connected = _connect(self.options)
        _quiet()
        # The driver needs the model too (its dimension, to check the index): load it while
        # the cluster reads, not after. A failure shows again, as an error, where it is used.
        threading.Thread(target=lambda: embedder_for(self.config).dim, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._connected:
            import ray

            ray.shutdown()  # a Ray started here stops; a cluster joined goes on

    # --- read, clean, chunk: Ray tasks ------------------------------------------------------
    def read(self, paths: Iterable[str | Path]) -> Ingested:
        """The articles of `paths` and one outcome per file, as `ingest_paths` gives them."""
        import ray.data

        if isinstance(paths, (str, Path)):
            paths = [paths]
        roots = [{"root": i, "path": str(Path(p).absolute()), "shown": str(p)} for i, p in enumerate(paths)]
        listed = ray.data.from_items(roots).flat_map(_list_root, max_retries=RETRIES).take_all()
        if not listed:
            return collect([])
        listed.sort(key=lambda r: (r["root"], r["k"]))
        tasks = math.ceil(len(listed) / self.options.files_per_task)
        embedding = (self.config.embedding_model, self.config.embedding_backend, str(self.config.cache_path))
        done = ray.data.from_items(listed, override_num_blocks=tasks).map_batches(
            _read_and_chunk, batch_size=self.options.files_per_task, max_retries=RETRIES,
            fn_kwargs={"embedding": embedding, "chunker": self.chunker,
                       "max_bytes": int(self.config.max_upload_mb * 1024 * 1024)})
        rows: list[tuple[int, int, str]] = []
        with _bar(len(listed), self.progress, "reading on Ray", "file") as bar:
            for batch in done.iter_batches(batch_size=None, batch_format="numpy"):
                rows.extend(zip(batch["root"].tolist(), batch["k"].tolist(), batch["read"].tolist()))
                bar.update(len(batch["k"]))
        rows.sort(key=lambda r: r[:2])
        reads, spans = [], {}
        for *_, text in rows:
            d = json.loads(text)
            articles = tuple(Article(**a) for a in d["articles"])
            reads.append(FileRead(Path(d["path"]), articles, tuple(d["notes"]), d["rejection"]))
            spans.update({(a.id, a.text): s for a, s in zip(articles, d["spans"])})
        ingested = collect(reads)
        self._chunks = {a.id: tuple(Chunk(a.id, s, e, a.text[s:e]) for s, e in spans[(a.id, a.text)])
                        for a in ingested.articles}
        return ingested

    # --- embed: an actor pool ---------------------------------------------------------------
    def prepare(self, parts: Sequence[Sequence[Article]],
                have: Sequence[Index | None]) -> Iterator[tuple[Sequence[Article], Prepared]]:
        """Each part with its chunks and the vectors of the texts `have` lacks, in order, each
        part as soon as its last vector is back (parts of `read`'s articles)."""
        owner: dict[int, int] = {}  # text hash -> the part that needs it first
        rows: list[dict] = []
        for p, part in enumerate(parts):
            texts = [embedding_text(a, c) for a in part for c in self._chunks[a.id]]
            hashes = np.array([text_hash(t) for t in texts], dtype=np.int64)
            held = np.zeros(len(texts), dtype=bool)
            for index in have:
                if index is not None:
                    held |= index.vectors_by_hash(hashes)[0]
            todo: dict[int, str] = {}
            for text, h, known in zip(texts, hashes.tolist(), held.tolist()):
                if not known and h not in owner:
                    owner[h] = p
                    todo[h] = text
            # Texts of like length in one call pad less; parts stay in order, for the commits.
            rows.extend({"hash": h, "text": t} for h, t in sorted(todo.items(), key=lambda x: len(x[1])))
        waiting = [0] * len(parts)
        for p in owner.values():
            waiting[p] += 1
        got: list[dict[int, np.ndarray]] = [{} for _ in parts]
        ready = 0
        for hashes, vectors in (self._embed(rows) if rows else ()):
            for h, v in zip(hashes, vectors):
                p = owner[h]
                if h not in got[p]:  # a retried batch must not count twice
                    got[p][h] = v
                    waiting[p] -= 1
            while ready < len(parts) and waiting[ready] == 0:
                yield parts[ready], self._prepared(parts[ready], got[ready])
                got[ready] = {}
                ready += 1
        for p in range(ready, len(parts)):  # parts with nothing to embed; a missing vector raises in add
            yield parts[p], self._prepared(parts[p], got[p])

    def _prepared(self, part: Sequence[Article], vectors: dict[int, np.ndarray]) -> Prepared:
        return Prepared(chunks={a.id: self._chunks[a.id] for a in part}, vectors=vectors, chunker=self.chunker)

    def _embed(self, rows: list[dict]) -> Iterator[tuple[list[int], np.ndarray]]:
        import ray
        import ray.data

        cpus = int(ray.cluster_resources().get("CPU", 0))
        actors = self.options.actors or max(1, cpus)
        if actors > cpus:
            raise QAError(f"{actors} embedding actors need {actors} CPUs but the Ray cluster has {cpus}; "
                          "ask for fewer actors or add nodes")
        batch = self.options.batch_size
        blocks = math.ceil(len(rows) / batch)
        actors = min(actors, blocks)  # an actor without a batch would load the model for nothing
        embedded = ray.data.from_items(rows, override_num_blocks=blocks).map_batches(
            Embed, batch_size=batch, compute=ray.data.ActorPoolStrategy(size=actors), num_cpus=1,
            fn_constructor_kwargs={"model": self.config.embedding_model, "backend": self.config.embedding_backend,
                                   "cache_dir": str(self.config.cache_path),
                                   "batch_size": self.config.embedding_batch_size},
            max_restarts=RETRIES, max_task_retries=RETRIES)
        with _bar(len(rows), self.progress, f"embedding on {actors} Ray actor{'s' if actors > 1 else ''}",
                  "chunk") as bar:
            for out in embedded.iter_batches(batch_size=None, batch_format="numpy"):
                bar.update(len(out["hash"]))
                yield out["hash"].tolist(), out["vector"]


class Embed:
    """One embedding actor: loads the model once, then embeds batch after batch of texts."""

    def __init__(self, model: str, backend: str, cache_dir: str, batch_size: int) -> None:
        from qa.embed import get_embedder

        self.embedder = get_embedder(model, backend, cache_dir)
        self.embedder.dim  # loads the model now rather than in the first call
        self.batch_size = batch_size

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.embedder.embed([str(t) for t in batch["text"]], batch_size=self.batch_size)
        return {"hash": batch["hash"], "vector": vectors}


def _list_root(row: dict) -> list[dict]:
    """The files under one input path, as the driver's user named them (a Ray task)."""
    from qa.ingest import list_files

    root, shown = Path(row["path"]), row["shown"]
    out = []
    for k, (path, rejection) in enumerate(list_files([root])):
        name = str(Path(shown) / path.relative_to(root))
        out.append({"root": row["root"], "k": k, "path": str(path), "shown": name,
                    "rejection": (rejection or "").replace(str(path), name)})
    return out


def _read_and_chunk(batch: dict[str, np.ndarray], embedding: tuple[str, str, str], chunker: tuple[int, int],
                    max_bytes: int) -> dict[str, np.ndarray]:
    """Read, clean and chunk a batch of files (a Ray task); each file's read as JSON, with
    paths as the user named them, not as this worker opened them."""
    from qa.chunking import chunk_article
    from qa.ingest import read_listed

    count_tokens = _token_counter(*embedding)
    out = []
    for path, shown, rejection in zip(batch["path"].tolist(), batch["shown"].tolist(), batch["rejection"].tolist()):
        read = read_listed(Path(path), rejection or None, max_bytes)
        articles = [dataclasses.replace(a, path=shown) for a in read.articles]
        out.append(json.dumps({
            "path": shown,
            "articles": [a.to_dict() for a in articles],
            "notes": list(read.notes),
            "rejection": read.rejection.replace(path, shown) if read.rejection is not None else None,
            "spans": [[(c.start, c.end) for c in chunk_article(a, count_tokens, *chunker)] for a in articles],
        }))
    return {"root": batch["root"], "k": batch["k"], "read": np.array(out, dtype=object)}


_token_counter = cache(token_counter)  # once per worker process, for all the tasks it runs


def _bar(total: int, show: bool, what: str, unit: str):
    from tqdm import tqdm

    return tqdm(total=total, disable=not show, unit=unit, desc=what, smoothing=0.1)
