"""Golden inputs for a model's firmware: what the device gets (int16 PCM or uint8 RGB), the front end's float64
reference output and the int8 model input it must produce, so a C front end can be checked against the Python one
the model was trained with.

    python -m tinyzoo.common.firmware.golden kws/ds_cnn -o build/golden/kws__ds_cnn
    python -m tinyzoo.common.firmware.golden vision/mobilenet_vww -o build/golden/vision__mobilenet_vww

KWS: a few real clips from the committed Speech Commands sample (zoo/data/speech_commands_sample, test split,
different words and speakers), each cut or zero-padded to `data.clip_samples` as the training loader does.
Vision: small synthetic but natural-looking images (smooth gradients, soft shapes, texture and sensor-like noise,
the full 0..255 range), made from a fixed seed at the model's size, plus one at another size that exercises the
bilinear resize.

The folder gets, per sample, raw little-endian files
    <name>.s16 (int16 PCM) or <name>.u8 (uint8 HWC RGB, its height and width in the manifest),
    <name>.features.f64 — the float64 reference front end (mfcc_numpy / preprocess_numpy; with a resize: the
                          recipe's bilinear resize evaluated in float64),
    <name>.input.s8     — common.verify.quantize of that reference with the model's input scale and zero point,
                          in the model's input layout ((frames, coefficients) or (3, H, W) for batch 1),
and `manifest.json` (front end, quantization, labels, file list, shapes) plus `app_model.h`
(common/firmware/app_header.py) for the same model.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from tinyzoo.common.config import load_config, load_recipe_config
from tinyzoo.common.data.speech_commands import kws_test_set
from tinyzoo.common.errors import (
    ArtifactError,
    ConfigError,
    TinyzooError,
    UnknownModelError,
)
from tinyzoo.common.firmware.app_header import generate
from tinyzoo.common.frontend.image import ImageConfig, preprocess_numpy
from tinyzoo.common.frontend.mfcc import MfccConfig, mfcc_numpy
from tinyzoo.common.layout import ARTIFACTS, BUNDLED_DATA, RECIPES, split_name
from tinyzoo.common.verify import quantize

SPEECH_SAMPLE = BUNDLED_DATA / "speech_commands_sample"

# Clips picked from the committed sample's test split: four keywords, an unknown word and a background-noise
# "silence" clip, so quiet, loud and noisy frames are all covered.
KWS_CLIP_WORDS = ("yes", "stop", "left", "go", "_unknown_", "_silence_")


def model_paths(model: str) -> tuple[Path, Path]:
    """(recipe config.yaml, published metrics.json) of a model name such as kws/ds_cnn; for further weights of a
    recipe (kws/ds_cnn.mlperf) the config is their published config.resolved.yaml."""
    recipe, tag = split_name(model)
    config = RECIPES / recipe / "config.yaml" if tag is None else ARTIFACTS / model / "config.resolved.yaml"
    if not config.exists():
        known = sorted(str(p.parent.relative_to(RECIPES)) for p in RECIPES.glob("*/*/config.yaml"))
        raise UnknownModelError(f"unknown model {model!r}; available: {', '.join(known)}")
    metrics = ARTIFACTS / model / "metrics.json"
    if not metrics.exists():
        raise ArtifactError(f"{model} has no published metrics.json at {metrics}: the golden int8 input needs the "
                            f"model's input quantization; build and publish it first (`tinyzoo build {model}`)")
    return config, metrics


def input_qparams(metrics: dict) -> dict:
    io = metrics.get("quantization", {}).get("io", {})
    if "input" not in io:
        raise ArtifactError("metrics.json has no quantization.io.input; rebuild the model with int8 I/O")
    return io["input"]


# --- keyword spotting ----------------------------------------------------------------------------------------

def kws_clips(cfg: dict, words=KWS_CLIP_WORDS) -> list[tuple[str, str, np.ndarray]]:
    """(name, clip id, int16 PCM) for the first test clip of each word in `words` in the committed sample."""
    data = cfg["data"]
    clips = kws_test_set(SPEECH_SAMPLE, {"labels": data["labels"], "clip_samples": data["clip_samples"],
                                         "version": data["version"]})
    out = []
    for word in words:
        if word not in data["labels"]:
            continue
        index = data["labels"].index(word)
        hits = [i for i in range(len(clips)) if int(clips.labels[i]) == index]
        if not hits:
            continue
        i = hits[0]
        name = f"{word.strip('_')}_{Path(clips.ids[i]).stem}"
        out.append((name, clips.ids[i], clips.waveforms[i].numpy().astype(np.int16)))
    if not out:
        raise ArtifactError(f"no clips of {list(words)} found in {SPEECH_SAMPLE}")
    return out


def mfcc_reference(pcm: np.ndarray, front: MfccConfig) -> np.ndarray:
    """float64 MFCC of int16 PCM, scaled by 1/32768 as the training loader does."""
    return mfcc_numpy(pcm.astype(np.float64) / 32768.0, front)


# --- vision ---------------------------------------------------------------------------------------------------

def synthetic_images(height: int, width: int, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """Natural-looking uint8 HWC RGB test images: smooth illumination, soft-edged shapes, texture, noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    u, v = x / max(width - 1, 1), y / max(height - 1, 1)

    def finish(img):
        return np.clip(np.rint(img), 0, 255).astype(np.uint8)

    # 1. "landscape": sky gradient over a darker ground, a soft sun, mild sensor noise
    sky = np.stack([90 + 80 * v, 140 + 60 * v, 230 - 40 * v], -1)
    ground = np.stack([70 + 40 * u, 110 + 30 * u, 50 + 10 * u], -1)
    horizon = 1 / (1 + np.exp(-(v - 0.6 - 0.05 * np.sin(6 * u)) * 40))
    img = sky * (1 - horizon[..., None]) + ground * horizon[..., None]
    sun = np.exp(-(((u - 0.75) ** 2 + (v - 0.25) ** 2) / 0.01))
    img += sun[..., None] * np.array([120.0, 100.0, 20.0])
    landscape = finish(img + rng.normal(0, 3, img.shape))

    # 2. "objects": soft-edged disc and rectangle on a textured wall, including saturated 0 and 255 pixels
    wall = 128 + 40 * np.sin(2 * np.pi * (3 * u + 2 * v))[..., None] * np.array([1.0, 0.8, 0.6])
    disc = 1 / (1 + np.exp((np.hypot(u - 0.35, v - 0.55) - 0.22) * 60))
    rect = ((np.abs(u - 0.72) < 0.15) & (np.abs(v - 0.4) < 0.3)).astype(np.float64)
    img = wall * (1 - disc[..., None]) + disc[..., None] * np.array([255.0, 20.0, 0.0])
    img = img * (1 - rect[..., None]) + rect[..., None] * np.array([0.0, 0.0, 0.0])
    objects = finish(img + rng.normal(0, 2, img.shape))

    # 3. "texture": high-frequency detail (checkerboard under a colour ramp) plus heavy noise
    checker = ((np.floor(x / 3) + np.floor(y / 3)) % 2)[..., None]
    img = np.stack([255 * u, 255 * v, 255 * (1 - u)], -1) * (0.6 + 0.4 * checker)
    texture = finish(img + rng.normal(0, 12, img.shape))

    # 4. "portrait": skin-toned oval on a dark background, a little blur-like smoothness
    face = np.exp(-(((u - 0.5) / 0.25) ** 2 + ((v - 0.45) / 0.33) ** 2) ** 2)
    img = np.array([30.0, 30.0, 40.0]) * (1 - face[..., None]) + np.array([224.0, 172.0, 140.0]) * face[..., None]
    portrait = finish(img + rng.normal(0, 4, img.shape))
    return [("landscape", landscape), ("objects", objects), ("texture", texture), ("portrait", portrait)]


def resize_size(size: tuple[int, int]) -> tuple[int, int]:
    """A camera-like source size for the resize sample: 4:3, not a multiple of the model's size."""
    h, w = size
    return (h * 5 // 4 + 3, w * 5 // 3 + 1)


def image_reference(image: np.ndarray, front: ImageConfig) -> np.ndarray:
    """float64 CHW: preprocess_numpy at the model's size; with another size, the recipe's resize (PyTorch
    bilinear, align_corners=False) evaluated in float64, then the same normalisation."""
    if tuple(image.shape[:2]) == tuple(front.size):
        return preprocess_numpy(image, front)
    x = torch.from_numpy(image.astype(np.float64) / 255.0).permute(2, 0, 1)[None]
    x = torch.nn.functional.interpolate(x, size=tuple(front.size), mode="bilinear", align_corners=False)[0]
    mean = torch.tensor(front.mean, dtype=torch.float64).view(3, 1, 1)
    std = torch.tensor(front.std, dtype=torch.float64).view(3, 1, 1)
    return ((x - mean) / std).numpy()


# --- export ---------------------------------------------------------------------------------------------------

def export_golden(model: str, out_dir: str | Path) -> Path:
    """Write the golden set of `model` (e.g. "kws/ds_cnn") to out_dir; returns the manifest path."""
    config_path, metrics_path = model_paths(model)
    cfg = load_recipe_config(config_path.parent) if config_path.name == "config.yaml" else load_config(config_path)
    metrics = json.loads(metrics_path.read_text())
    q = input_qparams(metrics)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    front_cfg = metrics.get("frontend") or cfg["frontend"]   # the front end the published model was built with
    samples = []
    if front_cfg.get("type") == "mfcc":
        front = MfccConfig.from_dict(front_cfg)
        for name, clip_id, pcm in kws_clips(cfg):
            features = mfcc_reference(pcm, front)
            _write(out_dir, name, "s16", pcm)
            _write(out_dir, name, "features.f64", features)
            _write(out_dir, name, "input.s8", quantize(features, q))
            samples.append({"name": name, "source": f"zoo/data/speech_commands_sample: {clip_id}",
                            "label": clip_id.split("/")[0], "pcm": f"{name}.s16", "samples": int(len(pcm)),
                            "features": f"{name}.features.f64", "features_shape": list(features.shape),
                            "input": f"{name}.input.s8"})
    elif front_cfg.get("type") == "image":
        front = ImageConfig.from_dict(front_cfg)
        images = synthetic_images(*front.size)
        images.append(("resized_" + images[0][0], synthetic_images(*resize_size(front.size), seed=1)[0][1]))
        for name, image in images:
            features = image_reference(image, front)
            _write(out_dir, name, "u8", image)
            _write(out_dir, name, "features.f64", features)
            _write(out_dir, name, "input.s8", quantize(features[None], q)[0])   # in the program's layout
            samples.append({"name": name, "source": "synthetic (common/firmware/golden.py, fixed seed)",
                            "image": f"{name}.u8", "height": int(image.shape[0]), "width": int(image.shape[1]),
                            "features": f"{name}.features.f64", "features_shape": list(features.shape),
                            "input": f"{name}.input.s8"})
    else:
        raise ConfigError(f"{model}: front end type {front_cfg.get('type')!r} has no golden export (mfcc or image)")
    generate(config_path, out_dir / "app_model.h", metrics_path)
    manifest = {"model": model, "frontend": front_cfg, "input_quantization": q,
                "labels": metrics.get("labels") or cfg.get("data", {}).get("labels"),
                "byte_order": "little", "samples": samples}
    path = out_dir / "manifest.json"
    path.write_text(json.dumps(manifest, indent=1) + "\n")
    return path


def _write(out_dir: Path, name: str, suffix: str, array: np.ndarray) -> None:
    dtype = {"s16": "<i2", "u8": "u1", "features.f64": "<f8", "input.s8": "i1"}[suffix]
    (out_dir / f"{name}.{suffix}").write_bytes(np.ascontiguousarray(array, dtype=dtype).tobytes())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Export golden front-end inputs and outputs for a model's firmware.")
    parser.add_argument("model", help="model name, e.g. kws/ds_cnn or vision/mobilenet_vww")
    parser.add_argument("-o", "--output", required=True, help="folder to write")
    args = parser.parse_args(argv)
    try:
        path = export_golden(args.model, args.output)
    except TinyzooError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
