"""What a build publishes (zoo/artifacts/<task>/<model>/, the Hub repos, the index): one list, read by the
pipeline that writes the files and by the hub code that indexes and downloads them; and where the checkout is."""
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent   # the repository root (recipes/, zoo/, cards/ beside common/)

MODEL_FILES = ("checkpoint.pt", "model_int8.pt2", "config.resolved.yaml", "calibration.txt", "metrics.json",
               "reference_input.bin",
               "tokenizer.model", "embedding_int8.bin")   # language models: tokenizer and int8 embedding table
TARGET_FILES = ("model.pte", "model.bpte", "model.tosa", "reference_output.bin",
                "decode_step/model.pte")   # language models: the KV-cache decode step's program
