"""tinyzoo's catalogue: `zoo.list_models()`, `zoo.get(name)`, `zoo.pull(name, target=...)`."""
from zoo.hub import pull
from zoo.registry import Model, get, list_models

__all__ = ["Model", "get", "list_models", "pull"]
