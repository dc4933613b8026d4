"""TinyStories (Eldan & Li, 2023): short stories in simple English, for the tiny language-model recipes.

Reads the official `.txt` release format — the train file's stories separated by a line `<|endoftext|>` — and
plain-text exports where stories are separated by blank lines. The full files come from the dataset's Hugging
Face repository (`download`); a subset in the same format works unchanged (e.g. ../shared/datasets/tinystories).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tinyzoo.common.errors import DatasetNotFoundError

HF_REPO = "roneneldan/TinyStories"
OFFICIAL_FILES = {"train": "TinyStories-train.txt", "validation": "TinyStories-valid.txt"}
SUBSET_FILES = {"train": "TinyStories-train.subset.txt", "validation": "TinyStories-valid.subset.txt"}
END_OF_TEXT = "<|endoftext|>"


@dataclass
class Stories:
    split: str
    path: Path
    stories: list[str]

    def __len__(self) -> int:
        return len(self.stories)

    def head(self, count: int | None) -> "Stories":
        """The first `count` stories (all when None)."""
        return self if not count else Stories(self.split, self.path, self.stories[:count])

    def summary(self) -> dict:
        return {"stories": len(self.stories), "words": sum(len(s.split()) for s in self.stories),
                "bytes": sum(len(s.encode()) for s in self.stories), "file": self.path.name}


def find_file(root: str | Path, split: str) -> Path:
    """The split's text file under `root` (or `root/tinystories`): the official name, else the subset's; `root`
    may also be the validation text file itself (a user's own text to evaluate on), never the training one."""
    root = Path(root)
    if root.is_file():
        if split == "validation":
            return root
        raise DatasetNotFoundError(f"--data-root {root} is a file: a build needs the folder with both the training "
                                   f"and the validation text ({OFFICIAL_FILES['train']}, "
                                   f"{OFFICIAL_FILES['validation']})")
    for folder in (root, root / "tinystories"):
        for name in (OFFICIAL_FILES[split], SUBSET_FILES[split]):
            if (folder / name).is_file():
                return folder / name
    raise DatasetNotFoundError(
        f"no TinyStories {split} file under {root} (looked for {OFFICIAL_FILES[split]} or {SUBSET_FILES[split]}, "
        f"also in {root / 'tinystories'}). Download it with `tinyzoo data tinystories --download --data-root {root}` "
        f"or pass --data-root to the folder that holds it.")


def split_stories(text: str) -> list[str]:
    """Stories of a release file, whitespace normalised: `<|endoftext|>`-separated when the marker is there;
    otherwise (the validation export marks no story boundary) each blank-line-separated block is one unit."""
    if END_OF_TEXT in text:
        parts = text.split(END_OF_TEXT)
    else:
        parts = text.split("\n\n")
    return [" ".join(p.split()) for p in parts if p.strip()]


def load(root: str | Path, split: str) -> Stories:
    if split not in OFFICIAL_FILES:
        raise ValueError(f"unknown TinyStories split {split!r}: train or validation")
    path = find_file(root, split)
    text = path.read_text(encoding="utf-8", errors="strict")
    stories = split_stories(text)
    if not stories:
        raise DatasetNotFoundError(f"{path} holds no text; the file is empty or truncated — download it again")
    return Stories(split, path, stories)


def download(root: str | Path, splits=("train", "validation")) -> list[Path]:
    """The official release files from the Hugging Face Hub (1.9 GB train, 19 MB validation) into `root`,
    through huggingface_hub's cache (resumable, checksummed by the Hub's ETag; HF_ENDPOINT honoured)."""
    import shutil

    from huggingface_hub import hf_hub_download

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for split in splits:
        cached = Path(hf_hub_download(HF_REPO, OFFICIAL_FILES[split], repo_type="dataset"))
        dest = root / OFFICIAL_FILES[split]
        tmp = dest.with_name(dest.name + ".part")
        shutil.copyfile(cached, tmp)
        tmp.replace(dest)
        paths.append(dest)
    return paths
