"""The one assistant API behind the CLI, the web app and the evaluation.

`ask` runs: follow-up rewrite -> hybrid retrieval -> evidence gate (refuse, or go on) ->
an extractive or generative answer -> verification -> an `Answer` with numbered citations.
`ask_stream` yields the same steps as events so a chat can show them as they happen.

The index is an immutable snapshot held by one reference. Adding or removing articles
builds a new snapshot, saves it (crash-safe), and only then swaps the reference, so a
question running meanwhile never sees a half-built index and a failed save loses nothing.
"""

from __future__ import annotations

import threading
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, ContextManager, Iterable, Iterator, Protocol, Sequence

from qa.answering import answer_events, validate_question
from qa.config import Config
from qa.embed import embedder_for, model_name, query_embedder_for
from qa.errors import ModelMismatchError, QAError
from qa.index import Index
from qa.indexing import Prepared, add_articles, build_index, empty_index, optimize, remove_article, remove_articles
from qa.retrieve import Retriever
from qa.store import MANIFEST, load_index, read_manifest, save_index
from qa.types import Answer, Article, FileOutcome, Filters, Hit, StreamEvent

if TYPE_CHECKING:
    from qa.embed import Embedder
    from qa.ingest import Ingested
    from qa.ray_build import RayOptions


class Assistant:
    def __init__(self, config: Config, index: Index, index_dir: Path | None = None) -> None:
        self.config = config
        self.embedder = embedder_for(config)  # what indexes articles; questions use self.retriever.embedder
        self._index = index
        self._index_dir = index_dir
        self._manifest_mtime = _mtime(index_dir)
        self._write_lock = threading.Lock()
        self._dim_checked = False
        self.embedded = self.reused = 0  # chunks embedded, and chunks that reused a stored vector, by this assistant
        self.retriever = Retriever(self._checked_index, query_embedder_for(config), config)

    # --- construction ------------------------------------------------------------
    @classmethod
    def open(cls, config: Config) -> "Assistant":
        """Load the index in `config.index_dir`; models load on first use."""
        directory = config.index_path
        manifest = read_manifest(directory)
        wanted = model_name(config.embedding_model)
        if manifest["model"] != wanted:
            raise ModelMismatchError(
                f"{directory}/ was built with {manifest['model']} ({manifest['dim']} dims) but the configured "
                f"embedding model is {wanted}; run `qa index build --index {directory}` to rebuild, "
                f"or set embedding_model = \"{manifest['model']}\""
            )
        return cls(config, load_index(directory), directory)

    @classmethod
    def from_articles(cls, articles: Sequence[Article], config: Config, progress: bool = False) -> "Assistant":
        """An in-memory assistant over `articles` (benchmarks, tests); nothing is saved."""
        index = build_index(articles, embedder_for(config), config, progress=progress)
        return cls(config, index, None)

    @classmethod
    def create(cls, config: Config) -> "Assistant":
        """An assistant over a new, empty index in `config.index_dir` (replaced on first save)."""
        return cls(config, empty_index(embedder_for(config), config), config.index_path)

    # --- index ---------------------------------------------------------------------
    def _current_index(self) -> Index:
        """The newest snapshot, without loading any model."""
        self._maybe_reload()
        return self._index

    def _checked_index(self, embedder: "Embedder | None" = None) -> Index:
        """The newest snapshot, once checked against the embedding model's dimension, as
        `embedder` gives it: the one about to be used (loaded anyway), by default the question
        embedder. An add checks with the indexing embedder, so it never loads the other."""
        self._maybe_reload()
        if not self._dim_checked:
            model = embedder or self.retriever.embedder
            if self._index.dim != model.dim:
                raise ModelMismatchError(
                    f"the index holds {self._index.dim}-dim vectors but {model.name} gives "
                    f"{model.dim}; run `qa index build` to rebuild"
                )
            self._dim_checked = True
        return self._index

    def _maybe_reload(self) -> None:
        """Pick up a save made by another process (e.g. `qa index add` while the app runs)."""
        if self._index_dir is None:
            return
        mtime = _mtime(self._index_dir)
        if mtime is not None and mtime != self._manifest_mtime:
            with self._write_lock:
                if _mtime(self._index_dir) != self._manifest_mtime:
                    self._index = load_index(self._index_dir)
                    self._manifest_mtime = _mtime(self._index_dir)

    @property
    def index(self) -> Index:
        return self._current_index()

    def _commit(self, index: Index, building: dict | None = None) -> None:
        if self._index_dir is not None:
            save_index(index, self._index_dir, building)  # raises before the swap if the disk fails
            self._manifest_mtime = _mtime(self._index_dir)
        self._index = index

    def _add(self, articles: Sequence[Article], progress: bool = False, reuse: Index | None = None,
             building: dict | None = None, config: Config | None = None,
             prepared: Prepared | None = None) -> dict[str, str]:
        """Add under the write lock and commit when something changed; the status per article.
        `config` overrides the assistant's for this add (a bulk build defers inverted files);
        `prepared` holds the chunks and vectors a Ray cluster made."""
        with self._write_lock:
            added = add_articles(self._checked_index(self.embedder), articles, self.embedder, config or self.config, progress,
                                 reuse=reuse, prepared=prepared)
            self.embedded += added.embedded
            self.reused += added.reused
            if added.index is not self._index or building is not None:
                self._commit(added.index, building)
        return added.status

    def add_paths(self, paths: Iterable[str | Path], progress: bool = False,
                  ray: "RayOptions | None" = None) -> list[FileOutcome]:
        """Ingest files or folders and add what is new or changed, as one segment; one outcome
        per file. With `ray`, the files are read, chunked and embedded on a Ray cluster."""
        with _source(self.config, ray, progress) as source:
            ingested = source.read(paths)
            ((part, prepared),) = source.prepare([ingested.articles], have=(self._current_index(),))
            status = self._add(part, progress, prepared=prepared)
        return [_with_status(o, status) for o in ingested.outcomes]

    def add_articles(self, articles: Sequence[Article]) -> dict[str, str]:
        return self._add(articles)

    @classmethod
    def build(cls, config: Config, paths: Sequence[str | Path], progress: bool = False,
              ray: "RayOptions | None" = None) -> tuple["Assistant", list[FileOutcome]]:
        """Index `paths` from scratch into `config.index_dir`, replacing what is there.

        Resumable: a segment is committed every `build_batch_articles` articles, with a note in
        the manifest naming the build; killed and run again with the same paths, the build
        keeps what was committed and embeds only the rest. Chunks whose text the replaced
        index already embedded reuse its vectors. The build ends optimized: one segment,
        with an inverted file when it has `ann_min_chunks` chunks.

        With `ray`, a Ray cluster reads, chunks and embeds (qa/ray_build.py); the parts are
        committed here all the same, so a Ray build and a local one resume each other.
        """
        with _source(config, ray, progress) as source:
            ingested = source.read(paths)
            if not ingested.articles:  # nothing readable: the index there stays as it is
                return cls(config, empty_index(embedder_for(config), config), None), list(ingested.outcomes)
            wanted = {"paths": sorted(str(Path(p).resolve()) for p in paths), "articles": len(ingested.articles)}
            old = _previous_index(config)
            resuming = old is not None and old[1] == wanted
            assistant = cls(config, old[0] if resuming else empty_index(embedder_for(config), config),
                            config.index_path)
            reuse = old[0] if old is not None and not resuming else None
            batch = config.build_batch_articles
            parts = [ingested.articles[i:i + batch] for i in range(0, len(ingested.articles), batch)]
            bar = _progress(len(ingested.articles), progress, "embedding")
            status: dict[str, str] = {}
            flat = config.replace(ann_min_chunks=2**62)  # inverted files are trained once, at the end, not per merge
            try:
                for part, prepared in source.prepare(parts, have=(assistant._index, reuse)):
                    status.update(assistant._add(part, reuse=reuse, building=wanted, config=flat, prepared=prepared))
                    bar.update(len(part))
            finally:
                bar.close()
        with assistant._write_lock:
            index = assistant._index
            gone = [aid for aid in index.articles if aid not in status]
            if gone:  # a resumed folder held articles the paths no longer give
                index = remove_articles(index, gone)
            assistant._commit(optimize(index, config))  # one segment; the build's note goes
        return assistant, [_with_status(o, status) for o in ingested.outcomes]

    def optimize(self) -> tuple[int, int]:
        """Merge every segment into one, dropping deleted articles; (segments before, after)."""
        with self._write_lock:
            before = self._current_index()
            after = optimize(before, self.config)
            if after is not before:
                self._commit(after)
            return len(before.segments), len(after.segments)

    def remove(self, article_id: str) -> None:
        with self._write_lock:
            self._commit(remove_article(self._current_index(), article_id))

    def articles(self) -> list[dict]:
        index = self._current_index()
        counts = index.chunk_counts()
        groups = index.wire_groups()
        return [h.to_dict() | {"chunks": counts[h.id], "same_story": [x for x in groups.get(h.id, ()) if x != h.id]}
                for h in index.headers()]

    def stats(self) -> dict:
        index = self._current_index()
        return {
            "index_dir": str(self._index_dir) if self._index_dir else None,
            "articles": len(index.articles), "chunks": index.chunk_count, "segments": len(index.segments),
            "model": index.model, "embedding_backend": index.backend, "dim": index.dim,
            "chunker": {"max_tokens": index.max_tokens, "overlap_tokens": index.overlap_tokens},
        }

    # --- questions -----------------------------------------------------------------
    def warm_up(self) -> None:
        """Load the models a first question needs now (the app calls this in the background):
        the embedder and the answer ranker, and the language model when generative answers
        are the default."""
        self.search("warm up")
        from qa.ranker import load_ranker

        load_ranker(self.config.answer_ranker, self.config.ranker_precision).load()
        if self.config.answer_mode == "generative":
            from qa.generate import load_generator

            load_generator(self.config).load()

    def search(self, query: str, k: int | None = None, filters: Filters | None = None, method: str | None = None) -> list[Hit]:
        return self.retriever.search(query, k=k, filters=filters, method=method)

    def ask_stream(
        self, question: str, history: Sequence[str] = (), filters: Filters | None = None,
        mode: str | None = None, top_k: int | None = None,
    ) -> Iterator[StreamEvent]:
        """Events: "status" lines, "delta" text as it is produced, then one "final" Answer."""
        question = validate_question(question, self.config)  # before any model runs
        mode = mode or self.config.answer_mode
        if mode not in ("extractive", "generative"):
            raise QAError(f"mode must be 'extractive' or 'generative', not {mode!r}")
        if top_k is not None and not 1 <= top_k <= 50:
            raise QAError(f"top_k must be between 1 and 50, not {top_k}")
        yield from answer_events(self, question, list(history), filters, mode, top_k or self.config.top_k)

    def ask(
        self, question: str, history: Sequence[str] = (), filters: Filters | None = None,
        mode: str | None = None, top_k: int | None = None,
    ) -> Answer:
        """Answer `question` from the articles; see `ask_stream`."""
        for event in self.ask_stream(question, history, filters, mode, top_k):
            if event.kind == "final" and event.answer is not None:
                return event.answer
        raise QAError("the answer stream ended without an answer")  # a bug, not a user error


class _Source(Protocol):
    """Where articles are read, chunked and embedded: in this process, or on a Ray cluster."""

    def read(self, paths: Iterable[str | Path]) -> "Ingested": ...

    def prepare(self, parts: Sequence[Sequence[Article]],
                have: Sequence[Index | None]) -> Iterator[tuple[Sequence[Article], Prepared | None]]: ...


class _Local:
    """Read here; `add_articles` chunks and embeds each part here (nothing prepared)."""

    def __init__(self, config: Config) -> None:
        self.max_bytes = int(config.max_upload_mb * 1024 * 1024)

    def read(self, paths: Iterable[str | Path]) -> "Ingested":
        from qa.ingest import ingest_paths

        return ingest_paths(paths, max_bytes=self.max_bytes)

    def prepare(self, parts: Sequence[Sequence[Article]],
                have: Sequence[Index | None]) -> Iterator[tuple[Sequence[Article], Prepared | None]]:
        return ((part, None) for part in parts)


def _source(config: Config, ray: "RayOptions | None", progress: bool) -> ContextManager[_Source]:
    if ray is None:
        return nullcontext(_Local(config))
    from qa.ray_build import RaySource  # Ray itself is imported there, and only on this path

    return RaySource(config, ray, progress)


def _previous_index(config: Config) -> tuple[Index, dict | None] | None:
    """The index in `config.index_dir` and its unfinished build's note, if it can be read and
    was made with the configured model (else None: a rebuild starts from nothing)."""
    from qa.errors import IndexCorruptError, IndexMissingError

    try:
        manifest = read_manifest(config.index_path)
        if manifest["model"] != model_name(config.embedding_model):
            return None
        return load_index(config.index_path), manifest.get("building")
    except (IndexMissingError, IndexCorruptError):
        return None


def _progress(total: int, show: bool, what: str):
    """A tqdm bar with rate and ETA when `show`, else a stand-in that counts nothing."""
    from tqdm import tqdm

    return tqdm(total=total, disable=not show, unit="article", desc=what, smoothing=0.1)


def _mtime(directory: Path | None) -> float | None:
    if directory is None:
        return None
    try:
        return (directory / MANIFEST).stat().st_mtime_ns
    except OSError:
        return None


def _with_status(outcome: FileOutcome, status: dict[str, str]) -> FileOutcome:
    if outcome.status != "read":
        return outcome
    kinds = [status.get(a, "unchanged") for a in outcome.article_ids]
    overall = "added" if "added" in kinds else "updated" if "updated" in kinds else "unchanged"
    return FileOutcome(outcome.path, overall, outcome.message, outcome.article_ids)


__all__ = ["Assistant"]
