"""Publish a built model to its Hugging Face repo — the card as README.md, the artifacts, and its index entry
pinned to the new commit — or, with --dry-run, write the exact upload tree to a folder and upload nothing.

    .venv/bin/python scripts/publish_hub.py kws/ds_cnn --dry-run /tmp/upload     # inspect what would go up
    HF_TOKEN=hf_... .venv/bin/python scripts/publish_hub.py kws/ds_cnn [--repo-id org/name]

Run after `tinyzoo build <model> --publish` and `tinyzoo index`; commit the updated zoo/index.json.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from tinyzoo import hub
from tinyzoo.common.errors import TinyzooError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("--repo-id", help="default: the index's repo for the model (tinyzoo/<task>-<model>)")
    parser.add_argument("--dry-run", type=Path, metavar="DIR", help="write the upload tree to DIR, upload nothing")
    args = parser.parse_args(argv)
    try:
        index = hub.load_index()
        if args.dry_run:
            files = hub.upload_tree(args.model, args.dry_run, index)
            for f in files:
                print(f"{f.stat().st_size:>10}  {f.relative_to(args.dry_run)}")
            print(f"dry run: {len(files)} files in {args.dry_run}; nothing uploaded")
            return 0
        from huggingface_hub import HfApi

        repo_id = args.repo_id or index["models"][args.model]["hub"]["repo_id"]
        api = HfApi()
        api.create_repo(repo_id, repo_type="model", exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            hub.upload_tree(args.model, Path(tmp), index)
            commit = api.upload_folder(repo_id=repo_id, folder_path=tmp, repo_type="model",
                                       commit_message=f"tinyzoo: publish {args.model}")
        revision = commit.oid
        hub.write_index(hub.build_index(hubs={args.model: {"repo_id": repo_id, "revision": revision}}))
        print(f"uploaded {args.model} to {repo_id}@{revision}; zoo/index.json pins it — commit it")
        return 0
    except TinyzooError as err:
        print(f"publish_hub: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
