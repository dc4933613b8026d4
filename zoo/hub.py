"""Prebuilt artifacts: the catalogue index (`zoo/index.json`, generated from the published builds) and
`pull()`, which downloads an artifact, checks its SHA-256 against the index and returns a local path.

Every model has its own Hugging Face repo (card as README.md, files as in `zoo/artifacts/<task>/<model>/`:
`checkpoint.pt`, `<target>/model.pte`, …). Sources, in the order `pull` uses them:
  * a mirror — `source=` or $TINYZOO_MIRROR: a plain directory or an http(s) URL laid out like
    `zoo/artifacts/` (`<task>/<model>/<file>`), for air-gapped users and tests;
  * the Hugging Face Hub — the model's repo id and revision pinned in the index, through `huggingface_hub`
    (its cache, `HF_ENDPOINT` for mirrors, `HF_HUB_OFFLINE=1` for cached use without network).
A download whose size or SHA-256 differs from the index raises `ArtifactError` and is not kept, so nothing
corrupt is left in any cache; partial files of a pull that was killed are deleted by the next pull. Cached files
get normal permissions (0644 under the usual umask). A mirror may also be given as a file:// URL.
"""
from __future__ import annotations

import http.client
import json
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path

from tinyzoo import registry
from tinyzoo.common import layout, process, tasks
from tinyzoo.common import targets as ethos_targets
from tinyzoo.common.build_record import sha256_of
from tinyzoo.common.errors import ArtifactError, UnknownTargetError
from tinyzoo.common.layout import checkout

INDEX = Path(__file__).resolve().parent / "index.json"
HUB_ORG = "tinyzoo"


def default_hub(name: str) -> dict:
    """Until a maintainer publishes (scripts/publish_hub.py pins the commit), the repo's main branch."""
    return {"repo_id": f"{HUB_ORG}/{name.replace('/', '-')}", "repo_type": "model", "revision": "main"}



def _entry(folder: Path, rel: str) -> dict:
    path = folder / rel
    return {"path": rel, "size": path.stat().st_size, "sha256": sha256_of(path)}


def build_index(artifacts_root: Path = registry.ARTIFACTS, hubs: dict[str, dict] | None = None) -> dict:
    """The catalogue of every published model, from its artifacts folder and metrics (never typed by hand).
    Each model keeps the Hub repo/revision pinned earlier unless `hubs` gives a new one."""
    old = load_index(missing_ok=True).get("models", {})
    models = {}
    for name in registry.list_models():
        model = registry.get(name)
        folder = Path(artifacts_root) / name
        if not (folder / "metrics.json").exists():
            continue
        m = json.loads((folder / "metrics.json").read_text())
        task = tasks.of(m)
        files = {f: _entry(folder, f) for f in layout.model_files(folder)}
        targets = {}
        for target in sorted(m["targets"]):
            tfiles = {f: _entry(folder, f"{target}/{f}") for f in layout.target_files(folder / target)}
            r = m["targets"][target]
            targets[target] = {"files": tfiles, "cycles": r["cycles"], "inference_time_ms": r["inference_time_ms"],
                               "sram_kib": r["sram_kib"], "flash_kib": r["flash_kib"], "npu_ops": r["npu_ops"],
                               "cpu_ops": r["cpu_ops"], "system_config": r["system_config"],
                               "memory_mode": r["memory_mode"],
                               **task.index_target_quality(m, target)}
        hub = {**default_hub(name), **old.get(name, {}).get("hub", {}), **(hubs or {}).get(name, {})}
        models[name] = {
            "hub": hub, "task": m.get("task"), "title": m.get("title"), "recipe": f"recipes/{name}",
            "card": f"cards/{model.stem}.md",
            "labels": m.get("labels"), "input": m["model_info"]["input"], "output": m["model_info"]["output"],
            "params": m["model_info"]["params"], **task.index_quality(m), "files": files, "targets": targets,
        }
    return {"format": 1, "generated_by": "tinyzoo index", "models": models}


def write_index(index: dict, path: Path = INDEX) -> Path:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
    return path


def load_index(path: Path = INDEX, missing_ok: bool = False) -> dict:
    if not path.exists():
        if missing_ok:
            return {}
        raise ArtifactError(f"no artifact index at {path}; maintainers generate it with `tinyzoo index`")
    return json.loads(path.read_text())


def cache_dir() -> Path:
    return Path(os.environ.get("TINYZOO_CACHE", Path.home() / ".cache" / "tinyzoo")) / "artifacts"


def _verify(path: Path, entry: dict, origin: str, what_now: str) -> None:
    """Raise ArtifactError when `path` is not the file the index lists; `what_now` says what the user can do."""
    size = path.stat().st_size
    if size != entry["size"]:
        raise ArtifactError(f"{origin}: {size} bytes instead of {entry['size']} (truncated or wrong file); {what_now}")
    digest = sha256_of(path)
    if digest != entry["sha256"]:
        raise ArtifactError(f"{origin}: SHA-256 {digest[:16]}… does not match the index ({entry['sha256'][:16]}…), "
                            f"corrupt or from another release; {what_now}")


def mirror_location(source: str) -> str:
    """A mirror as pull() reads it: an http(s) URL, or a local directory (a path or a file:// URL)."""
    if source.startswith("file://"):
        from urllib.parse import urlparse
        from urllib.request import url2pathname
        return url2pathname(urlparse(source).path)
    return source


PART = ".part"


def clean_stale_parts(folder: Path) -> list[Path]:
    """Delete partial downloads left by a pull that was killed: `<name>.<pid>.part` files whose process is gone
    (and `tmp*.part` files of older versions). Returns what was deleted."""
    removed = []
    for part in sorted(Path(folder).rglob(f"*{PART}")) if Path(folder).is_dir() else []:
        pid = part.name[:-len(PART)].rsplit(".", 1)[-1]
        if pid.isdigit() and process.alive(int(pid)):
            continue
        part.unlink(missing_ok=True)
        removed.append(part)
    return removed


def _from_mirror(mirror: str, name: str, entry: dict) -> Path:
    """Copy or download `entry` from a directory / http(s) mirror into the tinyzoo cache, verified."""
    rel = f"{name}/{entry['path']}"
    dest = cache_dir() / rel                # the mirror's layout, so a model's files sit together
    if dest.exists() and dest.stat().st_size == entry["size"] and sha256_of(dest) == entry["sha256"]:
        return dest
    remote = mirror.startswith(("http://", "https://"))
    origin = f"{mirror.rstrip('/')}/{rel}" if remote else str(Path(mirror) / rel)
    tmp = dest.with_name(f"{dest.name}.{os.getpid()}{PART}")   # open() gives it the umask's mode (0644), not 0600
    try:
        _copy_into(tmp, remote, origin, mirror, rel)
        _verify(tmp, entry, origin,
                f"the mirror {mirror} is corrupt or out of date for this file (nothing was kept in the cache): "
                + ("if a download was cut short, pull again; else " if remote else "")
                + "replace the file in the mirror or pull from another source (--source / TINYZOO_MIRROR)")
        tmp.replace(dest)
        return dest
    except OSError as err:          # the cache, not the mirror: unwritable, full
        raise ArtifactError(f"cannot write {dest}: {err}; free some space or set TINYZOO_CACHE to a writable "
                            f"folder") from err
    finally:
        if tmp.is_file():
            tmp.unlink()


def _copy_into(tmp: Path, remote: bool, origin: str, mirror: str, rel: str) -> None:
    """The mirror's file into `tmp`; a mirror that cannot be read is an ArtifactError naming it (an OSError
    left over is about writing the cache)."""
    tmp.parent.mkdir(parents=True, exist_ok=True)
    with open(tmp, "wb") as out:
        if remote:
            try:
                response = urllib.request.urlopen(origin, timeout=60)
            except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
                raise ArtifactError(f"cannot download {origin}: {err}; check the mirror URL and the network, "
                                    f"then pull again") from err
            with response:
                while True:
                    try:
                        block = response.read(1 << 20)
                    except (http.client.HTTPException, OSError) as err:
                        raise ArtifactError(f"the download of {origin} broke off: {err}; pull again") from err
                    if not block:
                        break
                    out.write(block)
            return
        source = Path(mirror) / rel
        if not source.is_file():
            raise ArtifactError(f"{source} is not in the mirror {mirror}")
        try:
            data = open(source, "rb")
        except OSError as err:
            raise ArtifactError(f"cannot read {source} in the mirror {mirror}: {err}") from err
        with data:
            shutil.copyfileobj(data, out)


def _from_hub(hub: dict, entry: dict) -> Path:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        path = Path(hf_hub_download(hub["repo_id"], entry["path"], revision=hub["revision"],
                                    repo_type=hub.get("repo_type", "model"), endpoint=os.environ.get("HF_ENDPOINT")))
    except LocalEntryNotFoundError as err:
        raise ArtifactError(f"{entry['path']} is not in the Hugging Face cache and the Hub cannot be reached "
                            f"({hub['repo_id']}@{hub['revision']}); connect, set HF_ENDPOINT to a mirror, or pass "
                            f"a mirror with --source / TINYZOO_MIRROR") from err
    try:
        _verify(path, entry, f"{hub['repo_id']}@{hub['revision']}/{entry['path']}",
                "deleted the download from the Hugging Face cache — pull again")
    except ArtifactError:
        blob = path.resolve()
        path.unlink(missing_ok=True)
        blob.unlink(missing_ok=True)
        raise
    return path


def is_pinned(hub: dict) -> bool:
    """A Hub revision pinned to a commit (40 hex digits), not a branch that can move."""
    rev = hub.get("revision", "")
    return len(rev) == 40 and all(c in "0123456789abcdef" for c in rev)


def files_for(name: str, target: str | None, index: dict | None = None) -> list[dict]:
    index = index or load_index()
    registry.get(name)  # unknown names get the registry's "did you mean"
    if name not in index["models"]:
        raise ArtifactError(f"{name} has no published artifacts in the index; build it with `tinyzoo build {name}`")
    model = index["models"][name]
    entries = list(model["files"].values())
    if target is not None:
        if target not in model["targets"]:
            ethos_targets.check(target)    # a name that is no Ethos-U target: say so, suggest no export
            raise UnknownTargetError(f"{name} has no artifacts for {target!r}; published targets: "
                                     f"{', '.join(model['targets'])} (or lower it yourself: `tinyzoo export {name} "
                                     f"--target {target}`)")
        entries += list(model["targets"][target]["files"].values())
    return entries


def pull(name: str, target: str | None = None, *, source: str | None = None, index: dict | None = None) -> Path:
    """Fetch a model's artifacts (and one target's, if given), verified against the index. Returns the path of
    the target's `model.pte`, or of the float checkpoint without a target."""
    paths = fetch(name, target, source=source, index=index)
    return paths[f"{target}/model.pte" if target else "checkpoint.pt"]


def fetch(name: str, target: str | None = None, *, source: str | None = None,
          index: dict | None = None, only: set[str] | None = None) -> dict[str, Path]:
    """Every file of a model (and of one target, if given), or with `only` those index paths, verified against the
    index: {index path: local path}."""
    index = index or load_index()
    source = source or os.environ.get("TINYZOO_MIRROR")
    if source is None and name in index["models"] and not is_pinned(index["models"][name]["hub"]) \
            and (registry.ARTIFACTS / name / "checkpoint.pt").is_file():
        # not uploaded to the Hub yet (no pinned commit): the clone's own copy is the mirror
        source = str(registry.ARTIFACTS)
    if source:
        source = mirror_location(source)
    clean_stale_parts(cache_dir() / name)
    paths = {}
    for entry in files_for(name, target, index):
        if only is not None and entry["path"] not in only:
            continue
        paths[entry["path"]] = (_from_mirror(source, name, entry) if source
                                else _from_hub(index["models"][name]["hub"], entry))
    return paths


def upload_tree(name: str, out: Path, index: dict | None = None) -> list[Path]:
    """Lay out a model's Hugging Face repo in `out`: the card as README.md (with its plot and metrics.json) and
    every artifact the index lists, each checked against its SHA-256 (a stale index is refused)."""
    index = index or load_index()
    model = registry.get(name)
    if name not in index["models"]:
        raise ArtifactError(f"{name} is not in the index; build it with --publish and run `tinyzoo index`")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for entry in files_for(name, None, index) + [f for t in index["models"][name]["targets"].values()
                                                 for f in t["files"].values()]:
        source = model.artifacts_dir / entry["path"]
        _verify(source, entry, str(source), f"rebuild {name} with --publish and run `tinyzoo index`")
        dest = out / entry["path"]
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest)
        written.append(dest)
    stem = model.stem
    card = (checkout("staging a Hub repository") / "cards" / f"{stem}.md").read_text().replace(f"({stem}/", "(")
    (out / "README.md").write_text(card)
    written.append(out / "README.md")
    plot = checkout("staging a Hub repository") / "cards" / stem / "confusion.png"
    if plot.exists():
        shutil.copyfile(plot, out / "confusion.png")
        written.append(out / "confusion.png")
    return sorted(set(written))
