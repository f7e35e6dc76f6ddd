"""The optimizer and its learning-rate schedule, built from ``[train]`` in one place."""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import ops

from rnncls.config_keys import TrainConfig

OPTIMIZERS = {
    "adam": keras.optimizers.Adam,
    "adamw": keras.optimizers.AdamW,
    "sgd": keras.optimizers.SGD,
    "rmsprop": keras.optimizers.RMSprop,
}
# The step schedule drops the learning rate this many times, at equal fractions of the
# steps after warm-up, reaching decay_rate times the peak for the last stage.
STEP_DROPS = 2


@keras.saving.register_keras_serializable(package="rnncls")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """A linear warm-up to ``peak`` over ``warmup_steps``, then ``shape`` over the rest
    of ``total_steps``: constant, cosine (to 0), exponential or step (to
    ``decay_rate * peak``). Keras calls it with the number of steps already taken."""

    def __init__(
        self, peak: float, shape: str, total_steps: int, warmup_steps: int, decay_rate: float
    ) -> None:
        self.peak = peak
        self.shape = shape
        self.total_steps = total_steps
        self.warmup_steps = warmup_steps
        self.decay_rate = decay_rate

    def __call__(self, step: Any) -> Any:
        step = ops.cast(step, "float32")
        warmup = float(self.warmup_steps)
        # the fraction of the steps after warm-up already taken, 0 to 1
        decay_steps = max(float(self.total_steps) - warmup, 1.0)
        done = ops.clip((step - warmup) / decay_steps, 0.0, 1.0)
        if self.shape == "cosine":
            factor = 0.5 * (1.0 + ops.cos(math.pi * done))
        elif self.shape == "exponential":
            factor = ops.power(self.decay_rate, done)
        elif self.shape == "step":
            stage = ops.minimum(ops.floor(done * (STEP_DROPS + 1)), float(STEP_DROPS))
            factor = ops.power(self.decay_rate, stage / STEP_DROPS)
        else:
            factor = ops.ones_like(done)
        rate = self.peak * factor
        if self.warmup_steps:
            rate = ops.where(step < warmup, self.peak * (step + 1.0) / warmup, rate)
        return rate

    def get_config(self) -> dict[str, Any]:
        return {
            "peak": self.peak,
            "shape": self.shape,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "decay_rate": self.decay_rate,
        }


def learning_rate(config: TrainConfig, total_steps: int) -> float | WarmupSchedule:
    """The learning rate as Keras takes it: a plain number for a constant rate without
    warm-up (the seed's run, whose floats stay what they were), a schedule otherwise."""
    if config.schedule == "constant" and not config.warmup_steps:
        return config.learning_rate
    return WarmupSchedule(
        config.learning_rate,
        config.schedule,
        total_steps,
        config.warmup_steps,
        config.decay_rate,
    )


def build_optimizer(config: TrainConfig, total_steps: int) -> keras.optimizers.Optimizer:
    """The optimizer of ``[train]``: its kind, schedule, momentum, weight decay and
    gradient clipping (each variable's norm, or with ``clip = "global"`` the joint norm
    of all gradients). Options at 0 are left out, so they cannot change a float."""
    options: dict[str, Any] = {"learning_rate": learning_rate(config, total_steps)}
    if config.optimizer in ("sgd", "rmsprop"):
        options["momentum"] = config.momentum
    if config.weight_decay or config.optimizer == "adamw":
        options["weight_decay"] = config.weight_decay
    if config.clipnorm:
        scope = "global_clipnorm" if config.clip == "global" else "clipnorm"
        options[scope] = config.clipnorm
    return OPTIMIZERS[config.optimizer](**options)


def current_learning_rate(optimizer: keras.optimizers.Optimizer) -> float:
    """The rate of the optimizer's last step (of its first, before it took one)."""
    schedule = optimizer._learning_rate  # the number or schedule it was given
    if not isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
        return float(ops.convert_to_numpy(optimizer.learning_rate))
    last_step = max(int(ops.convert_to_numpy(optimizer.iterations)) - 1, 0)
    return float(ops.convert_to_numpy(schedule(last_step)))
