"""One fit of a network: compile with Adam, train epoch by epoch on augmented batches, report each
epoch as an event.

Each epoch's batches are drawn from their `keras.utils.PyDataset` into arrays first, and the
network is fitted on those arrays (on TensorFlow through a `tf.data` set without autotuning:
`mvcore.distribute.fit_feed`). Fitting the PyDataset itself goes through `tf.data`'s
generator on the TensorFlow backend, and each step took 1.1 to 2.7 times as long on a 2-core CPU
(up to 2.7 s against 1.0 to 1.2 s for the default segmenter's batch of 16; BENCHMARKS.md),
whatever the work of drawing the batches. The moving average of the weights (`Stage.ema`) is kept by a
callback, so it spans the whole stage rather than one epoch's fit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import keras
import numpy as np

from .config import TrainConfig
from .distribute import Placement, place, process_share, shard_ready
from .losses import LOSSES, hard_iou

Event = dict
SCHEDULES = ("constant", "cosine")
EMA_MOMENTUM = 0.99  # the weight average forgets with a half-life of about 70 steps


@dataclass(frozen=True)
class Stage:
    """One fit of the recipe: its name ('locator', 'stage1', 'stage2'), epochs, Adam's learning rate,
    the loss (a key of mvcore.losses.LOSSES), the rate's schedule and whether the weights end as
    their moving average (EMA, about the last 100 steps)."""

    name: str
    epochs: int
    lr: float
    loss: str
    schedule: str = "constant"
    ema: bool = False

    @classmethod
    def of(cls, config: TrainConfig, name: str) -> "Stage":
        """The stage `name` as `config` sets it (the locator keeps its own loss and no EMA)."""
        if name == "locator":
            return cls(name, config.locator_epochs, config.lr_stage1, "dice_bce", config.lr_schedule)
        if name == "stage1":
            return cls(name, config.epochs_stage1, config.lr_stage1, config.loss, config.lr_schedule, config.ema)
        return cls(name, config.epochs_stage2, config.lr_stage2, config.loss, config.lr_schedule, config.ema)


class EpochReporter(keras.callbacks.Callback):
    """Turns epoch ends into events for the caller (progress bar, job file) and history rows."""

    def __init__(self, stage: str, epochs: int, on_event: Callable[[Event], None], history: list):
        super().__init__()
        self.stage, self.epochs, self.on_event, self.history = stage, epochs, on_event, history
        self.started = time.time()

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.time()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        row = {"stage": self.stage, "epoch": epoch + 1, "epochs": self.epochs,
               "loss": float(logs.get("loss", np.nan)), "val_loss": float(logs.get("val_loss", np.nan)),
               "iou": float(logs.get("hard_iou", np.nan)), "val_iou": float(logs.get("val_hard_iou", np.nan)),
               "seconds": round(time.time() - self.started, 2)}
        self.history.append(row)
        self.on_event(dict(row, kind="epoch"))


class WeightAverage(keras.callbacks.Callback):
    """The exponential moving average (EMA_MOMENTUM per step) of the trainable weights, from the
    stage's first step on; `apply` puts it into the network."""

    def __init__(self):
        super().__init__()
        self.average: list[np.ndarray] | None = None

    def on_train_batch_end(self, batch, logs=None):
        weights = [keras.ops.convert_to_numpy(v) for v in self.model.trainable_weights]
        if self.average is None:
            self.average = weights
            return
        for average, weight in zip(self.average, weights):
            average *= EMA_MOMENTUM
            average += (1.0 - EMA_MOMENTUM) * weight

    def apply(self, model) -> None:
        if self.average is not None:
            for variable, average in zip(model.trainable_weights, self.average):
                variable.assign(average)


def learning_rate(lr: float, schedule: str, steps: int):
    """Adam's learning rate: the number `lr`, or a schedule from `lr` over `steps` optimiser steps.

    `schedule`: one of SCHEDULES (`train.check_recipe` refuses others before training starts).
    """
    if schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(lr, decay_steps=max(1, steps))
    return lr


def drawn(batches: keras.utils.PyDataset) -> tuple[np.ndarray, np.ndarray]:
    """Every batch of `batches`, in order, as (x, y) arrays: one epoch's worth, freshly augmented."""
    pairs = [batches[i] for i in range(len(batches))]
    return np.concatenate([x for x, _ in pairs]), np.concatenate([y for _, y in pairs])


def fit_stage(model, train, val, stage: Stage, on_event: Callable[[Event], None], history: list,
              placement: Placement | None = None) -> None:
    """Compile `model` with Adam as `stage` says and fit it on the batches `train` (a PyDataset with
    a `batch_size`), validating on the batches `val` (None: no validation) and reporting each epoch.

    The schedule 'constant' keeps the learning rate; 'cosine' lowers it along a half cosine to 0 at
    the stage's last step. `placement` (mvcore.distribute; default one device): the devices the
    model was built for, compiled and fitted in its scope, each epoch's examples cut to whole shards.
    """
    placement = placement or place(1)
    rate = learning_rate(stage.lr, stage.schedule, stage.epochs * len(train))
    with placement.scope():
        # the metric's and Adam's variables made now: made inside the first step instead, each costs
        # TensorFlow a second trace of the training step, seconds of a stage's fixed cost on a CPU
        metric = keras.metrics.MeanMetricWrapper(hard_iou, name="hard_iou")
        model.compile(optimizer=keras.optimizers.Adam(rate), loss=LOSSES[stage.loss], metrics=[metric])
        model.optimizer.build(model.trainable_variables)
    on_event({"kind": "stage", "stage": stage.name, "epochs": stage.epochs})
    average = WeightAverage() if stage.ema else None
    callbacks = [EpochReporter(stage.name, stage.epochs, on_event, history)] + ([average] if average else [])
    validation = placement.validation_data(*placed(drawn(val), val.batch_size, placement)) if val is not None else {}
    for epoch in range(stage.epochs):
        data = placement.training_data(*placed(drawn(train), train.batch_size, placement))
        with placement.scope():
            model.fit(**data, **validation, shuffle=False, initial_epoch=epoch, epochs=epoch + 1, verbose=0,
                      callbacks=callbacks)
        train.on_epoch_end()
    if average:
        average.apply(model)


def placed(xy: tuple[np.ndarray, np.ndarray], batch_size: int, placement: Placement):
    """(x, y, batch size) as this process feeds them to `placement`'s devices: whole shards, and its
    share of each global batch where several processes train together (mvcore.distribute)."""
    x, y = shard_ready(*xy, placement)
    x_share, share = process_share(x, batch_size, placement.cluster)
    return x_share, process_share(y, batch_size, placement.cluster)[0], share
