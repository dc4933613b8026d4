"""The published models as torchvision users know them: `list_models`, `get_weights(name)` (with `meta` and
`transforms()`), `load(name)` and `pull(name, target)`.

    import tinyzoo
    weights = tinyzoo.get_weights("kws/ds_cnn")
    model = tinyzoo.load("kws/ds_cnn")                       # the float model with the published weights
    scores = model(weights.transforms()(waveform))           # a 1-s, 16 kHz waveform -> 12 keyword scores
    weights.meta["categories"], weights.meta["targets"]["ethos-u55-128"]["inference_time_ms"]
    tinyzoo.pull("kws/ds_cnn", "ethos-u55-128").pte          # the .pte for that NPU, SHA-256 checked

The catalogue (index, metrics, configs) ships inside the package; the model files come from a clone's
zoo/artifacts, else a mirror ($TINYZOO_MIRROR) or the Hugging Face Hub, into the cache (`hub.fetch`)."""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from tinyzoo import hub, registry
from tinyzoo.common import tasks
from tinyzoo.common.builders import build_model
from tinyzoo.common.errors import ArtifactError, UnknownModelError


def list_models(pattern: str | None = None, published: bool | None = None) -> list[str]:
    """The models' names (`<task>/<model>`), those matching a shell-style `pattern` (e.g. "kws/*"), and with
    `published` True/False only those with/without published artifacts."""
    names = registry.list_models()
    if pattern is not None:
        names = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
    if published is not None:
        names = [n for n in names if registry.Model(n).published == published]
    return names


@dataclass(frozen=True)
class Pulled:
    """A model's files on this machine after `pull`: the folder they are in and each file by its index path."""
    name: str
    target: str | None
    files: dict[str, Path] = field(repr=False)

    @property
    def folder(self) -> Path:
        return self.files["checkpoint.pt"].parent

    @property
    def checkpoint(self) -> Path:
        return self.files["checkpoint.pt"]

    @property
    def fake_quant(self) -> Path:
        return self.files["model_int8.pt2"]

    def _target_file(self, name: str) -> Path | None:
        return self.files.get(f"{self.target}/{name}") if self.target else None

    @property
    def pte(self) -> Path | None:
        return self._target_file("model.pte")

    @property
    def bpte(self) -> Path | None:
        return self._target_file("model.bpte")

    @property
    def tosa(self) -> Path | None:
        return self._target_file("model.tosa")


def pull(name: str, target: str | None = None, *, source: str | None = None) -> Pulled:
    """A published model's files (and one Ethos-U target's), each checked against the index's SHA-256."""
    registry.get(name)
    return Pulled(name, target, hub.fetch(name, target, source=source))


@dataclass(frozen=True)
class Weights:
    """A published model's weights, as torchvision's `Weights`: what they are (`meta`) and the front end its
    inputs go through (`transforms()`)."""
    name: str

    @cached_property
    def _metrics(self) -> dict:
        return registry.get(self.name).metrics()

    @cached_property
    def config(self) -> dict:
        """The resolved config the published model was built from (every number in its card comes from it)."""
        return self._metrics["config"]

    @cached_property
    def meta(self) -> dict:
        m = self._metrics
        info = m["model_info"]

        key = tasks.of(m).quality
        quality = {key: m[key]} if key in m else {}
        return {
            "task": m.get("task"),
            "categories": m.get("labels"),
            "num_params": info["params"],
            "macs": info.get("macs"),
            "input": info["input"],          # shape, dtype and the int8 scale / zero point the NPU takes
            "output": info["output"],
            "metrics": quality,               # float, int8 fake-quant and TOSA int8 per target, as in the card
            "targets": {t: {k: r.get(k) for k in ("npu_ops", "cpu_ops", "cycles", "inference_time_ms", "sram_kib",
                                                   "flash_kib", "system_config", "memory_mode")}
                        for t, r in m["targets"].items()},
            "quantization": m.get("quantization"),
            "recipe": f"recipes/{self.name}",
            "reproduce": m.get("reproduce"),
        }

    def transforms(self):
        """The front end as a torch module, taking what the model's users feed it: float waveforms in [-1, 1]
        at the model's sample rate, (samples,) or (batch, samples), for keyword spotting; uint8 images,
        (3, H, W) or (batch, 3, H, W), for vision; a string for a language model (→ token ids)."""
        task = tasks.of(self.config)
        return task.transforms(self.config, lambda: _artifact_folder(self.name, *task.eval_files))


def get_weights(name: str, *, exact: bool = False) -> Weights:
    """The published weights of `name`: exactly those for a name with a weights tag ("kws/ds_cnn.mlperf"); for a
    recipe's name ("kws/ds_cnn") the best measured of its published weights (`list_weights`: the highest int8
    accuracy as the NPU computes it, on each card's test set), as torchvision's DEFAULT weights, or with `exact`
    the recipe's own. `Weights.name` says which. A model without published artifacts is a one-line
    UnknownModelError."""
    model = registry.get(name)
    if not exact and registry.default_weights(name) != name:
        return Weights(registry.default_weights(name))
    if not model.published:
        raise UnknownModelError(f"{name} has no published weights yet; build it with `tinyzoo build {name}`")
    return Weights(name)


def _artifact_folder(name: str, *needs: str) -> Path:
    """The folder holding a published model's `needs` files (default: its checkpoint): the clone's own artifacts,
    else the cache after fetching those files alone (a call fetches only what it uses)."""
    needs = needs or ("checkpoint.pt",)
    local = registry.ARTIFACTS / name
    if all((local / n).is_file() for n in needs):
        return local
    registry.get(name)
    fetched = hub.fetch(name, only=set(needs))
    missing = [n for n in needs if n not in fetched]
    if missing:
        raise ArtifactError(f"{name} publishes no {', '.join(missing)}: `tinyzoo pull {name}` lists what it has")
    return fetched[needs[0]].parent


def load(name: str, int8: bool = False, *, exact: bool = False):
    """The published model as a torch module in eval mode: the float model with its trained weights, or with
    `int8=True` the int8 fake-quant program (the quantized arithmetic the NPU runs, on the host). A recipe's name
    loads its best measured weights, with `exact` its own (`get_weights`)."""
    from tinyzoo.common import quantize
    from tinyzoo.common.train import load_weights

    weights = get_weights(name, exact=exact)
    name = weights.name
    folder = _artifact_folder(name, "model_int8.pt2" if int8 else "checkpoint.pt")
    if int8:
        path = folder / "model_int8.pt2"
        if not path.is_file():
            raise ArtifactError(f"{path} is missing: `tinyzoo pull {name}` fetches it")
        return quantize.load_quantized_program(path).module()
    model = build_model(weights.config)
    load_weights(model, folder / "checkpoint.pt")
    return model.eval()
