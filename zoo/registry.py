"""The catalogue: every recipe folder with a config.yaml is a model (`<task>/<model>`), like timm's registry
but discovered from the recipes/ tree, so adding a recipe folder is all it takes."""
from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from tinyzoo.common.card import model_stem
from tinyzoo.common.config import load_recipe_config
from tinyzoo.common.errors import UnknownModelError
from tinyzoo.common.layout import ARTIFACTS, CARDS, RECIPES, REPO, split_name  # noqa: F401  (REPO, CARDS: for the CLI)


@dataclass(frozen=True)
class Model:
    name: str            # "kws/ds_cnn", or "kws/ds_cnn.mlperf": the recipe with another set of its weights

    @property
    def recipe_dir(self) -> Path:
        return RECIPES / split_name(self.name)[0]

    @property
    def weights(self) -> str | None:
        """The weights tag (None: the recipe's own weights)."""
        return split_name(self.name)[1]

    @cached_property
    def config(self) -> dict:
        return load_recipe_config(self.recipe_dir, self.weights)

    @property
    def stem(self) -> str:
        return model_stem(self.name)

    @property
    def card_path(self) -> Path | None:
        """The published card in a clone's cards/ (None in an installed tinyzoo: render it from the metrics)."""
        return CARDS / f"{self.stem}.md" if CARDS else None

    @property
    def metrics_path(self) -> Path:
        """The published metrics every card figure comes from; they ship in the package."""
        return ARTIFACTS / self.name / "metrics.json"

    @property
    def artifacts_dir(self) -> Path:
        return ARTIFACTS / self.name

    @property
    def published(self) -> bool:
        return self.metrics_path.exists()

    def metrics(self) -> dict:
        if not self.published:
            raise UnknownModelError(f"{self.name} has no published card yet; build it with `tinyzoo build {self.name}`")
        return json.loads(self.metrics_path.read_text())



def list_models() -> list[str]:
    """Every recipe (`<task>/<model>`) and every other set of a recipe's weights (`<task>/<model>.<tag>`, from
    its `weights/<tag>.yaml`)."""
    recipes = [p.parent.relative_to(RECIPES).as_posix() for p in RECIPES.glob("*/*/config.yaml")]
    tagged = [f"{p.parent.parent.relative_to(RECIPES).as_posix()}.{p.stem}" for p in RECIPES.glob("*/*/weights/*.yaml")]
    return sorted(recipes + tagged)


def get(name: str) -> Model:
    models = list_models()
    if name not in models:
        close = difflib.get_close_matches(name, models, n=3)
        hint = f" Did you mean {' or '.join(close)}?" if close else ""
        raise UnknownModelError(f"unknown model {name!r}.{hint} Available: {', '.join(models)}")
    return Model(name)


def list_weights(name: str) -> list[str]:
    """Every published set of weights of the recipe `name` (e.g. "kws/ds_cnn" → ["kws/ds_cnn", "kws/ds_cnn.mlperf"]:
    the recipe's own and MLPerf Tiny's reference weights), as torchvision's `get_model_weights` lists a model's."""
    recipe = split_name(get(name).name)[0]
    return [n for n in list_models() if split_name(n)[0] == recipe and Model(n).published]


def _int8_accuracy(name: str) -> float:
    """The card's int8 accuracy as the NPU computes it (the lowest over targets); -inf without one."""
    tosa = Model(name).metrics().get("accuracy", {}).get("tosa_int8") or {}
    return min(tosa.values()) if tosa else float("-inf")


def default_weights(name: str) -> str:
    """The weights a recipe's name stands for, as torchvision's DEFAULT: the best measured of its published weights
    (`list_weights`: the highest int8 accuracy as the NPU computes it, on each card's test set), the recipe's own
    on a tie; a name with a weights tag stands for itself."""
    published = list_weights(name) if get(name).weights is None else []
    return max(published, key=lambda n: (_int8_accuracy(n), n == name)) if len(published) > 1 else name
