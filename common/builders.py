"""Model builders, registered where they are defined (timm's `@register_model`): a recipe's model.py decorates
its builder, and the registry knows it by the recipe's name — its folder, `recipes/<task>/<model>/` — so the
config holds data (`model.args`), not Python wiring. The builder's signature is the schema of `model.args`:
every argument has a default, its type comes from the annotation, a range from a `Key` in `typing.Annotated`
(common.schema's `Classes`, `PositiveInt`, `Dropout`, ...)."""
from __future__ import annotations

import importlib
import inspect
import typing
from dataclasses import replace
from typing import Callable

from tinyzoo.common.errors import ConfigError
from tinyzoo.common.schema import Key

_BUILDERS: dict[str, Callable] = {}


def recipe_name(module: str) -> str:
    """'tinyzoo.recipes.kws.ds_cnn.model' → 'kws/ds_cnn'."""
    parts = module.split(".")
    if "recipes" not in parts or len(parts) < parts.index("recipes") + 4:
        raise ConfigError(f"@register_model is for builders in recipes/<task>/<model>/model.py, not in {module}")
    start = parts.index("recipes") + 1
    return "/".join(parts[start:start + 2])


def register_model(builder: Callable) -> Callable:
    """Register a recipe's model builder under the recipe's name."""
    _BUILDERS[recipe_name(builder.__module__)] = builder
    return builder


def get_builder(name: str) -> Callable:
    """The builder registered for recipe `name` (imports recipes/<name>/model.py)."""
    if name not in _BUILDERS:
        try:
            importlib.import_module(f"tinyzoo.recipes.{name.replace('/', '.')}.model")
        except ModuleNotFoundError as err:
            raise ConfigError(f"model {name!r}: no recipes/{name}/model.py ({err})") from None
    if name not in _BUILDERS:
        raise ConfigError(f"recipes/{name}/model.py registers no builder: decorate its builder function with "
                          f"@register_model (from tinyzoo.common.builders)")
    return _BUILDERS[name]


def build_model(cfg: dict):
    """Instantiate the model a config's `model` section names."""
    return get_builder(cfg["model"]["name"])(**cfg["model"].get("args", {}))


_KINDS = {int: "int", float: "number", bool: "bool", str: "str", list: "list", tuple: "list", dict: "mapping"}


def args_schema(builder: Callable) -> dict:
    """{argument: common.schema.Key} from the builder's signature, every key optional (they all have defaults)."""
    hints = typing.get_type_hints(builder, include_extras=True)
    schema = {}
    for parameter in inspect.signature(builder).parameters.values():
        hint = hints.get(parameter.name)
        key = next((m for m in getattr(hint, "__metadata__", ()) if isinstance(m, Key)), None)
        if key is None:
            base = typing.get_origin(hint) or hint
            key = Key(_KINDS.get(base, "mapping" if base is None else "str"))
        schema[parameter.name] = replace(key, optional=True)
    return schema
