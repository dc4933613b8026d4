"""Whether the process a lock or a partial download names still runs (build-folder locks in common/recipe.py, the
cache's `.part` files in zoo/hub.py)."""
from __future__ import annotations

import os


def alive(pid: int) -> bool:
    """The process `pid` runs (one of another user counts: it exists)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
