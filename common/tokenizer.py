"""A small subword tokenizer trained on the recipe's own training text: SentencePiece BPE with byte fallback
(every byte sequence encodes; no unknown token), the format llama2.c's TinyStories models and ExecuTorch's
pytorch_tokenizers read. The trained model file (`tokenizer.model`) ships with the artifacts."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Iterable

from tinyzoo.common.errors import ArtifactError, ConfigError

BOS, EOS = 1, 2


class Tokenizer:
    def __init__(self, model_proto: bytes):
        import sentencepiece as spm

        self.proto = model_proto
        self.sp = spm.SentencePieceProcessor(model_proto=model_proto)

    @classmethod
    def load(cls, path: str | Path) -> "Tokenizer":
        path = Path(path)
        if not path.is_file():
            raise ArtifactError(f"tokenizer {path} does not exist: build the model first (it is trained with it)")
        return cls(path.read_bytes())

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(self.proto)
        tmp.replace(path)
        return path

    @property
    def vocab_size(self) -> int:
        return self.sp.get_piece_size()

    def encode(self, text: str) -> list[int]:
        return self.sp.encode(text)

    def decode(self, ids: Iterable[int]) -> str:
        return self.sp.decode([int(i) for i in ids])


def train_tokenizer(texts: Iterable[str], cfg: dict) -> Tokenizer:
    """BPE on `texts` with the config's vocab_size; deterministic (one thread)."""
    import sentencepiece as spm

    if cfg.get("type", "sentencepiece_bpe") != "sentencepiece_bpe":
        raise ConfigError(f"unknown tokenizer type {cfg.get('type')!r}: sentencepiece_bpe")
    model = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(list(texts)), model_writer=model, vocab_size=int(cfg["vocab_size"]),
            model_type="bpe", byte_fallback=True, character_coverage=1.0, split_digits=True, num_threads=1,
            max_sentence_length=1 << 16, unk_id=0, bos_id=BOS, eos_id=EOS, pad_id=-1, minloglevel=2)
    except RuntimeError as err:  # e.g. fewer pieces than the 256 byte pieces + characters of the text need
        raise ConfigError(f"tokenizer.vocab_size {cfg['vocab_size']} does not work for this text: "
                          f"{str(err).split(']')[-1].strip()}") from None
    return Tokenizer(model.getvalue())
