"""The optimizer and learning-rate schedule built from [train], against formulas written
out here."""

from __future__ import annotations

import math

import pytest

from rnncls.config_keys import TrainConfig

# Every test here builds or trains a Keras model (left out of the mutation runs).
pytestmark = pytest.mark.tensorflow

PEAK, TOTAL, WARMUP = 0.02, 1000, 100


def expected_rate(shape: str, step: int, warmup: int = WARMUP, decay_rate: float = 0.01) -> float:
    if step < warmup:
        return PEAK * (step + 1) / warmup
    done = min(max((step - warmup) / (TOTAL - warmup), 0.0), 1.0)
    if shape == "cosine":
        return PEAK * 0.5 * (1 + math.cos(math.pi * done))
    if shape == "exponential":
        return PEAK * decay_rate**done
    if shape == "step":  # three equal stages: 1, sqrt(decay_rate), decay_rate
        return PEAK * decay_rate ** (min(math.floor(done * 3), 2) / 2)
    return PEAK


@pytest.mark.parametrize("shape", ["constant", "cosine", "exponential", "step"])
@pytest.mark.parametrize("step", [0, 50, 99, 100, 101, 400, 549, 550, 700, 999, 1000, 5000])
def test_schedule_matches_its_formula(shape, step):
    from rnncls.optimization import WarmupSchedule

    schedule = WarmupSchedule(PEAK, shape, TOTAL, WARMUP, 0.01)
    assert float(schedule(step)) == pytest.approx(expected_rate(shape, step), rel=1e-5, abs=1e-9)


def test_cosine_without_warmup_starts_at_the_peak_and_ends_at_zero():
    from rnncls.optimization import WarmupSchedule

    schedule = WarmupSchedule(PEAK, "cosine", TOTAL, 0, 0.01)
    assert float(schedule(0)) == pytest.approx(PEAK)
    assert float(schedule(TOTAL // 2)) == pytest.approx(PEAK / 2, rel=1e-5)
    assert float(schedule(TOTAL)) == pytest.approx(0.0, abs=1e-9)


def test_a_constant_rate_without_warmup_is_a_plain_number():
    """So the seed's run builds the very optimizer it always did."""
    from rnncls.optimization import learning_rate

    assert learning_rate(TrainConfig(learning_rate=0.01), 1200) == 0.01
    assert not isinstance(learning_rate(TrainConfig(warmup_steps=10), 1200), float)


@pytest.mark.parametrize(
    ("settings", "kind", "expected"),
    [
        ({}, "Adam", {"weight_decay": None, "clipnorm": None}),
        ({"optimizer": "adamw", "weight_decay": 0.01}, "AdamW", {"weight_decay": 0.01}),
        ({"optimizer": "sgd", "momentum": 0.9}, "SGD", {"momentum": 0.9}),
        ({"optimizer": "rmsprop", "momentum": 0.5}, "RMSprop", {"momentum": 0.5}),
        ({"clipnorm": 1.5}, "Adam", {"clipnorm": 1.5, "global_clipnorm": None}),
        (
            {"clipnorm": 1.5, "clip": "global"},
            "Adam",
            {"clipnorm": None, "global_clipnorm": 1.5},
        ),
        ({"weight_decay": 0.001}, "Adam", {"weight_decay": 0.001}),
    ],
    ids=["adam", "adamw", "sgd", "rmsprop", "clipnorm", "global-clipnorm", "adam-decay"],
)
def test_optimizer_kind_and_options_come_from_the_config(settings, kind, expected):
    from rnncls.optimization import build_optimizer

    optimizer = build_optimizer(TrainConfig(**settings), 100)
    assert type(optimizer).__name__ == kind
    config = optimizer.get_config()
    for key, value in expected.items():
        assert config[key] == pytest.approx(value) if value is not None else config[key] is None


def test_the_optimizer_follows_its_schedule_step_by_step():
    import keras
    import numpy as np

    from rnncls.optimization import build_optimizer, current_learning_rate

    config = TrainConfig(optimizer="sgd", learning_rate=PEAK, schedule="cosine", warmup_steps=2)
    optimizer = build_optimizer(config, 10)
    weight = keras.Variable(np.zeros(1, np.float32))
    seen = []
    for _ in range(4):
        optimizer.apply_gradients([(np.ones(1, np.float32), weight)])
        seen.append(current_learning_rate(optimizer))
    # plain SGD moves the weight by minus the sum of the rates taken
    cosine = [PEAK * 0.5 * (1 + math.cos(math.pi * (s - 2) / 8)) for s in (2, 3)]
    expected = [PEAK / 2, PEAK, *cosine]
    assert seen == pytest.approx(expected, rel=1e-5)
    assert float(weight.numpy()[0]) == pytest.approx(-sum(expected), rel=1e-5)
