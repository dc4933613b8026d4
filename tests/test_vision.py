"""The vision path on tiny synthetic images: CIFAR-10 loading in torchvision's format (with a partial copy),
extra ImageFolder images, preprocessing against a NumPy reference, batched augmentation, and a quick
ResNet-8 build end to end."""
import json
import pickle

import numpy as np
import pytest
import torch
from PIL import Image
from tinyzoo.common.data.cifar10 import CLASSES, cifar10, train_set
from tinyzoo.common.errors import DatasetNotFoundError
from tinyzoo.common.frontend.image import (
    ImageConfig,
    ImagePreprocess,
    RandomCropFlip,
    preprocess_numpy,
)


def fake_cifar(root, n_train=60, n_test=20, seed=0):
    """A partial CIFAR-10 in torchvision's pickle format: class k images are bright in channel k % 3."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)

    def batch(n):
        labels = [i % 10 for i in range(n)]
        data = rng.integers(0, 80, (n, 3, 32, 32), dtype=np.uint8)
        for i, k in enumerate(labels):
            data[i, k % 3, : 8 + 2 * k] += 150
        return {"data": data.reshape(n, 3072), "labels": labels}

    with open(folder / "data_batch_1", "wb") as f:
        pickle.dump(batch(n_train), f)
    with open(folder / "test_batch", "wb") as f:
        pickle.dump(batch(n_test), f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": CLASSES}, f)
    return root


def test_partial_cifar_loads_without_md5(tmp_path):
    fake_cifar(tmp_path)
    test = cifar10(tmp_path, train=False)
    assert test.images.shape == (20, 3, 32, 32) and test.images.dtype == torch.uint8
    assert test.labels.tolist()[:3] == [0, 1, 2] and test.summary()["per_class"]["truck"] == 2


def test_missing_cifar_says_how_to_get_it(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="tinyzoo data cifar10 --download"):
        cifar10(tmp_path, train=False)


def test_extra_image_folder(tmp_path):
    fake_cifar(tmp_path)
    for k, name in enumerate(CLASSES):
        (tmp_path / "extra" / "train" / name).mkdir(parents=True)
        Image.fromarray(np.full((32, 32, 3), 10 * k, np.uint8)).save(tmp_path / "extra" / "train" / name / "0.png")
    train = train_set(tmp_path, {"extra_train": ["extra/train", "missing/train"]})
    assert train.summary()["per_source"] == {"cifar-10 train": 60, "extra": 10}
    assert int(train.images[-1, 0, 0, 0]) == 90 and int(train.labels[-1]) == 9


def test_preprocess_matches_numpy_reference():
    cfg = ImageConfig()
    images = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    ours = ImagePreprocess(cfg)(images).numpy()
    for i in range(4):
        ref = preprocess_numpy(images[i].permute(1, 2, 0).numpy(), cfg)
        np.testing.assert_allclose(ours[i], ref, rtol=1e-6, atol=1e-5)
    assert ImageConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="channel_order"):
        ImageConfig.from_dict({"channel_order": "BGR"})


def test_crop_flip_keeps_shape_and_content():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)
    aug = RandomCropFlip(padding=2, hflip=True)
    y = aug(x, generator=torch.Generator().manual_seed(0))
    assert y.shape == x.shape
    assert torch.equal(y, aug(x, generator=torch.Generator().manual_seed(0)))
    no_pad = RandomCropFlip(padding=0, hflip=True)(x, generator=torch.Generator().manual_seed(1))
    assert all(torch.equal(no_pad[i], x[i]) or torch.equal(no_pad[i], x[i].flip(-1)) for i in range(2))


@pytest.mark.slow
def test_quick_resnet8_build(tmp_path):
    from tinyzoo import cli

    fake_cifar(tmp_path / "data", n_train=200, n_test=40)
    build = tmp_path / "build"
    assert cli.main(["build", "vision/resnet8_cifar10", "--profile", "quick", "--data-root", str(tmp_path / "data"),
                     "--build-dir", str(build), "--set", "train.epochs=1", "--target", "ethos-u55-128"]) == 0
    m = json.loads((build / "metrics.json").read_text())
    assert m["targets"]["ethos-u55-128"]["cpu_ops"] == 0 and m["accuracy"]["samples"] == 40
    assert m["data"]["train"]["images"] == 200 and m["model_info"]["params"] == 77946
    assert m["accuracy"]["agreement_tosa_fake_quant"]["ethos-u55-128"] == 1.0
    card = (build / "card" / "vision__resnet8_cifar10.md").read_text()
    assert card.count("ethos-u55-128") >= 2
    assert m["compared_with"]["not_compared"].endswith("test samples against this build's 40)")
    assert "`vision/resnet8_cifar10.mlperf` is not compared here: measured on other test data" in card


def test_vww_folder_split_and_coco_labels(tmp_path):
    from tinyzoo.common.data import vww

    for name in vww.CLASSES:
        (tmp_path / "vww96" / name).mkdir(parents=True)
        for i in range(8):
            Image.fromarray(np.full((120, 100, 3), i * 20, np.uint8)).save(tmp_path / "vww96" / name / f"{i}.png")
    images = vww.from_folder(tmp_path, size=96)
    assert images.images.shape == (16, 3, 96, 96) and images.labels.tolist() == [0] * 8 + [1] * 8
    train, test = vww.split(images, 0.25)
    assert len(test) == 4 and test.summary()["per_class"] == {"non_person": 2, "person": 2}
    assert not set(train.ids) & set(test.ids)
    assert vww.split(images, 0.25)[1].ids == test.ids                     # stable
    with pytest.raises(DatasetNotFoundError, match="from_coco"):
        vww.from_folder(tmp_path / "nothing")

    instances = {"categories": [{"id": 1, "name": "person"}, {"id": 2, "name": "dog"}],
                 "images": [{"id": 10, "file_name": "a.jpg", "width": 100, "height": 100},
                            {"id": 11, "file_name": "b.jpg", "width": 100, "height": 100},
                            {"id": 12, "file_name": "c.jpg", "width": 100, "height": 100}],
                 "annotations": [{"image_id": 10, "category_id": 1, "bbox": [0, 0, 10, 10]},   # 1 % → person
                                 {"image_id": 11, "category_id": 1, "bbox": [0, 0, 5, 5]},     # 0.25 % → too small
                                 {"image_id": 12, "category_id": 2, "bbox": [0, 0, 50, 50]}]}  # a dog
    assert vww.person_labels(instances) == {"a.jpg": 1, "b.jpg": 0, "c.jpg": 0}


@pytest.mark.slow
def test_quick_vit_build_distilled_and_compared_with_the_student_alone(tmp_path):
    """train.distill with compare: the ViT taught by MLPerf's ResNet-8 and the same ViT trained alone; the metrics
    hold both float accuracies on the same test samples and the card shows them side by side."""
    from tinyzoo import cli

    fake_cifar(tmp_path / "data", n_train=128, n_test=20)
    build = tmp_path / "build"
    assert cli.main(["build", "vision/vit_tiny_cifar10", "--profile", "quick", "--data-root", str(tmp_path / "data"),
                     "--build-dir", str(build), "--set", "train.epochs=1", "--set", "train.distill={teacher: "
                     "vision/resnet8_cifar10.mlperf, temperature: 4, weight: 0.7, compare: true}",
                     "--target", "ethos-u55-128"]) == 0
    m = json.loads((build / "metrics.json").read_text())
    assert 0 <= m["accuracy"]["student_alone_float"] <= 1 and (build / "student_alone.pt").is_file()
    card = (build / "card" / "vision__vit_tiny_cifar10.md").read_text()
    assert "| float, the same student trained without its teacher |" in card
    assert "Distilled from `vision/resnet8_cifar10.mlperf`" in card and "trained without its teacher (same data, 1 " \
        "epochs" in card


def test_compared_with_takes_the_figures_of_a_model_measured_on_the_same_test_data():
    """card.compare_with: the reference ResNet-8's published accuracies, for a build on the same test samples; a
    build on other test data (your own) says and records why they are not compared; a name with no published
    model is refused."""
    from tinyzoo.common.card_view import compared_sentence
    from tinyzoo.common.errors import ConfigError
    from tinyzoo.common.layout import ARTIFACTS
    from tinyzoo.common.pipeline import compared_with

    theirs = json.loads((ARTIFACTS / "vision" / "resnet8_cifar10.mlperf" / "metrics.json").read_text())
    other = compared_with("vision/resnet8_cifar10.mlperf", theirs["data"])
    assert other["float"] == theirs["accuracy"]["float"] and other["tosa_int8"] == theirs["accuracy"]["tosa_int8"]
    assert other["tflite_int8"] == theirs["accuracy"]["tflite_int8"]["int8"] and len(other["metrics_sha256"]) == 64
    line = compared_sentence(other, theirs["accuracy"]["samples"])
    assert line.startswith(f"On the same {theirs['accuracy']['samples']} test samples, `vision/resnet8_cifar10.mlperf`")
    assert "MLPerf Tiny int8 .tflite" in line
    fewer = {**theirs["data"], "test": {**theirs["data"]["test"], "images": 20}}
    said = []
    other = compared_with("vision/resnet8_cifar10.mlperf", fewer, log=said.append)
    images = theirs["data"]["test"]["images"]
    assert other == {"name": "vision/resnet8_cifar10.mlperf", "not_compared": f"measured on other test data "
                     f"({images} test samples against this build's 20)"}
    assert said == [f"card.compare_with = vision/resnet8_cifar10.mlperf: not compared, {other['not_compared']}"]
    assert compared_sentence(other, 20) == ("`vision/resnet8_cifar10.mlperf` is not compared here: measured on "
                                            f"other test data ({images} test samples against this build's 20).")
    with pytest.raises(ConfigError, match="no published metrics"):
        compared_with("vision/nothing", theirs["data"])
