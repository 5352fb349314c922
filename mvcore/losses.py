"""Losses and training metrics on probability maps, in `keras.ops` (any Keras backend).

Shapes: `y_true`, `y_pred` float (B, H, W, 1), `y_true` in [0, 1] (soft where resizing blurred it).
"""

from __future__ import annotations

from keras import ops

EPS = 1.0


def _sums(y_true, y_pred):
    """Per-sample (intersection, union) of soft masks: two (B,) tensors."""
    y_true = ops.cast(y_true, y_pred.dtype)
    inter = ops.sum(y_true * y_pred, axis=(1, 2, 3))
    union = ops.sum(y_true, axis=(1, 2, 3)) + ops.sum(y_pred, axis=(1, 2, 3)) - inter
    return inter, union


def _bce(y_true, y_pred):
    """Mean pixel-wise binary cross-entropy per sample. (B,)"""
    p = ops.clip(y_pred, 1e-6, 1.0 - 1e-6)
    return -ops.mean(y_true * ops.log(p) + (1.0 - y_true) * ops.log(1.0 - p), axis=(1, 2, 3))


def soft_iou_loss(y_true, y_pred):
    """1 - soft Jaccard index per sample (the user's choice of loss). (B,)"""
    inter, union = _sums(y_true, y_pred)
    return 1.0 - (inter + EPS) / (union + EPS)


def dice_bce_loss(y_true, y_pred):
    """Soft Dice loss plus pixel-wise binary cross-entropy, per sample. (B,)"""
    y_true = ops.cast(y_true, y_pred.dtype)
    inter = ops.sum(y_true * y_pred, axis=(1, 2, 3))
    total = ops.sum(y_true, axis=(1, 2, 3)) + ops.sum(y_pred, axis=(1, 2, 3))
    dice = 1.0 - (2.0 * inter + EPS) / (total + EPS)
    return dice + _bce(y_true, y_pred)


def iou_bce_loss(y_true, y_pred):
    """Soft IoU loss plus binary cross-entropy: IoU's target with BCE's steady gradients. (B,)"""
    y_true = ops.cast(y_true, y_pred.dtype)
    return soft_iou_loss(y_true, y_pred) + _bce(y_true, y_pred)


def iou_focal_loss(y_true, y_pred, gamma: float = 2.0):
    """Soft IoU loss plus focal cross-entropy (well-classified pixels count less). (B,)"""
    y_true = ops.cast(y_true, y_pred.dtype)
    p = ops.clip(y_pred, 1e-6, 1.0 - 1e-6)
    p_true = y_true * p + (1.0 - y_true) * (1.0 - p)
    focal = -ops.mean((1.0 - p_true) ** gamma * ops.log(p_true), axis=(1, 2, 3))
    return soft_iou_loss(y_true, y_pred) + focal


LOSSES = {"iou": soft_iou_loss, "dice_bce": dice_bce_loss, "iou_bce": iou_bce_loss, "iou_focal": iou_focal_loss}


def hard_iou(y_true, y_pred):
    """Metric: IoU of the masks thresholded at 0.5, averaged over the batch; empty vs empty is 1."""
    t = ops.cast(y_true > 0.5, "float32")
    p = ops.cast(y_pred > 0.5, "float32")
    inter = ops.sum(t * p, axis=(1, 2, 3))
    union = ops.sum(ops.maximum(t, p), axis=(1, 2, 3))
    return ops.mean(ops.where(union > 0, inter / ops.maximum(union, 1.0), 1.0))
