"""Artifact download: the index, mirrors (directory and HTTP) and the Hugging Face Hub (a local stand-in server
speaking its resolve protocol), SHA-256 checks that leave nothing corrupt behind, and offline use of the cache."""
import hashlib
import http.server
import json
import threading
from pathlib import Path

import pytest
from tinyzoo import cli, hub
from tinyzoo.common.errors import ArtifactError, UnknownTargetError

FILES = {"kws/ds_cnn/checkpoint.pt": b"float weights" * 100, "kws/ds_cnn/metrics.json": b"{}",
         "kws/ds_cnn/ethos-u55-128/model.pte": b"PTE" * 1000, "kws/ds_cnn/ethos-u55-128/model.tosa": b"TOSA" * 10}
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def entry(path, data):
    return {"path": path.removeprefix("kws/ds_cnn/"), "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("TINYZOO_MIRROR", raising=False)


@pytest.fixture
def index():
    files = {p: entry(p, d) for p, d in FILES.items()}
    return {"format": 1,
            "models": {"kws/ds_cnn": {
                "hub": {"repo_id": "tinyzoo/kws-ds_cnn", "repo_type": "model", "revision": COMMIT},
                "files": {"checkpoint.pt": files["kws/ds_cnn/checkpoint.pt"],
                          "metrics.json": files["kws/ds_cnn/metrics.json"]},
                "targets": {"ethos-u55-128": {"files": {"model.pte": files["kws/ds_cnn/ethos-u55-128/model.pte"],
                                                        "model.tosa": files["kws/ds_cnn/ethos-u55-128/model.tosa"]}}}}}}


@pytest.fixture
def mirror(tmp_path):
    root = tmp_path / "mirror"
    for rel, data in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


class Server:
    """Serves a folder: as a plain HTTP mirror, and as the Hub's /<repo>/resolve/<revision>/<path>."""

    def __init__(self, root: Path, truncate: bool = False):
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _file(self):
                path = self.path
                prefix = f"/tinyzoo/kws-ds_cnn/resolve/{COMMIT}/"
                if path.startswith(prefix):
                    path = "kws/ds_cnn/" + path[len(prefix):]
                target = root / path.lstrip("/")
                return target if target.is_file() else None

            def _headers(self, data):
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("ETag", '"' + hashlib.sha256(data).hexdigest() + '"')
                self.send_header("X-Repo-Commit", COMMIT)
                self.end_headers()

            def do_HEAD(self):
                f = self._file()
                if f is None:
                    self.send_error(404)
                    return
                self._headers(f.read_bytes())

            def do_GET(self):
                f = self._file()
                if f is None:
                    self.send_error(404)
                    return
                data = f.read_bytes()
                outer.requests += 1
                if truncate:
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data) // 2))
                    self.end_headers()
                    self.wfile.write(data[:len(data) // 2])
                    return
                self._headers(data)
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.requests = 0
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_directory_mirror(index, mirror):
    pte = hub.pull("kws/ds_cnn", "ethos-u55-128", source=str(mirror), index=index)
    assert pte.read_bytes() == FILES["kws/ds_cnn/ethos-u55-128/model.pte"]
    assert (pte.parent.parent / "checkpoint.pt").read_bytes() == FILES["kws/ds_cnn/checkpoint.pt"]
    assert str(pte).startswith(str(hub.cache_dir()))


@pytest.mark.parametrize("damage, message", [(lambda b: b[:-10], "truncated"), (lambda b: b"X" + b[1:], "SHA-256")])
def test_corrupt_mirror_file_is_refused_and_not_kept(index, mirror, damage, message):
    pte = mirror / "kws/ds_cnn/ethos-u55-128/model.pte"
    pte.write_bytes(damage(pte.read_bytes()))
    with pytest.raises(ArtifactError, match=message):
        hub.pull("kws/ds_cnn", "ethos-u55-128", source=str(mirror), index=index)
    cached = hub.cache_dir() / "kws/ds_cnn/ethos-u55-128"
    assert not cached.exists() or not any(cached.iterdir())


def test_http_mirror_and_truncated_download(index, mirror):
    server = Server(mirror)
    try:
        pte = hub.pull("kws/ds_cnn", "ethos-u55-128", source=server.url, index=index)
        assert pte.read_bytes() == FILES["kws/ds_cnn/ethos-u55-128/model.pte"]
    finally:
        server.stop()
    pte.unlink()
    broken = Server(mirror, truncate=True)
    try:
        with pytest.raises(ArtifactError):
            hub.pull("kws/ds_cnn", "ethos-u55-128", source=broken.url, index=index)
    finally:
        broken.stop()
    assert not pte.exists() and not list(pte.parent.glob("*.part"))


def test_hugging_face_hub_download_verify_and_offline(index, mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    import huggingface_hub.constants as constants
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    monkeypatch.delenv("TINYZOO_MIRROR", raising=False)
    server = Server(mirror)
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    try:
        pte = hub.pull("kws/ds_cnn", "ethos-u55-128", index=index)
        assert pte.read_bytes() == FILES["kws/ds_cnn/ethos-u55-128/model.pte"]
        assert str(tmp_path / "hf" / "hub") in str(pte) and COMMIT in str(pte)
        downloads = server.requests
    finally:
        server.stop()
    # the endpoint is gone: the cached, pinned revision still works offline
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    again = hub.pull("kws/ds_cnn", "ethos-u55-128", index=index)
    assert again.read_bytes() == pte.read_bytes() and downloads == 4


def test_hub_download_with_wrong_content_is_deleted(index, mirror, tmp_path, monkeypatch):
    import huggingface_hub.constants as constants
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    (mirror / "kws/ds_cnn/checkpoint.pt").write_bytes(b"something else" * 100)
    server = Server(mirror)
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    try:
        with pytest.raises(ArtifactError, match="SHA-256|bytes instead"):
            hub.pull("kws/ds_cnn", index=index)
    finally:
        server.stop()
    leftovers = [p for p in (tmp_path / "hf").rglob("*") if p.is_file() and p.stat().st_size == 1400]
    assert leftovers == []


def test_unknown_target_and_unpublished_model(index):
    with pytest.raises(UnknownTargetError, match="ethos-u55-128"):
        hub.files_for("kws/ds_cnn", "ethos-u85-256", index)


def test_pull_cli_prints_the_path(index, mirror, tmp_path, monkeypatch, capsys):
    index_path = tmp_path / "index.json"
    index_path.write_text(json.dumps(index))
    monkeypatch.setattr(hub, "INDEX", index_path)
    monkeypatch.setattr(hub.load_index, "__defaults__", (index_path, False))
    assert cli.main(["pull", "kws/ds_cnn", "--target", "ethos-u55-128", "--source", str(mirror)]) == 0
    assert Path(capsys.readouterr().out.strip()).read_bytes() == FILES["kws/ds_cnn/ethos-u55-128/model.pte"]
    assert cli.main(["pull", "kws/ds_cnn", "--target", "ethos-u99-1", "--source", str(mirror)]) == 2


def test_missing_file_in_mirror_and_on_the_hub(index, mirror, tmp_path, monkeypatch):
    (mirror / "kws/ds_cnn/ethos-u55-128/model.tosa").unlink()
    with pytest.raises(ArtifactError, match="not in the mirror"):
        hub.pull("kws/ds_cnn", "ethos-u55-128", source=str(mirror), index=index)
    import huggingface_hub.constants as constants
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    server = Server(mirror)
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    try:
        with pytest.raises(ArtifactError, match="model.tosa"):
            hub.pull("kws/ds_cnn", "ethos-u55-128", index=index)
    finally:
        server.stop()


def test_committed_index_is_generated_from_the_artifacts():
    committed = hub.load_index()
    assert hub.build_index() == committed
    model = committed["models"]["kws/ds_cnn"]
    assert model["input"]["dtype"] == "int8" and len(model["labels"]) == 12
    assert set(model["targets"]) >= {"ethos-u55-128", "ethos-u85-256"}
    assert model["targets"]["ethos-u55-128"]["files"]["model.pte"]["size"] > 10_000


def test_publish_dry_run_writes_the_exact_upload_tree(tmp_path):
    import runpy

    publish = runpy.run_path(str(Path(__file__).resolve().parent.parent / "scripts" / "publish_hub.py"))
    assert publish["main"](["kws/ds_cnn", "--dry-run", str(tmp_path / "up")]) == 0
    up = tmp_path / "up"
    readme = (up / "README.md").read_text()
    assert readme.startswith("---\n") and "model-index" in readme and "](confusion.png)" in readme
    assert (up / "confusion.png").exists()
    model = hub.load_index()["models"]["kws/ds_cnn"]
    for t, info in model["targets"].items():
        pte = info["files"]["model.pte"]
        assert hub.sha256_of(up / pte["path"]) == pte["sha256"]
    assert hub.sha256_of(up / "checkpoint.pt") == model["files"]["checkpoint.pt"]["sha256"]
    assert sorted(p.name for p in up.iterdir()) == sorted(
        ["README.md", "confusion.png", *model["files"], *model["targets"]])


def test_unpublished_revision_falls_back_to_the_clones_artifacts():
    """Until a model is uploaded and its commit pinned, pull() uses zoo/artifacts (the clone is the mirror)."""
    index = hub.load_index()
    assert not hub.is_pinned(index["models"]["kws/ds_cnn"]["hub"])
    pte = hub.pull("kws/ds_cnn", "ethos-u85-256", index=index)
    expected = index["models"]["kws/ds_cnn"]["targets"]["ethos-u85-256"]["files"]["model.pte"]
    assert hub.sha256_of(pte) == expected["sha256"] and str(pte).startswith(str(hub.cache_dir()))
    assert hub.is_pinned({"revision": COMMIT}) and not hub.is_pinned({"revision": "main"})
