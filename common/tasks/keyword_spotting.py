"""Keyword spotting: 1-s waveforms → MFCC → class scores (recipes/kws/*). Data, front end and evaluation:
common/kws.py; the app: common/firmware/apps/keyword_spotting.cpp."""
from __future__ import annotations

from tinyzoo.common.tasks import Classification, numel


class KeywordSpotting(Classification):
    name = "keyword-spotting"

    def load_data(self, cfg, root, build_dir):
        """Real Speech Commands clips (+ synthetic speech) for training, the real test split for testing."""
        from tinyzoo.common import distributed, kws

        with distributed.main_first():   # process 0 synthesises (and caches) the speech, the others read the cache
            return kws.load(cfg, root)

    def training(self, cfg, data) -> dict:
        """Augmented waveforms → MFCC → SpecAugment per batch; the validation split scored after every epoch."""
        from tinyzoo.common import kws

        validation = ((kws.features_of(data.validation, cfg["frontend"]), data.validation.labels)
                      if len(data.validation) else None)
        return {"batch_transform": kws.TrainTransform(cfg, data.noise), "eval_set": validation}

    def features_of(self, clips, frontend_cfg):
        from tinyzoo.common import kws

        return kws.features_of(clips, frontend_cfg)

    def data_summary(self, cfg, data) -> dict:
        return {"train": data.train.summary(), "test": data.test.summary(),
                "validation": data.validation.summary() if len(data.validation) else None,
                "data_root": str(data.data_root), "synthetic": data.synthetic.describe() if data.synthetic else None}

    def data_hint(self, cfg) -> str:
        return "dir with SpeechCommands/"

    def default_data_root(self):
        """$TINYZOO_DATA, else the small real Speech Commands sample the package ships."""
        from tinyzoo.common import kws

        return kws.default_data_root()

    def eval_features(self, cfg, root, log=print):
        from tinyzoo.common import kws

        return kws.eval_features(cfg, root, log=log)

    def transforms(self, cfg, artifacts):
        from tinyzoo.common.frontend.transforms import WaveformFeatures

        return WaveformFeatures(cfg).eval()

    def app_buffer_bytes(self, metrics, program=None) -> int:
        """One clip of int16 audio, the float MFCC matrix, the MFCC workspace, the int8 input and the float
        class scores (common/firmware/apps/keyword_spotting.cpp)."""
        info, front = metrics["model_info"], metrics["frontend"]
        inputs = numel(info["input"]["shape"])
        sr = int(front["sample_rate"])
        win = round(front["window_ms"] * sr / 1000)
        n_fft, mels, mfcc = int(front["n_fft"]), int(front["n_mels"]), int(front["n_mfcc"])
        workspace = win + n_fft + n_fft + 2 + 2 * (n_fft // 2 + 1) + mels + mels * mfcc
        clip = int(metrics.get("config", {}).get("data", {}).get("clip_samples", sr))
        return inputs + 2 * clip + 4 * inputs + 4 * workspace + 4 * self.classes(metrics)

    def header_task(self, cfg, metrics, source, **kwargs) -> list[str]:
        from tinyzoo.common.firmware import header_lines

        labels = metrics.get("labels") or cfg.get("data", {}).get("labels") or []
        lines = super().header_task(cfg, metrics, source, **kwargs)
        return lines + (header_lines.kws_lines(labels, cfg.get("postprocess")) if labels else [])


TASK = KeywordSpotting()
