#!/usr/bin/env python
"""MLPerf Tiny's reference models as tinyzoo checkpoints: the Keras weights mapped onto the zoo's PyTorch models
(common/keras_compat.py), proven equal to the reference float `.tflite` run with LiteRT on the same inputs.

    python scripts/convert_mlperf.py --models ../shared/models/mlperf_tiny --out build/mlperf [--data-root DIR]

writes, per model, `<out>/<task>__<model>.mlperf/`:
    checkpoint.pt       {"model": state dict, "source": provenance and the parity figures}
    reference.tflite    MLPerf's int8 .tflite (Apache-2.0), the TFLite-path side of the card
then: `tinyzoo build vision/resnet8_cifar10.mlperf --weights <out>/vision__resnet8_cifar10.mlperf/checkpoint.pt`.

The parity inputs are real test images when --data-root holds them (CIFAR-10's test batch, vww96/), else seeded
random images. Needs h5py and ai-edge-litert (`pip install -e ".[test]"`); nothing here is a dependency of the
package. The keyword-spotting reference is a TensorFlow SavedModel: its conversion needs TensorFlow (a separate
Python given by --tf-python, e.g. a virtual environment with `pip install tensorflow-cpu`): without it the KWS
model is skipped with a note. Its float reference is the SavedModel itself (run by that TensorFlow), since the
"float32" .tflite holds int8 weights; the parity figure is then the largest difference of the softmax outputs (the
SavedModel ends in its softmax, its logits are not among its outputs).

The anomaly-detection autoencoder (ad01) is checked on the MLPerf log-mel windows (common/anomaly.py) of synthetic
ToyCar clips written for the purpose (no ToyADMOS recordings needed); its parity figures are the largest difference
of the reconstructions and of the clips' anomaly scores. MLPerf's AD .tflite files (the float one and the int8
golden model) compute the Keras network without the Dense biases in front of each batch norm (02_convert.py folds
batch norm as beta - mean * gamma / sqrt(var + eps) and leaves the Dense bias out), so the checkpoint drops them too:
it is the network of the reference .tflite, not of the .h5 run by Keras (their difference is recorded).
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
import torch
from tinyzoo.common import anomaly
from tinyzoo.common.build_record import sha256_of
from tinyzoo.common.builders import get_builder
from tinyzoo.common.config import load_recipe_config
from tinyzoo.common.errors import TinyzooError
from tinyzoo.common.frontend.mfcc import MFCC, MfccConfig
from tinyzoo.common.keras_compat import (
    keras_state_dict,
    read_h5,
    read_savedmodel_variables,
)
from tinyzoo.common.layout import BUNDLED_DATA, RECIPES, split_name
from tinyzoo.common.tflite_path import LiteRT
from torch import nn


@dataclass(frozen=True)
class Reference:
    name: str           # the catalogue entry the weights become
    h5: str             # under --models
    float_tflite: str
    int8_tflite: str
    scale: float        # the reference's float input range: pixel * scale / 255 (images; 1.0 for AD)


# MLPerf's KWS label order (get_dataset.py) → each of the recipe's labels' index in it
MLPERF_KWS_LABELS = ["down", "go", "left", "no", "off", "on", "right", "stop", "up", "yes", "_silence_", "_unknown_"]

# The SavedModel's variables and its outputs on given features, read by TensorFlow (in the --tf-python process)
TF_DUMP = """
import sys, numpy as np, tensorflow as tf
path, features, out = sys.argv[1:4]
reader = tf.train.load_checkpoint(path + "/variables/variables")
arrays = {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
          if k.startswith("layer_with_weights-") and k.endswith("/.ATTRIBUTES/VARIABLE_VALUE")}
tf.compat.v1.disable_eager_execution()
with tf.compat.v1.Session(graph=tf.Graph()) as session:
    meta = tf.compat.v1.saved_model.loader.load(session, ["serve"], path)
    signature = meta.signature_def["serving_default"]
    x, y = list(signature.inputs.values())[0].name, list(signature.outputs.values())[0].name
    outputs = np.concatenate([session.run(y, {x: f[None]}) for f in np.load(features)])
np.savez(out, __outputs__=outputs, **{k.replace("/", "|"): v for k, v in arrays.items()})
"""

REFERENCES = (
    Reference("vision/resnet8_cifar10.mlperf", "ic/pretrainedResnet.h5", "ic/pretrainedResnet.tflite",
              "ic/pretrainedResnet_quant.tflite", 255.0),
    Reference("vision/mobilenet_vww.mlperf", "vww/vww_96.h5", "vww/vww_96_float.tflite",
              "vww/vww_96_int8.tflite", 1.0),
)


def parity_images(reference: Reference, size: tuple[int, int], data_root: Path | None, count: int = 64) -> tuple:
    """uint8 HWC images to compare on: real test images when the data root has them, else seeded random ones."""
    if data_root is not None and reference.name.startswith("vision/resnet8") and \
            (data_root / "cifar-10-batches-py" / "test_batch").is_file():
        import pickle

        with open(data_root / "cifar-10-batches-py" / "test_batch", "rb") as f:
            batch = pickle.load(f, encoding="latin1")
        return batch["data"][:count].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), "the first 64 CIFAR-10 test images"
    if data_root is not None and reference.name.startswith("vision/mobilenet_vww") and (data_root / "vww96").is_dir():
        from PIL import Image

        every = sorted((data_root / "vww96").glob("*/*.png"))
        files = every[::max(1, len(every) // count)][:count]
        return np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files]), f"{len(files)} vww96 images"
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (count, *size, 3), dtype=np.uint8), f"{count} seeded random images"


def convert(reference: Reference, models: Path, out: Path, data_root: Path | None) -> dict:
    recipe, weights = split_name(reference.name)
    cfg = load_recipe_config(RECIPES / recipe, weights)
    model = get_builder(cfg["model"]["name"])(**cfg["model"]["args"]).eval()
    model.load_state_dict(keras_state_dict(read_h5(models / reference.h5), model))

    size = tuple(cfg["frontend"]["size"])
    images, what = parity_images(reference, size, data_root)
    x = images.astype(np.float32) * (reference.scale / 255.0)          # the reference's float input, NHWC
    expected = LiteRT(models / reference.float_tflite).logits(x)
    with torch.no_grad():
        logits = model(torch.from_numpy(x).permute(0, 3, 1, 2)).numpy()
    diff = float(np.abs(logits - expected).max())
    agree = float((logits.argmax(1) == expected.argmax(1)).mean())
    if diff > 1e-3:
        raise SystemExit(f"{reference.name}: the PyTorch port differs from {reference.float_tflite} by {diff:.3g} "
                         f"in the logits: the mapping is wrong")
    folder = out / reference.name.replace("/", "__")
    folder.mkdir(parents=True, exist_ok=True)
    source = {"origin": "MLPerf Tiny reference model (mlcommons/tiny, benchmark/training), Apache-2.0",
              "keras": reference.h5, "keras_sha256": sha256_of(models / reference.h5),
              "float_tflite": reference.float_tflite, "float_tflite_sha256": sha256_of(models / reference.float_tflite),
              "int8_tflite": reference.int8_tflite, "int8_tflite_sha256": sha256_of(models / reference.int8_tflite),
              "parity": {"inputs": what, "max_abs_logit_diff": diff, "top1_agreement": agree,
                         "against": "the float .tflite run with LiteRT"}}
    torch.save({"model": model.state_dict(), "epoch": 0, "history": [], "source": source}, folder / "checkpoint.pt")
    shutil.copyfile(models / reference.int8_tflite, folder / "reference.tflite")
    print(f"{reference.name}: max |logit difference| {diff:.2e} against the float .tflite on {what} "
          f"(top-1 agreement {agree:.0%}) -> {folder}")
    return source


AD_REFERENCE = Reference("anomaly/ad_autoencoder.mlperf", "ad/ad01.h5", "ad/model_ToyCar.tflite",
                         "ad/ad01_int8.tflite", 1.0)


def convert_ad(reference: Reference, models: Path, out: Path, clips_per_id: int = 2) -> dict:
    """MLPerf's AD autoencoder: the Keras weights mapped onto anomaly/ad_autoencoder, less the Dense biases in front of
    batch norm (as MLPerf's .tflite files, see the module's docstring), checked against the float .tflite on the
    log-mel windows of synthetic ToyCar clips (`clips_per_id` normal and anomaly clips of machine ids 1 and 2)."""
    recipe, weights = split_name(reference.name)
    cfg = load_recipe_config(RECIPES / recipe, weights)
    model = get_builder(cfg["model"]["name"])(**cfg["model"]["args"]).eval()
    model.load_state_dict(keras_state_dict(read_h5(models / reference.h5), model))
    with tempfile.TemporaryDirectory() as tmp:
        clips = anomaly.dcase_test_clips(anomaly.write_synthetic_toycar(tmp, train_per_id=0, test_per_id=clips_per_id))
        windows = anomaly.clip_windows(clips.paths)                            # (clips, 196, 640)
    x = windows.reshape(-1, windows.shape[-1])
    with torch.no_grad():
        keras = model(x).numpy()
        modules = list(model.modules())
        for linear, norm in zip(modules, modules[1:]):
            if isinstance(linear, nn.Linear) and isinstance(norm, nn.BatchNorm1d):
                linear.bias.zero_()
        ours = model(x).numpy()
    expected = LiteRT(models / reference.float_tflite).run(x.numpy())
    diff = float(np.abs(ours - expected).max())
    keras_diff = float(np.abs(keras - expected).max())
    their_scores = ((expected - x.numpy()) ** 2).mean(1).reshape(windows.shape[:2]).mean(1)
    score_diff = float(np.abs(anomaly.clip_scores(model, windows).numpy() - their_scores).max())
    # relative to the outputs (dB, up to ~70): the first batch norm subtracts running means of ~7,000, so float32
    # rounding alone leaves a few 1e-3 (the port in float64 is as far from the .tflite); a wrong mapping leaves > 0.1
    if diff > 1e-4 * float(np.abs(expected).max()):
        raise SystemExit(f"{reference.name}: the PyTorch port differs from {reference.float_tflite} by {diff:.3g} "
                         f"in the reconstruction: the mapping is wrong")
    what = f"the MLPerf log-mel windows of {len(clips.paths)} synthetic ToyCar clips ({len(x)} windows)"
    folder = out / reference.name.replace("/", "__")
    folder.mkdir(parents=True, exist_ok=True)
    source = {"origin": "MLPerf Tiny reference model (mlcommons/tiny, benchmark/training), Apache-2.0; "
                        "anomaly_detection/ code MIT (Hitachi, Ltd.)",
              "keras": reference.h5, "keras_sha256": sha256_of(models / reference.h5),
              "float_tflite": reference.float_tflite, "float_tflite_sha256": sha256_of(models / reference.float_tflite),
              "int8_tflite": reference.int8_tflite, "int8_tflite_sha256": sha256_of(models / reference.int8_tflite),
              "parity": {"inputs": what, "max_abs_output_diff": diff, "max_abs_score_diff": score_diff,
                         "against": "the float .tflite run with LiteRT",
                         "keras_max_abs_output_diff": keras_diff,
                         "note": "the Dense biases in front of batch norm are dropped, as in MLPerf's AD .tflite files "
                                 "(02_convert.py's folding); keras_max_abs_output_diff: the .h5 as Keras runs it"}}
    torch.save({"model": model.state_dict(), "epoch": 0, "history": [], "source": source}, folder / "checkpoint.pt")
    shutil.copyfile(models / reference.int8_tflite, folder / "reference.tflite")
    print(f"{reference.name}: max |output difference| {diff:.2e}, max |score difference| {score_diff:.2e} against the "
          f"float .tflite on {what} (the .h5 with its Dense biases: {keras_diff:.2f}) -> {folder}")
    return source


def convert_kws(models: Path, out: Path, tf_python: str) -> dict:
    """MLPerf's DS-CNN from its SavedModel: weights by TensorFlow, mapped onto kws/ds_cnn (outputs reordered to the
    recipe's labels), checked against the SavedModel's own outputs on the bundled sample clips' MLPerf features."""
    name = "kws/ds_cnn.mlperf"
    recipe, weights = split_name(name)
    cfg = load_recipe_config(RECIPES / recipe, weights)
    clips = sorted((BUNDLED_DATA / "speech_commands_sample").rglob("*/*.wav"))
    clips = [c for c in clips if c.parent.name != "_background_noise_"][:64]
    audio = np.stack([np.pad(soundfile.read(c, dtype="float32")[0], (0, 16000))[:16000] for c in clips])
    features = MFCC(MfccConfig.from_dict(cfg["frontend"]))(torch.from_numpy(audio)).numpy()   # (N, 49, 10)
    saved = models / "kws" / "kws_ref_model"
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "features.npy", features[..., None])
        done = subprocess.run([tf_python, "-c", TF_DUMP, str(saved), str(Path(tmp) / "features.npy"),
                               str(Path(tmp) / "dump.npz")], capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{name}: TensorFlow ({tf_python}) could not read {saved}: "
                             f"{done.stderr.strip().splitlines()[-1:]}")
        dump = dict(np.load(Path(tmp) / "dump.npz"))
    reference = dump.pop("__outputs__")
    order = [MLPERF_KWS_LABELS.index(label) for label in cfg["data"]["labels"]]
    model = get_builder(cfg["model"]["name"])(**cfg["model"]["args"]).eval()
    model.load_state_dict(keras_state_dict(read_savedmodel_variables({k.replace("|", "/"): v for k, v in dump.items()}),
                                           model, output_order=order))
    with torch.no_grad():
        ours = torch.softmax(model(torch.from_numpy(features)[:, None]), -1).numpy()
    theirs = reference[:, order]
    diff = float(np.abs(ours - theirs).max())
    agree = float((ours.argmax(1) == theirs.argmax(1)).mean())
    if diff > 1e-3:
        raise SystemExit(f"{name}: the PyTorch port differs from the SavedModel by {diff:.3g}: the mapping is wrong")
    folder = out / name.replace("/", "__")
    folder.mkdir(parents=True, exist_ok=True)
    int8 = models / "kws" / "kws_ref_model.tflite"
    source = {"origin": "MLPerf Tiny reference model (mlcommons/tiny, benchmark/training), Apache-2.0",
              "keras": "kws/kws_ref_model (SavedModel)",
              "keras_sha256": sha256_of(saved / "variables" / "variables.data-00000-of-00001"),
              "float_tflite": "kws/kws_ref_model (SavedModel, run by TensorFlow)", "float_tflite_sha256": "",
              "int8_tflite": "kws/kws_ref_model.tflite", "int8_tflite_sha256": sha256_of(int8),
              "parity": {"inputs": f"the MLPerf MFCC features of {len(clips)} bundled Speech Commands clips",
                         "max_abs_logit_diff": diff, "top1_agreement": agree,
                         "against": "the SavedModel run by TensorFlow (its softmax outputs)"}}
    torch.save({"model": model.state_dict(), "epoch": 0, "history": [], "source": source}, folder / "checkpoint.pt")
    shutil.copyfile(int8, folder / "reference.tflite")
    print(f"{name}: max |probability difference| {diff:.2e} against the SavedModel on {len(clips)} clips' features "
          f"(top-1 agreement {agree:.0%}) -> {folder}")
    return source


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=Path, default=Path("../shared/models/mlperf_tiny"),
                        help="the MLPerf Tiny reference models (SOURCE.md's layout)")
    parser.add_argument("--out", type=Path, default=Path("build/mlperf"))
    parser.add_argument("--data-root", type=Path, help="real test images for the parity check")
    parser.add_argument("--tf-python", help="a Python with TensorFlow, to read the KWS SavedModel (else KWS is "
                                            "skipped)")
    args = parser.parse_args(argv)
    needed = [f for r in (*REFERENCES, AD_REFERENCE) for f in (r.h5, r.float_tflite, r.int8_tflite)]
    needed += ["kws/kws_ref_model/saved_model.pb", "kws/kws_ref_model.tflite"] if args.tf_python else []
    missing = [f for f in needed if not (args.models / f).is_file()]
    if missing:
        print(f"convert_mlperf: {args.models} lacks {', '.join(missing)}: pass --models DIR, the folder of MLPerf "
              f"Tiny's reference models (its SOURCE.md layout)", file=sys.stderr)
        return 2
    try:
        report = {r.name: convert(r, args.models, args.out, args.data_root) for r in REFERENCES}
        report[AD_REFERENCE.name] = convert_ad(AD_REFERENCE, args.models, args.out)
        if args.tf_python:
            report["kws/ds_cnn.mlperf"] = convert_kws(args.models, args.out, args.tf_python)
        else:
            print("kws/ds_cnn.mlperf skipped: its SavedModel needs TensorFlow (--tf-python PY)")
    except TinyzooError as err:
        print(f"convert_mlperf: {err}", file=sys.stderr)
        return 2
    (args.out / "parity.json").write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
