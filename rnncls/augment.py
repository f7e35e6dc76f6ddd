"""Augmentation of the training images: random shifts, rotations and zooms.

Each image of step ``s`` is moved by an affine map drawn from a stateless generator
seeded with (seed, s), so the batches of a run are a pure function of its config: a run
resumed from any checkpoint sees the very images the run left alone would have seen.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from rnncls.config_keys import AugmentConfig

# The stateless generator's key for augmentation: (seed, step, AUGMENT_STREAM) keeps
# these draws apart from any other use of the seed.
AUGMENT_STREAM = 1


def affine_images(tf: Any, images: Any, shift: Any, angle: Any, scale: Any) -> Any:
    """Pictures (n, height, width, channels) moved by ``shift`` (n, 2) pixels (x right, y
    down), rotated by ``angle`` (n,) radians about their centre and scaled by ``scale``
    (n,); bilinear, zero outside the picture."""
    height, width = int(images.shape[1]), int(images.shape[2])
    centre_x, centre_y = (width - 1) / 2.0, (height - 1) / 2.0
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    # The map from each output pixel to the input pixel it reads: the inverse of
    # "scale and rotate about the centre, then shift".
    out_x = centre_x + shift[:, 0]
    out_y = centre_y + shift[:, 1]
    a0, a1 = cos, sin
    b0, b1 = -sin, cos
    a2 = centre_x - a0 * out_x - a1 * out_y
    b2 = centre_y - b0 * out_x - b1 * out_y
    zeros = tf.zeros_like(a0)
    transforms = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transforms,
        output_shape=tf.constant([height, width], tf.int32),
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )


def augmenter(tf: Any, config: AugmentConfig, seed: int) -> Callable[[Any, Any], Any] | None:
    """``augment(images, step)`` for float images of one step, or None when ``config``
    leaves images as they are."""
    if not config.enabled:
        return None

    def augment(images: Any, step: Any) -> Any:
        count = tf.shape(images)[0]
        key = tf.stack([tf.constant(seed, tf.int64), tf.cast(step, tf.int64)])
        key = tf.random.experimental.stateless_fold_in(key, AUGMENT_STREAM)
        draws = tf.random.stateless_uniform([count, 4], seed=key, minval=-1.0, maxval=1.0)
        shift = draws[:, :2] * config.shift
        angle = draws[:, 2] * (config.rotation * math.pi / 180.0)
        scale = 1.0 + draws[:, 3] * config.zoom
        return affine_images(tf, images, shift, angle, scale)

    return augment
