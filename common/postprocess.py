"""What an app does with a model's output — one definition, in NumPy, that the firmware's C
(common/firmware/frontend/tz_postprocess.c), the recipe docs and the tests share.

Vision: softmax, then the top k classes with labels (ties: the lower class index first).

Keyword spotting: a KWS model runs on a sliding window of audio, so one utterance appears in several consecutive
results. As in Arm's KWS examples (ML-KWS-for-MCU averages the last `averaging_window_len` predictions; the
ML-Embedded-Evaluation-Kit applies a 0.7 score threshold), each new result's softmax posteriors are averaged with
the previous ones (the last `window` results; fewer until that many have arrived); the top class of
the average is a detection when its averaged posterior is at least `threshold` and the class is not ignored
(`_silence_`, `_unknown_`); after a detection the next `refractory` results report nothing, so one utterance
fires once.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
from tinyzoo.common.errors import ConfigError


def softmax(logits) -> np.ndarray:
    """Softmax over the last axis, in float64, with the maximum subtracted (no overflow)."""
    x = np.asarray(logits, dtype=np.float64)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def top_k(scores, k: int, labels: list[str] | None = None) -> list[tuple[int, float, str | None]]:
    """The min(k, n) highest scores as (class index, score, label), highest first, ties by lower index."""
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    order = np.argsort(-s, kind="stable")[:k]
    return [(int(i), float(s[i]), labels[i] if labels else None) for i in order]


@dataclass(frozen=True)
class KwsPostprocess:
    """KWS post-processing settings (a recipe may override them in a `postprocess:` section)."""
    num_classes: int
    window: int = 3           # results averaged: at a 250 ms stride, the last 0.75 s of decisions
    # averaged posterior a keyword needs (ML-Embedded-Evaluation-Kit's kws_MODEL_SCORE_THRESHOLD)
    threshold: float = 0.7
    refractory: int = 3       # results after a detection that cannot fire again
    ignore: tuple[int, ...] = field(default=())   # class indices never reported

    def __post_init__(self):
        if not 1 <= self.num_classes <= 32:
            raise ConfigError(f"KWS post-processing handles 1..32 classes, not {self.num_classes}")
        if not 1 <= self.window <= 16:
            raise ConfigError(f"postprocess.window must be 1..16 results (TZ_KWS_MAX_WINDOW), not {self.window}")
        if not 0.0 < self.threshold <= 1.0:
            raise ConfigError(f"postprocess.threshold must be in (0, 1], not {self.threshold}")
        if self.refractory < 0:
            raise ConfigError(f"postprocess.refractory must be >= 0, not {self.refractory}")
        bad = [i for i in self.ignore if not 0 <= i < self.num_classes]
        if bad:
            raise ConfigError(f"postprocess ignore indices {bad} are outside 0..{self.num_classes - 1}")

    @classmethod
    def for_labels(cls, labels: list[str], overrides: dict | None = None) -> "KwsPostprocess":
        """Defaults for a label list: classes named `_like_this_` (silence, unknown) are ignored."""
        overrides = dict(overrides or {})
        known = {"window", "threshold", "refractory", "ignore"}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ConfigError(f"unknown postprocess key(s) {unknown}; known: {sorted(known)}")
        ignore = overrides.pop("ignore", [n for n in labels if n.startswith("_")])
        missing = [n for n in ignore if n not in labels]
        if missing:
            raise ConfigError(f"postprocess.ignore names {missing}, which are not labels ({labels})")
        return cls(num_classes=len(labels), ignore=tuple(labels.index(n) for n in ignore), **overrides)

    def ignore_mask(self) -> int:
        return sum(1 << i for i in self.ignore)


@dataclass(frozen=True)
class KwsResult:
    index: int          # 0-based count of results before this one
    class_index: int    # top class of the averaged posteriors
    score: float        # its averaged posterior
    detected: bool


class KwsSmoother:
    """Posterior smoothing, threshold and refractory suppression, one result at a time (tz_kws_push in C)."""

    def __init__(self, cfg: KwsPostprocess):
        self.cfg = cfg
        self.reset()

    def reset(self) -> None:
        self.history: deque[np.ndarray] = deque(maxlen=self.cfg.window)
        self.suppress_left = 0
        self.count = 0

    def push(self, posteriors) -> KwsResult:
        p = np.asarray(posteriors, dtype=np.float64).reshape(-1)
        if p.shape != (self.cfg.num_classes,):
            raise ValueError(f"expected {self.cfg.num_classes} posteriors, got shape {p.shape}")
        self.history.append(p)
        mean = np.mean(np.stack(self.history), axis=0)
        best = int(np.argmax(mean))
        detected = False
        if self.suppress_left > 0:
            self.suppress_left -= 1
        elif best not in self.cfg.ignore and mean[best] >= self.cfg.threshold:
            detected = True
            self.suppress_left = self.cfg.refractory
        result = KwsResult(self.count, best, float(mean[best]), detected)
        self.count += 1
        return result
