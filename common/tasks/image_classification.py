"""Image classification: RGB images → class scores (recipes/vision/*). Data, front end and evaluation:
common/vision.py; the app: common/firmware/apps/image_classification.cpp."""
from __future__ import annotations

from tinyzoo.common.tasks import Classification, numel


class ImageClassification(Classification):
    name = "image-classification"

    def load_data(self, cfg, root, build_dir):
        """The training images (+ extra folders); the test split for testing only."""
        from tinyzoo.common import vision

        return vision.load(cfg, root)

    def training(self, cfg, data) -> dict:
        """Random crop + flip, then the preprocessing, per batch."""
        from tinyzoo.common import vision

        return {"batch_transform": vision.TrainTransform(cfg)}

    def features_of(self, images, frontend_cfg):
        from tinyzoo.common import vision

        return vision.features_of(images, frontend_cfg)

    def data_summary(self, cfg, data) -> dict:
        return {"train": data.train.summary(), "test": data.test.summary(), "data_root": str(data.data_root)}

    def data_hint(self, cfg) -> str:
        from tinyzoo.common import vision

        return vision.DATA_HINTS[cfg["data"]["dataset"]]

    def eval_features(self, cfg, root, log=print):
        from tinyzoo.common import vision

        return vision.eval_features(cfg, root, log=log)

    def teacher_view(self, teacher, teacher_cfg, cfg):
        """A teacher whose image front end differs only in its mean and std gets its own features of the same
        (augmented) image: an exact per-channel affine map of the student's (common/vision.py TeacherOnItsFeatures)."""
        from tinyzoo.common import vision

        mine, theirs = cfg["frontend"], teacher_cfg["frontend"]
        if theirs.get("type") == "image" and theirs["size"] == mine["size"] and theirs != mine \
                and teacher_cfg["data"].get("labels") == cfg["data"].get("labels"):
            return vision.TeacherOnItsFeatures(teacher, mine, theirs)
        return super().teacher_view(teacher, teacher_cfg, cfg)

    def transforms(self, cfg, artifacts):
        from tinyzoo.common.frontend.transforms import ImageFeatures

        return ImageFeatures(cfg).eval()

    def app_buffer_bytes(self, metrics, program=None) -> int:
        """One RGB frame at the model's size (3*H*W bytes), the int8 input and the float class scores
        (common/firmware/apps/image_classification.cpp)."""
        inputs = numel(metrics["model_info"]["input"]["shape"])
        return inputs + inputs + 4 * self.classes(metrics)


TASK = ImageClassification()
