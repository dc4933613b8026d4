"""Build kws/ds_cnn end to end: data → MFCC → train → int8 → Ethos-U .pte per target → TOSA-reference
verification → Vela report → model card.

    tinyzoo build kws/ds_cnn --data-root DIR            # or: python -m recipes.kws.ds_cnn.train ...
"""
from __future__ import annotations

from pathlib import Path


from common import kws, pipeline, recipe
from common.config import build_model, resolved
from common.train import fit, seed_everything

NAME = "kws/ds_cnn"
HERE = Path(__file__).resolve().parent


def main(argv=None) -> Path:
    args = recipe.arguments(NAME, argv)
    cfg = recipe.config(HERE, args)
    build = recipe.build_dir(NAME, args)
    seed_everything(cfg["train"]["seed"])

    # 1. Data: real Speech Commands clips (+ synthetic speech) for training, the real test split for testing.
    data = kws.load(cfg, args.data_root)
    train_transform = kws.TrainTransform(cfg, data.noise)
    validation = (kws.features_of(data.validation, cfg["frontend"]), data.validation.labels) if len(data.validation) else None

    # 2-3. Float model, trained on augmented MFCC features.
    model = build_model(cfg)
    trained = fit(model, data.train, cfg["train"], build / "checkpoint.pt", batch_transform=train_transform,
                  eval_set=validation, resume=not args.no_resume)

    # 4-7. int8 (PTQ on the committed calibration clips, optionally QAT), lowering, verification, Vela report.
    calibration = recipe.calibration_indices(data.train.ids, HERE, build, count=cfg["quantize"]["ptq"]["samples"],
                                             seed=cfg["train"]["seed"],
                                             new=args.new_calibration or args.profile == "quick")
    calibration_features = kws.features_of(data.train.subset(calibration), cfg["frontend"])
    test_features = kws.features_of(data.test, cfg["frontend"])
    example = (test_features[:1],)

    def qat_train(qat_model, qat_cfg):
        fit(qat_model, data.train, {**cfg["train"], "epochs": qat_cfg["epochs"], "lr": qat_cfg["lr"],
                                    "lr_schedule": "cosine", "warmup_epochs": 0},
            build / "qat_checkpoint.pt", batch_transform=train_transform, resume=False)

    deployed = pipeline.deploy(model, cfg, example_inputs=example, calibration=calibration_features,
                               test_features=test_features, test_labels=data.test.labels, build_dir=build,
                               qat_train=qat_train)

    # 8. Metrics → card.
    metrics = pipeline.recipe_metrics(
        NAME, cfg, args, model, example, trained, deployed,
        data={"train": data.train.summary(), "test": data.test.summary(),
              "validation": data.validation.summary() if len(data.validation) else None,
              "data_root": str(data.data_root), "synthetic": data.synthetic.describe() if data.synthetic else None},
        reproduce=f"tinyzoo build {NAME} --data-root <dir with SpeechCommands/>")
    return pipeline.finish(metrics, resolved(cfg), build, publish=args.publish)


if __name__ == "__main__":
    main()
