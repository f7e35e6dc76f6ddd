"""Evaluation: loss, accuracy, per-class precision/recall/support, the confusion matrix,
and calibration (how far the model's confidence is from its accuracy).

The metrics are computed with numpy from logits, so the same code serves a Keras model
during training and any model at ``rnncls eval``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rnncls.datasets import Split
from rnncls.datasets.idx import MNIST
from rnncls.errors import ConfigError, DataError


@dataclass(frozen=True)
class ClassMetrics:
    label: int | str  # the class as the data set names it (MNIST's: 0 to 9)
    precision: float
    recall: float
    support: int


# Equal-width bins of the top-class confidence for the expected calibration error: 15, as
# in Guo et al., "On Calibration of Modern Neural Networks" (ICML 2017), whose ECE this is.
CALIBRATION_BINS = 15


@dataclass(frozen=True)
class Calibration:
    """How well the confidence of the predicted class matches how often it is right.

    ``bins`` equal-width bins of the top-class confidence: bin b holds the images whose
    confidence is in (b/bins, (b+1)/bins]. ECE is the mean over the images of
    |accuracy - mean confidence| of their bin (Guo et al. 2017). NLL is the mean negative
    log-likelihood of the true class (the loss). Brier is the mean over the images of
    sum_k (p_k - y_k)^2 over all classes k, y the one-hot label (0 is perfect, 2 the worst).
    """

    bins: int
    ece: float
    nll: float
    brier: float
    counts: list[int]  # images in each bin
    accuracy: list[float | None]  # of each bin's images; None for an empty bin
    confidence: list[float | None]  # their mean top-class confidence

    def to_json(self) -> dict[str, Any]:
        return {
            "bins": self.bins,
            "ece": self.ece,
            "nll": self.nll,
            "brier": self.brier,
            "reliability": [
                {
                    "low": index / self.bins,
                    "high": (index + 1) / self.bins,
                    "count": count,
                    "accuracy": accuracy,
                    "confidence": confidence,
                }
                for index, (count, accuracy, confidence) in enumerate(
                    zip(self.counts, self.accuracy, self.confidence, strict=True)
                )
            ],
        }


def calibration(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = CALIBRATION_BINS
) -> Calibration:
    """Calibration of class probabilities (n, classes) against integer labels (n,)."""
    n = len(labels)
    labels = labels.astype(np.int64)
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    # (b/bins, (b+1)/bins] is bin b: ceil(confidence * bins) - 1, within 0..bins-1
    which = np.clip(np.ceil(confidence * bins).astype(np.int64) - 1, 0, bins - 1)
    counts, accuracy, mean_confidence, ece = [], [], [], 0.0
    for index in range(bins):
        members = which == index
        count = int(members.sum())
        counts.append(count)
        if count == 0:
            accuracy.append(None)
            mean_confidence.append(None)
            continue
        hit_rate = float(correct[members].mean())
        sure = float(confidence[members].mean())
        accuracy.append(hit_rate)
        mean_confidence.append(sure)
        ece += count / n * abs(hit_rate - sure)
    one_hot = np.zeros_like(probabilities, dtype=np.float64)
    one_hot[np.arange(n), labels] = 1.0
    true_probability = np.maximum(probabilities[np.arange(n), labels], np.finfo(np.float64).tiny)
    return Calibration(
        bins=bins,
        ece=float(ece),
        nll=float(-np.log(true_probability).mean()),
        brier=float(((probabilities - one_hot) ** 2).sum(axis=1).mean()),
        counts=counts,
        accuracy=accuracy,
        confidence=mean_confidence,
    )


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
    calibration: Calibration | None = None

    def to_json(self) -> dict[str, Any]:
        record = {
            "split": self.split,
            "n": self.n,
            "loss": self.loss,
            "accuracy": self.accuracy,
            "per_class": [vars(c) for c in self.per_class],
            "confusion": self.confusion.tolist(),
        }
        if self.calibration is not None:
            record["calibration"] = self.calibration.to_json()
        return record


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean sparse categorical cross-entropy of logits, in float64 for a stable sum."""
    log_probabilities = log_softmax(logits.astype(np.float64))
    return float(-log_probabilities[np.arange(len(labels)), labels].mean())


def metrics_from_logits(
    logits: np.ndarray, labels: np.ndarray, split: str, classes: Any = None
) -> Metrics:
    """Metrics of logits against class indices; ``classes`` (a DataSet) names the
    classes in the per-class rows (their indices without it)."""
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
                label=classes.class_value(label) if classes is not None else label,
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
        calibration=calibration(np.exp(log_probabilities), labels),
    )


def misclassified(metrics: Metrics, labels: np.ndarray, most: int) -> np.ndarray:
    """Indices of the first ``most`` images that ``metrics`` got wrong."""
    if metrics.predicted is None:
        raise ValueError("these metrics hold no predictions")
    wrong = np.flatnonzero(metrics.predicted != labels[: metrics.n])
    return wrong[:most]


# Models from before the data set was part of the model read MNIST's pictures in 0..1:
# the pixels are divided by MNIST's largest before they reach such a model.
LEGACY_PIXEL_MAX = float(MNIST.pixel_max)


def model_inputs(pictures: np.ndarray, shape: tuple[Any, ...], legacy: bool) -> np.ndarray:
    """Pictures (n, height, width, channels) as a model of input ``shape`` takes them:
    float32 raw pixels, or for a model from before descriptions (no channel axis, 0..1)
    scaled down."""
    values = np.asarray(pictures).astype(np.float32)
    if legacy:
        values = values / np.float32(LEGACY_PIXEL_MAX)
    return values.reshape(len(values), *(s if isinstance(s, int) else -1 for s in shape[1:]))


def keras_logits(
    model: Any, images: Any, batch_size: int = 2000
) -> np.ndarray:  # pragma: no mutate block (TensorFlow)
    """Logits of a Keras model for pictures (an array or a memory map), in batches,
    through one traced graph."""
    forward = getattr(model, "_rnncls_forward", None)
    if forward is None:
        from rnncls.model import dataset_of
        from rnncls.tf_setup import import_tensorflow

        tf = import_tensorflow()
        legacy = dataset_of(model) is None
        shape = model.input_shape

        @tf.function(reduce_retracing=True)
        def forward(batch: Any) -> Any:
            values = tf.cast(batch, tf.float32)
            if legacy:
                values = values / LEGACY_PIXEL_MAX
            if values.shape.rank != len(shape):  # grey pictures without their channel axis
                values = tf.reshape(values, [-1, *shape[1:]])
            return model(values, training=False)

        model._rnncls_forward = forward
    parts = [
        forward(np.asarray(images[start : start + batch_size])).numpy()
        for start in range(0, len(images), batch_size)
    ]
    return np.concatenate(parts) if parts else np.zeros((0, model.output_shape[-1]), np.float32)


def evaluate(
    classifier: Any, split: Split, limit: int | None = None, classes: Any = None
) -> Metrics:
    """Metrics of a classifier (anything with ``logits(pictures)``) on a split, or on its
    first ``limit`` pictures; ``classes`` names each class (``class_value(index)``)."""
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit {limit}: must be at least 1")
    images, labels = split.images[:limit], split.labels[:limit]
    logits = classifier.logits(images)
    if labels.max() >= logits.shape[1]:
        raise DataError(
            f"the {split.name} split has label {int(labels.max())}, but the model "
            f"has only {logits.shape[1]} classes"
        )
    return metrics_from_logits(logits, labels, split.name, classes)
