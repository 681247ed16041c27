"""Shared fixtures: the bundled corpus indexed once per test session with the real model."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest

from qa.config import Config

ROOT = Path(__file__).resolve().parent.parent
ARTICLES = ROOT / "data" / "articles"
IDS = sorted(p.name for p in ARTICLES.iterdir())


@pytest.fixture(scope="session")
def bundled_index_dir(tmp_path_factory) -> Path:
    """An index of data/articles built with the real MiniLM model. Do not modify: copy it."""
    from qa.assistant import Assistant

    directory = tmp_path_factory.mktemp("bundled-index")
    Assistant.create(Config(index_dir=str(directory))).add_paths([ARTICLES])
    return directory


@pytest.fixture(scope="session")
def assistant(bundled_index_dir):
    """A read-only assistant over the bundled index (do not add or remove articles with it)."""
    from qa.assistant import Assistant

    return Assistant.open(Config(index_dir=str(bundled_index_dir)))


@pytest.fixture
def index_copy(bundled_index_dir, tmp_path) -> Path:
    """A private, writable copy of the bundled index."""
    target = tmp_path / "index"
    shutil.copytree(bundled_index_dir, target)
    return target
