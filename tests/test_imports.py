"""Importing any `qa` module is cheap and offline.

`pytest` runs the docstring examples of every module in qa/ (`--doctest-modules` in
pyproject.toml), which imports all of them; the CLI and the app import many of them too.
A module that loads a model or opens a connection at import time would make every one of
those slow or dependent on the network.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# In a fresh interpreter: every socket connection fails, then every qa module is imported.
_PROBE = """
import importlib, pkgutil, socket, sys

def refuse(*args, **kwargs):
    raise OSError("a qa module used the network while being imported")

socket.socket.connect = socket.create_connection = socket.getaddrinfo = refuse
import qa

# qa.pair_model is the ranker's network itself (a torch.nn.Module): only loading a model imports it
names = [m.name for m in pkgutil.iter_modules(qa.__path__, "qa.") if m.name != "qa.pair_model"]
for name in names:
    importlib.import_module(name)
print(len(names), [m for m in ("torch", "sentence_transformers", "transformers", "faiss", "llama_cpp", "ray") if m in sys.modules])
"""


def test_every_qa_module_imports_without_models_or_network():
    done = subprocess.run([sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    count, heavy = done.stdout.split(" ", 1)
    assert int(count) >= 20  # the probe did find the package's modules
    assert heavy.strip() == "[]", f"importing qa modules loaded {heavy.strip()}"
