"""Segmentation networks, written against Keras 3's backend-neutral API (TF, JAX or PyTorch).

`create_model(name, **kwargs)` builds one from the registry; a new architecture is one function.
"""

from __future__ import annotations

from typing import Callable

import keras
from keras import layers

MODELS: dict[str, Callable[..., keras.Model]] = {}


def register(name: str):
    """Decorator: add a model builder to `MODELS` under `name`."""
    def add(builder):
        MODELS[name] = builder
        return builder
    return add


def create_model(architecture: str, **kwargs) -> keras.Model:
    """Build the registered model `architecture` (see `MODELS`) with the builder's keyword arguments."""
    if architecture not in MODELS:
        raise ValueError(f"unknown model '{architecture}' (known: {', '.join(sorted(MODELS))})")
    return MODELS[architecture](**kwargs)


def conv_block(x, filters: int, name: str, synchronized: bool = False):
    """Two 3x3 convolutions, each followed by batch norm (`synchronized`: its statistics over every
    replica's examples, TensorFlow's MirroredStrategy only) and ReLU."""
    for i in (1, 2):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv{i}")(x)
        x = layers.BatchNormalization(synchronized=synchronized, name=f"{name}_bn{i}")(x)
        x = layers.ReLU(name=f"{name}_relu{i}")(x)
    return x


@register("unet")
def build_unet(size: int = 128, channels: int = 3, base: int = 16, depth: int = 4,
               name: str = "unet", synchronized: bool = False) -> keras.Model:
    """A U-Net: (size, size, channels) float in [0, 1] -> (size, size, 1) probability.

    `depth` poolings, filters doubling from `base`; `size` must be divisible by 2**depth.
    Encoder layers are named `enc{level}_...`, so fine-tuning can freeze the first levels.
    `synchronized`: batch norms over all replicas (mvcore.distribute; saved models drop it).
    """
    if size % (2 ** depth):
        raise ValueError(f"size {size} is not divisible by 2**depth = {2 ** depth}")
    inputs = keras.Input((size, size, channels), name="frames")
    x, skips = inputs, []
    for level in range(depth):
        x = conv_block(x, base * 2 ** level, f"enc{level}", synchronized)
        skips.append(x)
        x = layers.MaxPooling2D(name=f"enc{level}_pool")(x)
    x = conv_block(x, base * 2 ** depth, "bottleneck", synchronized)
    for level in reversed(range(depth)):
        x = layers.Conv2DTranspose(base * 2 ** level, 2, strides=2, name=f"dec{level}_up")(x)
        x = layers.Concatenate(name=f"dec{level}_cat")([x, skips[level]])
        x = conv_block(x, base * 2 ** level, f"dec{level}", synchronized)
    outputs = layers.Conv2D(1, 1, activation="sigmoid", dtype="float32", name="mask")(x)
    return keras.Model(inputs, outputs, name=name)


@register("seed_unet")
def build_seed_unet(size: int = 128, channels: int = 1) -> keras.Model:
    """The seed project's U-Net: 64 base filters, 5 poolings, a 2048-channel bottleneck.

    124 M parameters as built here (the seed reported 66 M: its decoder was lighter).

    Kept as the speed reference for `mvcore bench speed`; too slow to train on a CPU.
    """
    return build_unet(size=size, channels=channels, base=64, depth=5, name="seed_unet")


def freeze_encoder_levels(model: keras.Model, levels: int) -> None:
    """Make the first `levels` encoder levels untrainable (their batch norms keep inference statistics)
    and every other layer trainable: a model saved after its own stage 2 comes back with that stage's
    frozen levels, which fine-tuning with fewer must thaw."""
    prefixes = tuple(f"enc{level}_" for level in range(levels))
    for layer in model.layers:
        layer.trainable = not layer.name.startswith(prefixes)
