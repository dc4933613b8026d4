"""Where things are. The package's own folders are found the same way in a clone and in an installed tinyzoo
(`recipes/`, the catalogue in `zoo/artifacts/`, the bundled data); the checkout's folders (cards/, README.md,
docs/, build/) exist only in a clone, `REPO` is None elsewhere. And what a build publishes (zoo/artifacts/
<task>/<model>/, the Hub repos, the index): one list, read by the pipeline that writes the files and by the hub
code that indexes and downloads them."""
import importlib.util
from pathlib import Path

from tinyzoo.common.errors import TinyzooError

_ROOT = Path(__file__).resolve().parent.parent   # a clone: the repository; installed: site-packages/tinyzoo
ZOO = Path(importlib.util.find_spec("tinyzoo").origin).resolve().parent   # the tinyzoo package: zoo/ in a clone
RECIPES = _ROOT / "recipes"
ARTIFACTS = ZOO / "artifacts"
BUNDLED_DATA = ZOO / "data"
REPO = _ROOT if (_ROOT / "pyproject.toml").is_file() and (_ROOT / "zoo").is_dir() else None   # the checkout
CARDS = REPO / "cards" if REPO else None


def checkout(what: str) -> Path:
    """The repository root, for what only a clone has (`what`: e.g. "publishing a card")."""
    if REPO is None:
        raise TinyzooError(f"{what} needs a clone of the tinyzoo repository (git clone, then scripts/setup.sh); "
                           f"this tinyzoo is installed at {ZOO}")
    return REPO


def shown(path: Path) -> str:
    """A path as a card or message shows it: relative to the checkout when inside it."""
    path = Path(path).resolve()
    return path.relative_to(REPO).as_posix() if REPO and path.is_relative_to(REPO) else str(path)


MODEL_FILES = ("checkpoint.pt", "model_int8.pt2", "config.resolved.yaml", "calibration.txt", "metrics.json",
               "reference_input.bin",
               "tokenizer.model", "embedding_int8.bin")   # language models: tokenizer and int8 embedding table
TARGET_FILES = ("model.pte", "model.bpte", "model.tosa", "reference_output.bin",
                "decode_step/model.pte", "decode_step/model.bpte")   # language models: the KV-cache decode step
