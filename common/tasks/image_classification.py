"""Image classification: RGB images → class scores (recipes/vision/*). Data, front end and evaluation:
common/vision.py; the app: common/firmware/apps/image_classification.cpp."""
from __future__ import annotations

from tinyzoo.common.tasks import Classification


class ImageClassification(Classification):
    name = "image-classification"

    def build(self, name, recipe_dir, argv=None, **options):
        from tinyzoo.common import vision

        return vision.build(name, recipe_dir, argv, **options)

    def eval_features(self, cfg, root, log=print):
        from tinyzoo.common import vision

        return vision.eval_features(cfg, root, log=log)

    def transforms(self, cfg, artifacts):
        from tinyzoo.common.frontend.transforms import ImageFeatures

        return ImageFeatures(cfg).eval()

    def app_buffer_bytes(self, metrics) -> int:
        """One RGB frame at the model's size (3*H*W bytes), the int8 input and the float class scores
        (common/firmware/apps/image_classification.cpp)."""
        numel = 1
        for d in metrics["model_info"]["input"]["shape"]:
            numel *= d
        return numel + numel + 4 * self.classes(metrics)


TASK = ImageClassification()
