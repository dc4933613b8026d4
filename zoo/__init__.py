"""tinyzoo's catalogue: `zoo.list_models()`, `zoo.get(name)`."""
from zoo.registry import Model, get, list_models

__all__ = ["Model", "get", "list_models"]
