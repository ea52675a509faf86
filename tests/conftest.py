"""Test configuration: make tests/ importable (shared fixture writers live in tests/fixtures.py), keep
what the package derives from scans out of the user's home, and keep Hugging Face libraries offline."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
# No network in tests: Hugging Face libraries stay offline and send no telemetry (whose background
# thread would also outlive the test that started it)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


@pytest.fixture(autouse=True, scope="session")
def _user_cache_in_a_temporary_folder(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Frames extracted from a ``.sens`` (the package's user cache) go to a temporary folder during
    the tests, never to ``~/.cache``."""
    os.environ.setdefault("SPATIALEVO_CACHE", str(tmp_path_factory.mktemp("spatialevo-cache")))
