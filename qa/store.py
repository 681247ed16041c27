"""Saving and loading an index directory so that a crash never leaves it half-written.

Layout of `index/`:
    manifest.json        the commit point: format version, model, dimension, chunker
                         settings, counts, the generation folder, and a sha256 per file
    gen-<id>/            one complete generation: vectors.faiss, articles.json,
                         chunks.json, bm25.npz

A save writes a new generation folder (each file written, flushed and fsynced), then
replaces manifest.json atomically (temp file, fsync, rename, fsync of the folder). Until
that rename the old manifest names the old, intact generation; after it, the new one. A
kill at any moment therefore leaves either the state before or the state after the save.
Older generations are removed only after the switch. Loading checks every checksum before
FAISS or NumPy reads a byte, and nothing is ever unpickled.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from qa.bm25 import BM25
from qa.errors import IndexCorruptError, IndexMissingError, QAError
from qa.index import FORMAT_VERSION, Index
from qa.types import Article, Chunk

MANIFEST = "manifest.json"
_FILES = ("vectors.faiss", "articles.json", "chunks.json", "bm25.npz")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so that readers see the old or the new bytes, never a mix."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        _write_file(tmp, data)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@contextmanager
def write_lock(directory: Path) -> Iterator[None]:
    """One writer at a time per index folder, across processes."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def save_index(index: Index, directory: str | Path) -> dict[str, Any]:
    """Write `index` as a new generation and switch the manifest to it. Returns the manifest."""
    directory = Path(directory)
    with write_lock(directory):
        gen = f"gen-{time.time_ns():x}-{uuid.uuid4().hex[:6]}"
        tmp_dir = directory / f".{gen}.tmp"
        try:
            tmp_dir.mkdir()
            _write_generation(index, tmp_dir)
            files = {name: {"sha256": _sha256(tmp_dir / name), "bytes": (tmp_dir / name).stat().st_size} for name in _FILES}
            os.rename(tmp_dir, directory / gen)
            _fsync_dir(directory)
            manifest = {
                "format_version": FORMAT_VERSION,
                "model": index.model,
                "dim": index.dim,
                "chunker": {"max_tokens": index.max_tokens, "overlap_tokens": index.overlap_tokens, "splitter": "sentences"},
                "counts": {"articles": len(index.articles), "chunks": len(index.chunks)},
                "generation": gen,
                "files": files,
                "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            atomic_write(directory / MANIFEST, json.dumps(manifest, indent=2).encode("utf-8"))
        except OSError as e:
            shutil.rmtree(tmp_dir, ignore_errors=True)
            if _current_generation(directory) != gen:
                shutil.rmtree(directory / gen, ignore_errors=True)
            raise QAError(f"could not save the index to {directory}: {e.strerror or e}; the previous index is intact") from e
        _remove_old_generations(directory, keep=gen)
        return manifest


def _write_generation(index: Index, folder: Path) -> None:
    import faiss

    _write_file(folder / "vectors.faiss", faiss.serialize_index(index.faiss).tobytes())
    articles = [a.to_dict() | {"checksum": a.checksum} for a in index.articles.values()]
    _write_file(folder / "articles.json", json.dumps(articles, ensure_ascii=False).encode("utf-8"))
    chunks = [[c.article_id, c.start, c.end, c.id] for c in index.chunks]
    _write_file(folder / "chunks.json", json.dumps(chunks, ensure_ascii=False).encode("utf-8"))
    _write_file(folder / "bm25.npz", index.bm25.to_bytes())


def _current_generation(directory: Path) -> str | None:
    try:
        return json.loads((directory / MANIFEST).read_text("utf-8")).get("generation")
    except (OSError, ValueError):
        return None


def _remove_old_generations(directory: Path, keep: str) -> None:
    """Remove older generations and what killed writers left (half-written folders, manifest temp files).

    Runs under the write lock, so no other writer's temp files are in flight.
    """
    for p in directory.iterdir():
        if p.is_dir() and p.name != keep and (p.name.startswith("gen-") or p.name.startswith(".gen-")):
            shutil.rmtree(p, ignore_errors=True)
        elif p.is_file() and p.name.startswith(f".{MANIFEST}.") and p.name.endswith(".tmp"):
            p.unlink(missing_ok=True)


def _corrupt(problem: str, directory: Path) -> IndexCorruptError:
    """The error for a damaged index: what is wrong, and the command that rebuilds it."""
    return IndexCorruptError(f"{problem}; rebuild with `qa index build --index {directory}`")


def read_manifest(directory: str | Path) -> dict[str, Any]:
    directory = Path(directory)
    path = directory / MANIFEST
    if not path.exists():
        raise IndexMissingError(
            f"no index in {directory}/ (no {MANIFEST}); build one with `qa index build data/articles --index {directory}`"
        )
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as e:
        raise _corrupt(f"{path} is unreadable ({e})", directory) from e
    if not isinstance(manifest, dict):
        raise _corrupt(f"{path} is not a manifest (a JSON object)", directory)
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexCorruptError(
            f"{directory}/ has index format {manifest.get('format_version')!r}; this version reads {FORMAT_VERSION}. "
            f"Rebuild with `qa index build --index {directory}`"
        )
    problem = _manifest_problem(manifest)
    if problem:
        raise _corrupt(f"{path} is damaged ({problem})", directory)
    return manifest


def _manifest_problem(m: dict[str, Any]) -> str | None:
    """What is wrong with a parsed manifest's shape, or None."""
    gen = m.get("generation")
    if not isinstance(gen, str) or not gen.startswith("gen-") or "/" in gen or "\\" in gen or ".." in gen:
        return f"generation {gen!r} is not a generation folder name"
    if not isinstance(m.get("model"), str) or not isinstance(m.get("dim"), int):
        return "model or dim missing"
    chunker = m.get("chunker")
    if not isinstance(chunker, dict) or not all(isinstance(chunker.get(k), int) for k in ("max_tokens", "overlap_tokens")):
        return "chunker settings missing"
    files = m.get("files")
    if not isinstance(files, dict):
        return "no file checksums"
    for name in _FILES:
        spec = files.get(name)
        if not isinstance(spec, dict) or not isinstance(spec.get("sha256"), str) or not isinstance(spec.get("bytes"), int):
            return f"no checksum for {name}"
    return None


def load_index(directory: str | Path) -> Index:
    """Load and verify an index folder. Checksums are checked before any file is parsed.

    A writer may switch the manifest and remove the old generation while this reads it:
    then the read is retried on the new generation.
    """
    directory = Path(directory)
    for attempt in range(5):
        manifest = read_manifest(directory)
        try:
            return _load_generation(directory, manifest)
        except (IndexCorruptError, OSError):
            if attempt == 4 or _current_generation(directory) == manifest["generation"]:
                raise
    raise AssertionError("unreachable")


def _load_generation(directory: Path, manifest: dict[str, Any]) -> Index:
    import faiss

    folder = directory / manifest["generation"]
    for name in _FILES:
        spec = manifest["files"].get(name)
        path = folder / name
        if spec is None or not path.exists():
            raise _corrupt(f"{path} is missing", directory)
        if path.stat().st_size != spec["bytes"] or _sha256(path) != spec["sha256"]:
            raise _corrupt(f"{path} does not match its checksum in {MANIFEST} (truncated or modified)", directory)
    try:
        raw_articles = json.loads((folder / "articles.json").read_text("utf-8"))
        articles = {}
        for d in raw_articles:
            d.pop("checksum", None)
            articles[d["id"]] = Article(**d)
        chunks = tuple(
            Chunk(article_id=aid, start=s, end=e, text=articles[aid].text[s:e], id=cid)
            for aid, s, e, cid in json.loads((folder / "chunks.json").read_text("utf-8"))
        )
        flat = faiss.deserialize_index(np.frombuffer((folder / "vectors.faiss").read_bytes(), dtype=np.uint8))
        vectors = flat.reconstruct_n(0, flat.ntotal) if flat.ntotal else np.zeros((0, manifest["dim"]), np.float32)
        bm25 = BM25.from_bytes((folder / "bm25.npz").read_bytes())
    except OSError:
        raise  # the generation vanished under us (a writer switched): load_index retries
    except Exception as e:  # any parse failure of checksummed-but-wrong content (bad JSON shape, broken zip, ...)
        raise _corrupt(f"{folder} is inconsistent ({e})", directory) from e
    return Index(
        model=manifest["model"], dim=manifest["dim"], max_tokens=manifest["chunker"]["max_tokens"],
        overlap_tokens=manifest["chunker"]["overlap_tokens"], articles=articles, chunks=chunks,
        vectors=np.ascontiguousarray(vectors, dtype=np.float32), bm25=bm25, _faiss=flat,
    )
