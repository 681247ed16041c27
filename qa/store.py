"""Saving and loading an index directory so that a crash never leaves it half-written.

Layout of `index/`:
    manifest.json        the commit point: format version, model, dimension, chunker
                         settings, counts, and the list of live segments, each with its
                         deleted articles and a sha256 per file
    seg-<id>/            one immutable segment (qa/segment.py): vectors.faiss,
                         articles.json, chunks.npy, texts.bin, bm25.npz

A save writes only the segments the folder does not have yet (each file written, flushed
and fsynced, the folder renamed into place), then replaces manifest.json atomically (temp
file, fsync, rename, fsync of the folder). Until that rename the old manifest names the
old, intact segments; after it, the new list. A kill at any moment therefore leaves either
the state before or the state after the save. Segments no longer listed (merged away) are
removed only after the switch. Loading checks every checksum before FAISS or NumPy reads a
byte, and nothing is ever unpickled.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import threading
import time
import uuid
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from qa.config import EMBEDDING_BACKENDS
from qa.errors import IndexCorruptError, IndexMissingError, QAError
from qa.index import FORMAT_VERSION, Index
from qa.segment import FILES as SEGMENT_FILES, OPTIONAL_FILES, Segment
from qa.types import Article, Chunk

MANIFEST = "manifest.json"


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


def save_index(index: Index, directory: str | Path, building: dict | None = None) -> dict[str, Any]:
    """Write the segments of `index` that the folder lacks and switch the manifest to the
    index's segment list. Returns the manifest. `building` marks an unfinished bulk build
    (what it was asked to index), so that a rerun can resume it (`Assistant.build`).

    Segments already in the folder's manifest are not written again: adding one article
    writes one small segment and a manifest, whatever the archive's size.
    """
    directory = Path(directory)
    with write_lock(directory):
        have = _saved_segments(directory)
        written: list[Path] = []
        specs = []
        try:
            for s, (seg, gone) in enumerate(zip(index.segments, index.deleted)):
                files = have.get(seg.name)
                if files is None:
                    files = _write_segment(seg, directory)
                    written.append(directory / seg.name)
                specs.append({"name": seg.name, "deleted": sorted(gone), "articles": index.live_article_count(s), "files": files})
            _fsync_dir(directory)
            manifest = {
                "format_version": FORMAT_VERSION,
                "model": index.model,
                **({"embedding_backend": index.backend} if index.backend else {}),
                "dim": index.dim,
                "chunker": {"max_tokens": index.max_tokens, "overlap_tokens": index.overlap_tokens, "splitter": "sentences"},
                "counts": {"articles": len(index.articles), "chunks": index.chunk_count},
                "segments": specs,
                **({"building": building} if building is not None else {}),
                "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            atomic_write(directory / MANIFEST, json.dumps(manifest, indent=1).encode("utf-8"))
        except OSError as e:
            live = set(_saved_segments(directory))
            for folder in written:
                if folder.name not in live:
                    shutil.rmtree(folder, ignore_errors=True)
            raise QAError(f"could not save the index to {directory}: {e.strerror or e}; the previous index is intact") from e
        _remove_unused(directory, keep={seg.name for seg in index.segments})
        return manifest


def _write_segment(segment: Segment, directory: Path) -> dict[str, dict[str, Any]]:
    """Write one segment folder (files fsynced, then the folder renamed into place); its checksums."""
    tmp = directory / f".{segment.name}.tmp"
    try:
        tmp.mkdir()
        files = {}
        for name, data in segment.file_bytes():
            _write_file(tmp / name, data)
            files[name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
        _fsync_dir(tmp)
        os.rename(tmp, directory / segment.name)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    segment.texts.attach(directory / segment.name / "texts.bin")  # texts leave memory once on disk
    return files


def _saved_segments(directory: Path) -> dict[str, dict[str, Any]]:
    """{segment name: its file checksums} of the folder's current manifest ({} if none or unreadable)."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text("utf-8"))
        if manifest.get("format_version") != FORMAT_VERSION:
            return {}
        return {s["name"]: s["files"] for s in manifest["segments"] if (directory / s["name"]).is_dir()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def _remove_unused(directory: Path, keep: set[str]) -> None:
    """Remove segments no longer listed (merged away, or of an older index) and what killed
    writers left (half-written folders, manifest temp files). Runs under the write lock.

    A process that still answers from an older snapshot keeps reading: its segments hold
    their text files open, and the rest of a segment is in memory.
    """
    for p in directory.iterdir():
        if p.is_dir() and p.name not in keep and p.name.startswith(("seg-", ".seg-", "gen-", ".gen-")):
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
    if manifest.get("format_version") not in (FORMAT_VERSION, LEGACY_VERSION):
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
    if not isinstance(m.get("model"), str) or not isinstance(m.get("dim"), int):
        return "model or dim missing"
    if m.get("embedding_backend") not in (None, *EMBEDDING_BACKENDS):
        return f"unknown embedding_backend {m.get('embedding_backend')!r}"
    chunker = m.get("chunker")
    if not isinstance(chunker, dict) or not all(isinstance(chunker.get(k), int) for k in ("max_tokens", "overlap_tokens")):
        return "chunker settings missing"
    if m["format_version"] == LEGACY_VERSION:
        return _legacy_problem(m)
    segments = m.get("segments")
    if not isinstance(segments, list):
        return "no segment list"
    for spec in segments:
        if not isinstance(spec, dict):
            return "a segment entry is not an object"
        name = spec.get("name")
        if not isinstance(name, str) or not name.startswith("seg-") or "/" in name or "\\" in name or ".." in name:
            return f"segment {name!r} is not a segment folder name"
        if not isinstance(spec.get("deleted"), list) or not all(isinstance(x, str) for x in spec["deleted"]):
            return f"segment {name}: no list of deleted articles"
        files = spec.get("files")
        if not isinstance(files, dict):
            return f"segment {name}: no file checksums"
        for fname in SEGMENT_FILES:
            f = files.get(fname)
            if f is None and fname in OPTIONAL_FILES:
                continue
            if not isinstance(f, dict) or not isinstance(f.get("sha256"), str) or not isinstance(f.get("bytes"), int):
                return f"segment {name}: no checksum for {fname}"
    return None


def load_index(directory: str | Path) -> Index:
    """Load and verify an index folder. Checksums are checked before any file is parsed.

    A writer may switch the manifest and remove a merged segment while this reads it: then
    the read is retried on the new manifest. Segments this process has already loaded from
    the folder are reused, not read again (a segment never changes once written).
    """
    directory = Path(directory)
    for attempt in range(5):
        manifest = read_manifest(directory)
        try:
            if manifest["format_version"] == LEGACY_VERSION:
                return _load_legacy(directory, manifest)
            return _load_segments(directory, manifest)
        except (IndexCorruptError, OSError):
            if attempt == 4 or _manifest_text(directory) == json.dumps(manifest):
                raise
    raise AssertionError("unreachable")


def _manifest_text(directory: Path) -> str | None:
    try:
        return json.dumps(json.loads((directory / MANIFEST).read_text("utf-8")))
    except (OSError, ValueError):
        return None


# Segments loaded by this process: (folder, vectors checksum) -> Segment, while some snapshot uses it.
_LOADED: "weakref.WeakValueDictionary[tuple[str, str], Segment]" = weakref.WeakValueDictionary()
_LOADED_LOCK = threading.Lock()


def _load_segments(directory: Path, manifest: dict[str, Any]) -> Index:
    segments, deleted = [], []
    for spec in manifest["segments"]:
        folder = directory / spec["name"]
        key = (str(folder.resolve()), spec["files"]["vectors.faiss"]["sha256"])
        with _LOADED_LOCK:
            seg = _LOADED.get(key)
        if seg is None:
            check = _Checks(folder, spec["files"], directory)
            try:
                seg = Segment.read(folder, manifest["dim"], with_minhash="minhash.npy" in spec["files"], check=check)
            except (IndexCorruptError, OSError):
                raise  # a checksum failed, or the segment vanished under us (merged away): load_index retries
            except Exception as e:  # any parse failure of checksummed-but-wrong content
                raise _corrupt(f"{folder} is inconsistent ({e})", directory) from e
            finally:
                check.close()
            with _LOADED_LOCK:
                _LOADED[key] = seg
        segments.append(seg)
        deleted.append(frozenset(spec["deleted"]))
    try:
        return Index(model=manifest["model"], dim=manifest["dim"], max_tokens=manifest["chunker"]["max_tokens"],
                     overlap_tokens=manifest["chunker"]["overlap_tokens"], segments=tuple(segments), deleted=tuple(deleted),
                     backend=manifest.get("embedding_backend"))
    except QAError as e:
        raise _corrupt(str(e), directory) from e


# The order in which a segment's files are hashed: what `Segment.read` parses first, first.
_FIRST = ("articles.json", "vectors.faiss", "texts.bin")
_HASH_ORDER = _FIRST + tuple(n for n in SEGMENT_FILES if n not in _FIRST)


class _Checks:
    """Every file of a segment present with its recorded size (checked at once), and its
    sha256 computed by two threads in the background (hashlib runs without the GIL), so that
    `Segment.read` parses one file while the next is hashed. Calling it with a file name
    waits for that file's hash and raises if it does not match the manifest's."""

    def __init__(self, folder: Path, files: dict[str, Any], directory: Path) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.folder, self.files, self.directory = folder, files, directory
        names = [n for n in _HASH_ORDER if n in files]
        if not folder.is_dir():
            raise _corrupt(f"{folder} is missing", directory)
        for name in names:
            path = folder / name
            if not path.exists():
                raise _corrupt(f"{path} is missing", directory)
            if path.stat().st_size != files[name]["bytes"]:
                raise self._mismatch(name)
        self._pool = ThreadPoolExecutor(2)
        self._digests = {n: self._pool.submit(_sha256, folder / n) for n in names}

    def _mismatch(self, name: str) -> IndexCorruptError:
        return _corrupt(f"{self.folder / name} does not match its checksum in {MANIFEST} (truncated or modified)",
                        self.directory)

    def __call__(self, name: str) -> None:
        if self._digests[name].result() != self.files[name]["sha256"]:
            raise self._mismatch(name)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


# --- format 1 (one generation folder), read so that an existing index keeps working -----

LEGACY_VERSION = 1
_LEGACY_FILES = ("vectors.faiss", "articles.json", "chunks.json", "bm25.npz")


def _legacy_problem(m: dict[str, Any]) -> str | None:
    gen = m.get("generation")
    if not isinstance(gen, str) or not gen.startswith("gen-") or "/" in gen or "\\" in gen or ".." in gen:
        return f"generation {gen!r} is not a generation folder name"
    files = m.get("files")
    if not isinstance(files, dict) or not all(isinstance(files.get(n), dict) for n in _LEGACY_FILES):
        return "no file checksums"
    return None


def _load_legacy(directory: Path, manifest: dict[str, Any]) -> Index:
    """A format-1 index as one in-memory segment (its vectors kept, BM25 postings rebuilt);
    the next save writes it in the current format."""
    import faiss

    from qa.config import Config
    from qa.index import embedding_text
    from qa.indexing import segment_name
    from qa.segment import text_hash

    folder = directory / manifest["generation"]
    for name in _LEGACY_FILES:
        path = folder / name
        if not path.exists() or _sha256(path) != manifest["files"][name].get("sha256"):
            raise _corrupt(f"{path} is missing or does not match its checksum in {MANIFEST}", directory)
    try:
        articles = {}
        for d in json.loads((folder / "articles.json").read_text("utf-8")):
            d.pop("checksum", None)
            articles[d["id"]] = Article(**d)
        chunks = [Chunk(article_id=aid, start=s, end=e, text=articles[aid].text[s:e], id=cid)
                  for aid, s, e, cid in json.loads((folder / "chunks.json").read_text("utf-8"))]
        flat = faiss.read_index(str(folder / "vectors.faiss"))
        vectors = flat.reconstruct_n(0, flat.ntotal) if flat.ntotal else np.zeros((0, manifest["dim"]), np.float32)
    except OSError:
        raise
    except Exception as e:
        raise _corrupt(f"{folder} is inconsistent ({e})", directory) from e
    position = {aid: i for i, aid in enumerate(articles)}
    order = sorted(range(len(chunks)), key=lambda i: position[chunks[i].article_id])
    chunks = [chunks[i] for i in order]
    texts = [embedding_text(articles[c.article_id], c) for c in chunks]
    config = Config()
    seg = Segment.build(segment_name(), list(articles.values()), chunks, vectors[order], [text_hash(t) for t in texts],
                        texts, config.ann_min_chunks) if articles else None
    return Index(model=manifest["model"], dim=manifest["dim"], max_tokens=manifest["chunker"]["max_tokens"],
                 overlap_tokens=manifest["chunker"]["overlap_tokens"], segments=(seg,) if seg else ())
