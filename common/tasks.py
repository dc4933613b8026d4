"""The tasks tinyzoo knows, named once. A recipe's config says its task (`card.task`) and a build's metrics
carry it (`task`); everything that behaves differently for a task asks `task_of` / `is_language_model` here."""
from __future__ import annotations

KEYWORD_SPOTTING = "keyword-spotting"
IMAGE_CLASSIFICATION = "image-classification"
TEXT_GENERATION = "text-generation"
TASKS = (KEYWORD_SPOTTING, IMAGE_CLASSIFICATION, TEXT_GENERATION)


def task_of(record: dict) -> str | None:
    """The task of a recipe config, a resolved config or a build's metrics (None for a user's deployed model)."""
    if record.get("task"):
        return record["task"]
    card = record.get("card") or record.get("config", {}).get("card") or {}
    return card.get("task")


def is_language_model(record: dict) -> bool:
    return task_of(record) == TEXT_GENERATION


# the module that loads each task's data and evaluates it (`eval_features`, and for a task with a bundled
# sample `default_data_root`)
_MODULES = {KEYWORD_SPOTTING: "tinyzoo.common.kws", IMAGE_CLASSIFICATION: "tinyzoo.common.vision",
            TEXT_GENERATION: "tinyzoo.common.text"}
WITH_BUNDLED_SAMPLE = (KEYWORD_SPOTTING,)   # zoo/data/ ships a small real sample: eval and build run without data


def module_of(record: dict):
    import importlib

    return importlib.import_module(_MODULES[task_of(record)])


def has_bundled_sample(record: dict) -> bool:
    return task_of(record) in WITH_BUNDLED_SAMPLE


def eval_features(cfg: dict, root, log=print):
    """Features, labels and label names of a folder in the task's dataset layout, for `tinyzoo eval`."""
    return module_of(cfg).eval_features(cfg, root, log=log)


def default_data_root(cfg: dict):
    """(folder, where it came from) when the user names none: $TINYZOO_DATA, else the bundled sample."""
    return module_of(cfg).default_data_root()
