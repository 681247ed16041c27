"""The sentence embedder on ONNX Runtime: fp32 ("onnx") or int8 ("onnx-int8").

Why: encoding is most of the time `qa index build` spends on an archive, and on a 2-core
CPU an int8 graph runs the same model faster than torch (bench/encoder.py measures by how
much, and what it costs in retrieval quality; docs/PERFORMANCE.md has the numbers).

Decisions:
- The graph is exported here with `torch.onnx.export` (the TorchScript exporter) and
  quantized with `onnxruntime.quantization.quantize_dynamic`. optimum-onnx, which
  sentence-transformers' own ONNX backend needs, requires transformers < 4.58 and this
  project pins 5.23, so it cannot be installed next to it.
- The exported graph is the transformer plus the model's pooling (mean or CLS, as its
  sentence-transformers Pooling module says); the L2 normalisation is done in numpy, as
  the torch path's `normalize_embeddings=True` does, so both give unit vectors.
- int8 is dynamic quantization: weights int8 per output channel, activations uint8 with a
  scale computed per batch at run time. It needs no calibration data; it is the recipe of
  sentence-transformers' "avx2" preset (this machine has AVX2 and no VNNI).
- Built once per model into `<cache_dir>/onnx/<model>/` (both graphs and the tokenizer),
  written to a temporary folder and renamed into place, so a killed export never leaves a
  half-written graph that a later start would load. The model package in site-packages is
  only read. A `qa-source.json` records what the folder was exported from; when the model
  files change the folder is exported again.
- Every export is checked against torch on sentences of different lengths and batch
  sizes (cosine >= 0.999 for fp32, >= 0.95 for int8); a graph that fails is not kept.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from qa.errors import QAError

ONNX_BACKENDS = {"onnx": "model.onnx", "onnx-int8": "model_int8.onnx"}  # backend -> graph file
_MARKER = "qa-source.json"
_FORMAT = 1  # bump when the exported graph changes, so old cache folders are rebuilt
_MIN_COSINE = {"onnx": 0.999, "onnx-int8": 0.95}  # the export check, per graph
# Different lengths (one word to several sentences) so a graph traced on one shape is
# shown to work on others.
_CHECK_TEXTS = (
    "Rates rose.",
    "The central bank raised its main interest rate by half a point on Tuesday, the largest increase in two decades.",
    "Flooding closed the coastal road for a second day. Officials said repairs would take at least a week, "
    "and residents were told to avoid the area while crews cleared debris and inspected the bridge.",
)


def cache_folder(cache_dir: str | Path, name: str) -> Path:
    """Where the graphs of model `name` are kept.

    >>> cache_folder("/tmp/qa", "sentence-transformers/all-MiniLM-L6-v2").as_posix()
    '/tmp/qa/onnx/sentence-transformers--all-MiniLM-L6-v2'
    """
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name.replace("/", "--")).strip("-.") or "model"
    return Path(cache_dir).expanduser() / "onnx" / slug


def _signature(source: str) -> dict[str, object]:
    """What the export depends on: the model files (name, size, mtime) or the hub id."""
    path = Path(source)
    files = {}
    if path.is_dir():
        for f in sorted(path.rglob("*")):
            if f.is_file() and not f.name.startswith("."):
                st = f.stat()
                files[f.relative_to(path).as_posix()] = [st.st_size, int(st.st_mtime)]
    return {"format": _FORMAT, "source": str(path.resolve()) if path.is_dir() else source, "files": files}


class OnnxEmbedder:
    """The Embedder protocol on ONNX Runtime; the graph is exported on first use if needed."""

    def __init__(self, spec: str, backend: str, cache_dir: str | Path) -> None:
        from qa.embed import model_name

        if backend not in ONNX_BACKENDS:
            raise QAError(f"OnnxEmbedder backend must be one of {', '.join(ONNX_BACKENDS)}, not {backend!r}")
        self.name = model_name(spec)
        self.backend = backend  # what the index manifest records next to the model name
        self._spec = spec
        self.folder = cache_folder(cache_dir, self.name)
        self._session = None
        self._tokenizer = None
        self._meta: dict = {}
        self._lock = threading.Lock()

    # --- loading -----------------------------------------------------------------------
    def _load(self) -> None:
        if self._session is not None:
            return
        with self._lock:
            if self._session is not None:
                return
            try:
                import onnxruntime as ort
                from transformers import AutoTokenizer
            except ImportError as e:
                raise QAError(
                    f"embedding_backend {self.backend!r} needs the onnxruntime package ({e}); run `make install`, "
                    "or set embedding_backend = \"torch\""
                ) from None
            from qa.embed import model_source

            source = model_source(self._spec)
            signature = _signature(source)
            if _read_marker(self.folder) != signature:
                export(source, self.folder, signature)
            meta = json.loads((self.folder / _MARKER).read_text(encoding="utf-8"))
            opts = ort.SessionOptions()
            # As many threads as torch uses (one per core the process may run on); no
            # inter-op pool: a BERT graph is one chain of operators. Idle threads sleep
            # instead of spinning: on 2 shared cores a spinning pool slows whatever else
            # runs (the answer ranker, a second question), and with other load on the
            # machine it nearly halved this backend's own throughput (measured: 17 vs 31
            # chunks/s, one text per call).
            opts.intra_op_num_threads = _cores()
            opts.inter_op_num_threads = 1
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            try:
                self._tokenizer = AutoTokenizer.from_pretrained(str(self.folder))
                session = ort.InferenceSession(
                    str(self.folder / ONNX_BACKENDS[self.backend]), opts, providers=["CPUExecutionProvider"]
                )
            except Exception as e:  # a damaged cache folder: the user can delete it
                raise QAError(
                    f"cannot load the ONNX embedder in {self.folder}: {e}. Delete that folder to export it again"
                ) from e
            self._meta = meta
            self._session = session

    # --- the Embedder protocol -----------------------------------------------------------
    @property
    def dim(self) -> int:
        self._load()
        return int(self._meta["dim"])

    @property
    def max_tokens(self) -> int:
        """Word pieces the model reads before truncating, less [CLS] and [SEP]."""
        self._load()
        return int(self._meta["max_seq_length"]) - 2

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        self._load()
        enc = self._tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]
        return [len(ids) for ids in enc]

    def embed(self, texts: Sequence[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text, in the order given.

        Each text runs on its own; `batch_size` is accepted for the protocol and unused.
        Dynamic int8 quantization picks one activation scale per call, so in a shared
        batch a text's vector would depend on its batchmates and their padding (cosine
        0.985 to the same text run alone, measured); alone, a text always gets the same
        vector, at index time or in a later `qa index add`, and no work goes to padding.
        bench/encoder.py measures that this is not slower than batches of 32.
        """
        self._load()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        from tqdm import tqdm

        ids = self._tokenizer(list(texts), truncation=True, max_length=int(self._meta["max_seq_length"]),
                              verbose=False)["input_ids"]
        out = np.empty((len(ids), self.dim), dtype=np.float32)
        for i, row in enumerate(tqdm(ids, desc="embed", unit="text", disable=not progress)):
            tokens = np.asarray([row], dtype=np.int64)
            out[i] = self._session.run(None, {"input_ids": tokens, "attention_mask": np.ones_like(tokens)})[0][0]
        return _unit(out)

    def embed_padded(self, texts: Sequence[str]) -> np.ndarray:
        """`texts` as one padded batch in one call (what `embed` avoids; bench/encoder.py
        compares the two)."""
        self._load()
        enc = self._tokenizer(list(texts), padding=True, truncation=True,
                              max_length=int(self._meta["max_seq_length"]), return_tensors="np")
        return _unit(self._session.run(None, {k: enc[k].astype(np.int64) for k in ("input_ids", "attention_mask")})[0])


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS has no sched_getaffinity
        return max(1, os.cpu_count() or 1)


def _read_marker(folder: Path) -> dict | None:
    try:
        meta = json.loads((folder / _MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not all((folder / f).is_file() for f in ONNX_BACKENDS.values()):
        return None
    return meta.get("signature")


# --- export ------------------------------------------------------------------------------

def export(source: str, folder: Path, signature: dict[str, object]) -> None:
    """Export `source` (a sentence-transformers folder or id) to `folder`: model.onnx
    (fp32), model_int8.onnx, the tokenizer and qa-source.json. Atomic: built in a
    temporary sibling folder, checked, then renamed into place."""
    tmp = folder.parent / f".{folder.name}.tmp-{os.getpid()}-{threading.get_ident()}"
    old = folder.parent / f".{folder.name}.old-{os.getpid()}-{threading.get_ident()}"
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        meta = _export_into(source, tmp)
        meta["signature"] = signature
        (tmp / _MARKER).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        if _read_marker(folder) == signature:
            return  # another process finished the same export first: keep its folder
        if folder.exists():
            folder.rename(old)  # a stale export (the model files changed)
        tmp.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
    except OSError as e:
        raise QAError(
            f"cannot write the ONNX embedder to {folder}: {e}. Set cache_dir to a writable folder, "
            "or set embedding_backend = \"torch\""
        ) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _export_into(source: str, out: Path) -> dict:
    import logging

    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from qa.embed import load_sentence_transformer

    st = load_sentence_transformer(source)
    modules = list(st)
    kinds = [type(m).__name__ for m in modules]
    pooling = getattr(modules[1], "pooling_mode", None) if len(modules) > 1 else None
    if kinds[:2] != ["Transformer", "Pooling"] or kinds[2:] not in ([], ["Normalize"]) or pooling not in ("mean", "cls"):
        raise QAError(
            f"the onnx backends export models made of a transformer and mean or CLS pooling; {source} is "
            f"{' + '.join(kinds)} (pooling {pooling!r}). Set embedding_backend = \"torch\" for this model"
        )
    model = modules[0].auto_model.eval()
    token_types = "token_type_ids" in st.tokenizer.model_input_names
    wrapper = _pooled(model, pooling, token_types)
    sample = st.tokenizer(list(_CHECK_TEXTS[:2]), padding=True, return_tensors="pt")
    args = (sample["input_ids"], sample["attention_mask"])
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer warnings about Python control flow on shapes
            torch.onnx.export(
                wrapper, args, str(out / ONNX_BACKENDS["onnx"]), dynamo=False, opset_version=17,
                input_names=["input_ids", "attention_mask"], output_names=["sentence_embedding"],
                dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                              "sentence_embedding": {0: "batch"}},
            )
        quiet = logging.getLogger()
        level = quiet.level
        quiet.setLevel(logging.ERROR)  # "consider pre-processing" advice printed on every run
        try:
            quantize_dynamic(
                out / ONNX_BACKENDS["onnx"], out / ONNX_BACKENDS["onnx-int8"], weight_type=QuantType.QInt8,
                per_channel=True, extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            )
        finally:
            quiet.setLevel(level)
    except Exception as e:  # the exporter and quantizer raise many types; the user needs one message
        raise QAError(
            f"exporting {source} to ONNX failed: {type(e).__name__}: {e}. Set embedding_backend = \"torch\""
        ) from e
    st.tokenizer.save_pretrained(str(out))
    checks = _check(st, out)
    return {"dim": int(st.get_embedding_dimension()), "max_seq_length": int(st.max_seq_length),
            "pooling": pooling, "check_min_cosine": checks,
            "quantization": "dynamic, weights int8 per channel, activations uint8 (onnxruntime quantize_dynamic)",
            "versions": {"torch": torch.__version__, "onnx": onnx.__version__, "onnxruntime": _ort_version()}}


def _ort_version() -> str:
    import onnxruntime

    return onnxruntime.__version__


def _check(st, out: Path) -> dict[str, float]:
    """Cosine of each graph's vectors to torch's, batched as 3 texts and as 1 (shapes the
    trace did not see); raises QAError when a graph is below its bound."""
    import onnxruntime as ort

    texts = list(_CHECK_TEXTS)
    ref = st.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    found = {}
    for backend, file in ONNX_BACKENDS.items():
        session = ort.InferenceSession(str(out / file), providers=["CPUExecutionProvider"])
        rows = []
        for batch in (texts, texts[1:2]):
            enc = st.tokenizer(batch, padding=True, return_tensors="np")
            rows.append(session.run(None, {k: enc[k].astype(np.int64) for k in ("input_ids", "attention_mask")})[0])
        got = np.concatenate(rows)
        got /= np.linalg.norm(got, axis=1, keepdims=True)
        want = np.concatenate([ref, ref[1:2]])
        worst = float(np.min(np.sum(got * want, axis=1)))
        if not worst >= _MIN_COSINE[backend]:  # also catches NaN
            raise QAError(
                f"the exported {backend} graph disagrees with torch (cosine {worst:.4f} < {_MIN_COSINE[backend]}); "
                "it was not kept. Set embedding_backend = \"torch\""
            )
        found[backend] = round(worst, 6)
    return found


def _pooled(model, pooling: str, token_types: bool):
    """Transformer + pooling as one torch module, so the exported graph outputs sentence vectors."""
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
            if token_types:  # one segment: all zeros, as the tokenizer gives for one text
                kwargs["token_type_ids"] = torch.zeros_like(input_ids)
            tokens = self.model(**kwargs).last_hidden_state
            if pooling == "cls":
                return tokens[:, 0]
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            return (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

    return Pooled().eval()
