"""Visual Wake Words (Chowdhery et al., 2019): person / no-person at 96x96, derived from COCO 2014.

Two ways in:
  * `from_coco(images_dir, instances_json)` — VWW's published recipe: an image is "person" when it holds a
    person box covering more than 0.5 % of the image (`min_area_fraction`), resized to 96x96. Point it at
    COCO's train2014/val2014 images and instances_*.json (cocodataset.org; the images carry Flickr licences).
  * `from_folder(root)` — a folder already in `ImageFolder` layout (`non_person/`, `person/`), e.g. MLPerf
    Tiny's pre-made 96x96 set; images are resized to the config's size if they are not at it already.
A split is made by a hash of each file name, so it is stable whatever order files are listed in.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tinyzoo.common.data.cifar10 import ImageSet
from tinyzoo.common.errors import DatasetNotFoundError

CLASSES = ["non_person", "person"]
FOLDER = "vww96"


def _load(path: Path, size: int) -> np.ndarray:
    image = Image.open(path).convert("RGB")
    if image.size != (size, size):
        image = image.resize((size, size), Image.BILINEAR)
    return np.asarray(image)


def from_folder(root: str | Path, size: int = 96, source: str | None = None,
                skipped: list[tuple[str, str]] | None = None) -> ImageSet:
    """Every image under non_person/ and person/. An unreadable image is an error naming it, or, given a
    `skipped` list, is left out and recorded there as (file, reason)."""
    root = Path(root)
    candidates = [root / FOLDER, root]
    folder = next((c for c in candidates if all((c / k).is_dir() for k in CLASSES)), None)
    if folder is None:
        raise DatasetNotFoundError(
            f"Visual Wake Words not found: looked for non_person/ and person/ in "
            f"{', '.join(str(c) for c in candidates)}. Build it from COCO 2014 with common.data.vww.from_coco "
            f"(images + instances_*.json from cocodataset.org), or point --data-root at a folder in that layout.")
    files = [(p, k) for k, name in enumerate(CLASSES) for p in sorted((folder / name).iterdir())
             if p.suffix.lower() in (".png", ".jpg", ".jpeg")]
    loaded = []
    for p, k in files:
        try:
            loaded.append((p, k, _load(p, size)))
        # PIL's UnidentifiedImageError is an OSError
        except (OSError, ValueError, Image.DecompressionBombError) as err:
            if skipped is None:
                raise DatasetNotFoundError(f"cannot read the image {p} ({err}): replace or delete it") from None
            skipped.append((f"{p.parent.name}/{p.name}", str(err)))
    files = [(p, k) for p, k, _ in loaded]
    images = np.stack([a for _, _, a in loaded]) if loaded else np.zeros((0, size, size, 3), np.uint8)
    return ImageSet(torch.from_numpy(images.transpose(0, 3, 1, 2).copy()), torch.tensor([k for _, k in files]),
                    [f"{p.parent.name}/{p.name}" for p, _ in files], [source or folder.name] * len(files),
                    list(CLASSES))


def person_labels(instances: dict, min_area_fraction: float = 0.005) -> dict[str, int]:
    """VWW labels from a COCO instances file: file name → 1 if a person box covers > min_area_fraction."""
    person = next(c["id"] for c in instances["categories"] if c["name"] == "person")
    area = {img["id"]: img["width"] * img["height"] for img in instances["images"]}
    positive = {a["image_id"] for a in instances["annotations"]
                if a["category_id"] == person and a["bbox"][2] * a["bbox"][3] > min_area_fraction * area[a["image_id"]]}
    return {img["file_name"]: int(img["id"] in positive) for img in instances["images"]}


def from_coco(images_dir: str | Path, instances_json: str | Path, size: int = 96,
              min_area_fraction: float = 0.005) -> ImageSet:
    labels = person_labels(json.loads(Path(instances_json).read_text()), min_area_fraction)
    names = sorted(n for n in labels if (Path(images_dir) / n).exists())
    if not names:
        raise DatasetNotFoundError(f"none of the images named in {instances_json} are in {images_dir}")
    images = np.stack([_load(Path(images_dir) / n, size) for n in names])
    return ImageSet(torch.from_numpy(images.transpose(0, 3, 1, 2).copy()), torch.tensor([labels[n] for n in names]),
                    names, ["coco"] * len(names), list(CLASSES))


def split(images: ImageSet, test_fraction: float, salt: str = "tinyzoo-vww") -> tuple[ImageSet, ImageSet]:
    """A stable train/test split by a hash of each id, per class (so both keep the class balance)."""
    def score(i):
        return int.from_bytes(hashlib.sha1(f"{salt}|{images.ids[i]}".encode()).digest()[:8], "big")
    train, test = [], []
    for k in range(len(images.label_names)):
        members = sorted((i for i in range(len(images)) if int(images.labels[i]) == k), key=score)
        cut = int(round(len(members) * test_fraction))
        test += members[:cut]
        train += members[cut:]
    return images.subset(sorted(train)), images.subset(sorted(test))
