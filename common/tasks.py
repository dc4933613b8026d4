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
