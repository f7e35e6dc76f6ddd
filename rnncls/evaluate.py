"""Evaluation: loss, accuracy, per-class precision/recall/support and the confusion matrix.

The metrics are computed with numpy from logits, so the same code serves a Keras model
during training and any model at ``rnncls eval``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rnncls.data import DataError, Split
from rnncls.errors import ConfigError


@dataclass(frozen=True)
class ClassMetrics:
    label: int
    precision: float
    recall: float
    support: int


@dataclass(frozen=True)
class Metrics:
    split: str
    n: int
    loss: float
    accuracy: float
    per_class: list[ClassMetrics]
    confusion: np.ndarray  # confusion[true, predicted]
    # Each image's predicted class and that class's probability (not in to_json).
    predicted: np.ndarray | None = None
    confidence: np.ndarray | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "split": self.split,
            "n": self.n,
            "loss": self.loss,
            "accuracy": self.accuracy,
            "per_class": [vars(c) for c in self.per_class],
            "confusion": self.confusion.tolist(),
        }


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean sparse categorical cross-entropy of logits, in float64 for a stable sum."""
    log_probabilities = log_softmax(logits.astype(np.float64))
    return float(-log_probabilities[np.arange(len(labels)), labels].mean())


def metrics_from_logits(logits: np.ndarray, labels: np.ndarray, split: str) -> Metrics:
    num_classes = logits.shape[1]
    labels = labels.astype(np.int64)
    predicted = logits.argmax(axis=1)
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    per_class = []
    for label in range(num_classes):
        hits = int(confusion[label, label])
        predicted_as = int(confusion[:, label].sum())
        support = int(confusion[label].sum())
        per_class.append(
            ClassMetrics(
                label=label,
                precision=hits / predicted_as if predicted_as else 0.0,
                recall=hits / support if support else 0.0,
                support=support,
            )
        )
    log_probabilities = log_softmax(logits.astype(np.float64))
    return Metrics(
        split=split,
        n=int(len(labels)),
        loss=float(-log_probabilities[np.arange(len(labels)), labels].mean()),
        accuracy=float((predicted == labels).mean()),
        per_class=per_class,
        confusion=confusion,
        predicted=predicted,
        confidence=np.exp(log_probabilities[np.arange(len(labels)), predicted]),
    )


def misclassified(metrics: Metrics, labels: np.ndarray, most: int) -> np.ndarray:
    """Indices of the first ``most`` images that ``metrics`` got wrong."""
    if metrics.predicted is None:
        raise ValueError("these metrics hold no predictions")
    wrong = np.flatnonzero(metrics.predicted != labels[: metrics.n])
    return wrong[:most]


def scale_images(images: np.ndarray) -> np.ndarray:
    """uint8 pixels 0..255 to the float32 0..1 the model reads."""
    return images.astype(np.float32) / np.float32(255.0)


def keras_logits(
    model: Any, images: np.ndarray, batch_size: int = 2000
) -> np.ndarray:  # pragma: no mutate block (TensorFlow)
    """Logits of a Keras model for uint8 images, in batches, through one traced graph."""
    forward = getattr(model, "_rnncls_forward", None)
    if forward is None:
        from rnncls.tf_setup import import_tensorflow

        tf = import_tensorflow()

        @tf.function(reduce_retracing=True)
        def forward(batch: Any) -> Any:
            return model(tf.cast(batch, tf.float32) / 255.0, training=False)

        model._rnncls_forward = forward
    parts = [
        forward(images[start : start + batch_size]).numpy()
        for start in range(0, len(images), batch_size)
    ]
    return np.concatenate(parts) if parts else np.zeros((0, model.output_shape[-1]), np.float32)


def evaluate(classifier: Any, split: Split, limit: int | None = None) -> Metrics:
    """Metrics of a classifier (anything with ``logits(uint8 images)``) on a split, or on
    its first ``limit`` images."""
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit {limit}: must be at least 1")
    images, labels = split.images[:limit], split.labels[:limit]
    logits = classifier.logits(images)
    if labels.max() >= logits.shape[1]:
        raise DataError(
            f"the {split.name} split has label {int(labels.max())}, but the model "
            f"has only {logits.shape[1]} classes"
        )
    return metrics_from_logits(logits, labels, split.name)
