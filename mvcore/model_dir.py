"""A model folder as training writes it, whole or not at all:

    model.keras     the segmenter (weights, no optimiser state)
    locator.keras   the locator, where the recipe has one
    config.json     the TrainConfig it was trained with (mvcore.config)
    metrics.json    validation figures after each stage, the chosen threshold, the quality check
    intensity.json  the training clips' grey levels that clips are matched to (mvcore.intensity),
                    where the recipe matches them
    history.csv     one row per epoch of every stage
    curves.png      loss and validation IoU per epoch

mvcore.predict.Segmenter.load reads it back.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import uuid
from pathlib import Path

import keras
import numpy as np

from .config import TrainConfig, save_config
from .intensity import save_reference


def write_model_dir(out_dir: Path, model, locator, config: TrainConfig, metrics: dict, history: list[dict],
                    intensity: np.ndarray | None = None) -> None:
    """Write every file of a model folder into a temporary sibling, then move it into place.

    `intensity`: grey levels float64 (101,) for intensity.json, or None for no such file."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    partial = out_dir.parent / f".{out_dir.name}.partial-{uuid.uuid4().hex}"
    partial.mkdir()  # 0777 less the umask, as any folder the user makes (mkdtemp's would be private)
    try:
        weights_only_copy(model).save(partial / "model.keras")
        if locator is not None:
            weights_only_copy(locator).save(partial / "locator.keras")
        save_config(config, partial / "config.json")
        if intensity is not None:
            save_reference(intensity, partial / "intensity.json")
        (partial / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        write_history(history, partial / "history.csv")
        plot_curves(history, partial / "curves.png")
        if out_dir.exists():
            out_dir.rmdir()
        os.replace(partial, out_dir)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def weights_only_copy(model):
    """The same network and weights without optimizer state (a third of the file size), its batch
    norms unsynchronised: synchronised ones (a training on several TensorFlow devices,
    mvcore.distribute) would load on TensorFlow only, and predict alike."""
    config = model.get_config()
    for layer in config["layers"]:
        if "synchronized" in layer["config"]:
            layer["config"]["synchronized"] = False
    copy = keras.Model.from_config(config)
    copy.set_weights(model.get_weights())
    return copy


def write_history(history: list[dict], path: Path) -> None:
    """One CSV row per epoch of every stage."""
    fields = ["stage", "epoch", "epochs", "loss", "val_loss", "iou", "val_iou", "seconds"]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(history)


def plot_curves(history: list[dict], path: Path) -> None:
    """Loss and validation IoU per epoch, one colour per stage, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for stage in dict.fromkeys(row["stage"] for row in history):
        rows = [r for r in history if r["stage"] == stage]
        epochs = [r["epoch"] for r in rows]
        axes[0].plot(epochs, [r["loss"] for r in rows], label=f"{stage} train")
        axes[0].plot(epochs, [r["val_loss"] for r in rows], "--", label=f"{stage} val")
        axes[1].plot(epochs, [r["val_iou"] for r in rows], label=stage)
    axes[0].set(title="loss", xlabel="epoch")
    axes[1].set(title="validation IoU (crop, threshold 0.5)", xlabel="epoch", ylim=(0, 1))
    for ax in axes:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
