from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "zoo" / "data" / "speech_commands_sample"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Never read or write the user's ~/.cache from tests, never use their $TINYZOO_DATA."""
    monkeypatch.delenv("TINYZOO_DATA", raising=False)
    cache = tmp_path_factory.getbasetemp() / "tinyzoo-cache"
    monkeypatch.setenv("TINYZOO_CACHE", str(cache))
    yield
