"""rnncls.evaluate without a model: metrics from hand-made logits whose loss, accuracy,
precision, recall and confusion matrix are worked out here, by hand and with math."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from rnncls.datasets import Split
from rnncls.errors import ConfigError, DataError
from rnncls.evaluate import (
    Metrics,
    cross_entropy,
    evaluate,
    log_softmax,
    metrics_from_logits,
    misclassified,
    model_inputs,
)

# Four classes; class 3 is neither true nor predicted anywhere.
LABELS = np.array([0, 0, 0, 1, 1, 2, 2, 2], np.uint8)
PREDICTED = np.array([0, 0, 1, 1, 1, 2, 2, 1])
CONFUSION = [  # [true][predicted], counted by hand from the two lines above
    [2, 1, 0, 0],
    [0, 2, 0, 0],
    [0, 1, 2, 0],
    [0, 0, 0, 0],
]
# label: (precision, recall, support); precision = hits / column sum, recall = hits / row
# sum; the two differ in every class that has any
PER_CLASS = {
    0: (2 / 2, 2 / 3, 3),
    1: (2 / 4, 2 / 2, 2),
    2: (2 / 2, 2 / 3, 3),
    3: (0.0, 0.0, 0),
}
BIG = 3.0  # the logit of the predicted class; the others are 0


def one_hot_logits(predicted: np.ndarray, classes: int = 4) -> np.ndarray:
    logits = np.zeros((len(predicted), classes), np.float32)
    logits[np.arange(len(predicted)), predicted] = BIG
    return logits


def expected_loss(labels: np.ndarray, predicted: np.ndarray, classes: int = 4) -> float:
    """Cross-entropy of one_hot_logits, row by row with math.exp."""
    total = 0.0
    for label, guess in zip(labels, predicted, strict=True):
        denominator = math.exp(BIG) + (classes - 1)
        numerator = math.exp(BIG) if label == guess else 1.0
        total -= math.log(numerator / denominator)
    return total / len(labels)


def test_confusion_accuracy_and_loss() -> None:
    metrics = metrics_from_logits(one_hot_logits(PREDICTED), LABELS, "test")
    assert metrics.confusion.tolist() == CONFUSION
    assert metrics.accuracy == 6 / 8
    assert metrics.loss == pytest.approx(expected_loss(LABELS, PREDICTED), rel=1e-6)
    assert metrics.n == 8 and metrics.split == "test"


def test_precision_recall_and_support_per_class() -> None:
    metrics = metrics_from_logits(one_hot_logits(PREDICTED), LABELS, "test")
    found = {c.label: (c.precision, c.recall, c.support) for c in metrics.per_class}
    assert found == PER_CLASS


def test_precision_and_recall_differ_where_the_counts_do() -> None:
    """Class 0 is predicted 4 times and true 2 times: precision 1/2, recall 1."""
    labels = np.array([0, 0, 1, 1], np.uint8)
    predicted = np.array([0, 0, 0, 0])
    metrics = metrics_from_logits(one_hot_logits(predicted, 2), labels, "validation")
    first, second = metrics.per_class
    assert (first.precision, first.recall, first.support) == (0.5, 1.0, 2)
    assert (second.precision, second.recall, second.support) == (0.0, 0.0, 2)
    assert metrics.confusion.dtype == np.int64


def test_each_images_prediction_and_its_probability() -> None:
    """What eval's pictures of errors use: the predicted class, and its softmax
    probability, e^3 / (e^3 + 3) for every row of one_hot_logits."""
    metrics = metrics_from_logits(one_hot_logits(PREDICTED), LABELS, "test")
    assert metrics.predicted.tolist() == PREDICTED.tolist()
    expected = math.exp(BIG) / (math.exp(BIG) + 3)
    assert metrics.confidence.tolist() == pytest.approx([expected] * 8, rel=1e-12)


def test_misclassified_are_the_first_wrong_images_in_order() -> None:
    metrics = metrics_from_logits(one_hot_logits(PREDICTED), LABELS, "test")
    # LABELS 0 0 0 1 1 2 2 2 against PREDICTED 0 0 1 1 1 2 2 1: wrong at 2 and 7
    assert misclassified(metrics, LABELS, most=10).tolist() == [2, 7]
    assert misclassified(metrics, LABELS, most=1).tolist() == [2]
    # labels beyond the images evaluated (eval --limit) are not compared
    first = metrics_from_logits(one_hot_logits(PREDICTED[:3]), LABELS[:3], "test")
    assert misclassified(first, LABELS, most=10).tolist() == [2]


def test_misclassified_needs_metrics_with_predictions() -> None:
    metrics = metrics_from_logits(one_hot_logits(PREDICTED), LABELS, "test")
    bare = Metrics(**{**vars(metrics), "predicted": None})
    with pytest.raises(ValueError) as caught:
        misclassified(bare, LABELS, most=10)
    assert caught.type is ValueError
    assert str(caught.value) == "these metrics hold no predictions"


def test_to_json_is_the_whole_result() -> None:
    metrics = metrics_from_logits(one_hot_logits(PREDICTED), LABELS, "train")
    record = metrics.to_json()
    assert record == {
        "split": "train",
        "n": 8,
        "loss": metrics.loss,
        "accuracy": 6 / 8,
        "per_class": [
            {"label": label, "precision": p, "recall": r, "support": s}
            for label, (p, r, s) in PER_CLASS.items()
        ],
        "confusion": CONFUSION,
        "calibration": metrics.calibration.to_json(),
    }


@pytest.mark.parametrize(
    "row",
    [[1.0, 2.0, 3.0], [1000.0, 0.0, -1000.0], [-5.0, -5.0, -5.0]],
    ids=["small", "huge", "equal"],
)
def test_log_softmax_is_log_of_exp_over_sum(row: list[float]) -> None:
    top = max(row)
    log_sum = top + math.log(sum(math.exp(x - top) for x in row))
    expected = [x - log_sum for x in row]
    other = [0.0, 0.0, 0.0]  # a second row, so a sum over the batch would show
    found = log_softmax(np.array([row, other]))
    assert found[0].tolist() == pytest.approx(expected, abs=1e-12)
    assert found[1].tolist() == pytest.approx([-math.log(3)] * 3, abs=1e-12)


def test_cross_entropy_of_float32_logits_is_float64_exact() -> None:
    logits = np.array([[0.0, math.log(3.0)], [math.log(4.0), 0.0]], np.float32)
    # probabilities of the labels: 3/4 and 1/5
    expected = -(math.log(3 / 4) + math.log(1 / 5)) / 2
    assert cross_entropy(logits, np.array([1, 1])) == pytest.approx(expected, rel=1e-7)


def test_model_inputs_scale_only_for_a_model_from_before_descriptions() -> None:
    """A described model takes raw pixels (n, h, w, c) and scales them itself; one from
    before takes (n, 28, 28) in 0..1."""
    pixels = np.array([0, 51, 255, 3], np.uint8).reshape(1, 2, 2, 1)
    raw = model_inputs(pixels, (None, 2, 2, 1), legacy=False)
    assert raw.dtype == np.float32 and raw.tolist() == [[[[0.0], [51.0]], [[255.0], [3.0]]]]
    legacy = model_inputs(pixels, ("n", 2, 2), legacy=True)
    assert legacy.shape == (1, 2, 2)
    assert legacy.tolist() == [[[0.0, np.float32(0.2)], [1.0, np.float32(3 / 255)]]]


class FixedLogits:
    """A classifier that answers with given logits, and records what it was shown."""

    def __init__(self, logits: np.ndarray) -> None:
        self.answer = logits
        self.seen: list[np.ndarray] = []

    def logits(self, images: np.ndarray) -> np.ndarray:
        self.seen.append(images)
        return self.answer[: len(images)]


def a_split(labels: np.ndarray, name: str = "test") -> Split:
    images = np.arange(len(labels) * 784, dtype=np.uint32).reshape(-1, 28, 28) % 256
    return Split(name, images.astype(np.uint8), labels)


def test_evaluate_a_split_and_its_first_images() -> None:
    split = a_split(LABELS, "validation")
    classifier = FixedLogits(one_hot_logits(PREDICTED))
    whole = evaluate(classifier, split)
    assert whole.confusion.tolist() == CONFUSION and whole.split == "validation"
    first = evaluate(classifier, split, limit=3)
    assert first.n == 3 and first.accuracy == 2 / 3  # labels 0 0 0, predicted 0 0 1
    assert np.array_equal(classifier.seen[-1], split.images[:3])
    assert evaluate(classifier, split, limit=1).n == 1


def test_a_limit_below_one_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="^--limit 0: must be at least 1$"):
        evaluate(FixedLogits(one_hot_logits(PREDICTED)), a_split(LABELS), limit=0)


def test_labels_the_model_cannot_give_are_a_data_error() -> None:
    """A data problem (exit 1), not a configuration one (exit 2)."""
    labels = np.array([0, 1, 2], np.uint8)
    with pytest.raises(DataError) as caught:
        evaluate(FixedLogits(np.zeros((3, 2), np.float32)), a_split(labels))
    assert caught.type is DataError and not isinstance(caught.value, ConfigError)
    assert str(caught.value) == "the test split has label 2, but the model has only 2 classes"
    # the largest label the model has is fine
    result = evaluate(FixedLogits(np.zeros((2, 2), np.float32)), a_split(labels[:2]))
    assert result.confusion.tolist() == [[1, 0], [1, 0]]


# ---------------------------------------------------------------------- calibration

# Five images, three classes; worked out by hand below with 5 bins of width 0.2.
CALIBRATION_PROBABILITIES = np.array(
    [
        [0.9, 0.05, 0.05],  # label 0: right, confidence 0.9  -> bin (0.8, 1.0]
        [0.6, 0.3, 0.1],  # label 1: wrong, confidence 0.6   -> bin (0.4, 0.6]
        [0.2, 0.7, 0.1],  # label 1: right, confidence 0.7   -> bin (0.6, 0.8]
        [0.1, 0.1, 0.8],  # label 2: right, confidence 0.8   -> bin (0.6, 0.8]
        [0.34, 0.33, 0.33],  # label 2: wrong, confidence 0.34 -> bin (0.2, 0.4]
    ]
)
CALIBRATION_LABELS = np.array([0, 1, 1, 2, 2])


def test_calibration_of_a_hand_worked_case() -> None:
    from rnncls.evaluate import calibration

    found = calibration(CALIBRATION_PROBABILITIES, CALIBRATION_LABELS, bins=5)
    assert found.counts == [0, 1, 1, 2, 1]
    assert found.accuracy == [None, 0.0, 0.0, 1.0, 1.0]
    assert found.confidence == pytest.approx([None, 0.34, 0.6, 0.75, 0.9])
    # ECE: (1 * |0 - 0.34| + 1 * |0 - 0.6| + 2 * |1 - 0.75| + 1 * |1 - 0.9|) / 5
    assert found.ece == pytest.approx(1.54 / 5)
    # NLL: the true class's probabilities 0.9, 0.3, 0.7, 0.8, 0.33
    assert found.nll == pytest.approx(-np.log([0.9, 0.3, 0.7, 0.8, 0.33]).mean())
    # Brier: 0.015 + 0.86 + 0.14 + 0.06 + 0.6734 (squares of p - one-hot, summed), over 5
    assert found.brier == pytest.approx(1.7484 / 5)


def test_calibration_of_a_sure_and_right_model_is_perfect() -> None:
    from rnncls.evaluate import calibration

    found = calibration(np.eye(4)[[0, 1, 2, 3, 3]], np.array([0, 1, 2, 3, 3]))
    assert (found.ece, found.nll, found.brier) == (0.0, 0.0, 0.0)
    assert found.bins == 15 and found.counts == [0] * 14 + [5]


def test_calibration_bins_include_their_upper_edge() -> None:
    """Confidence 0.5 with 2 bins is in (0, 0.5], the first; 0.5001 in the second."""
    from rnncls.evaluate import calibration

    probabilities = np.array([[0.5, 0.5], [0.5001, 0.4999]])
    found = calibration(probabilities, np.array([0, 1]), bins=2)
    assert found.counts == [1, 1]
    assert found.accuracy == [1.0, 0.0]
    assert found.ece == pytest.approx((abs(1 - 0.5) + abs(0 - 0.5001)) / 2)


def test_calibration_in_the_metrics_and_their_json() -> None:
    logits = np.log(CALIBRATION_PROBABILITIES)
    metrics = metrics_from_logits(logits, CALIBRATION_LABELS, "test")
    assert metrics.calibration.nll == pytest.approx(metrics.loss)
    record = metrics.to_json()["calibration"]
    assert set(record) == {"bins", "ece", "nll", "brier", "reliability"}
    assert record["bins"] == 15 and len(record["reliability"]) == 15
    assert record["reliability"][0] == {
        "low": 0.0,
        "high": 1 / 15,
        "count": 0,
        "accuracy": None,
        "confidence": None,
    }
    assert sum(b["count"] for b in record["reliability"]) == 5
    assert [(b["low"], b["high"]) for b in record["reliability"][1:3]] == [
        (1 / 15, 2 / 15),
        (2 / 15, 3 / 15),
    ]
    json.dumps(record)  # plain JSON: no numpy values


def test_confidences_at_the_edges_fall_in_the_first_and_last_bins() -> None:
    """0 (a degenerate row) is in the first bin; a rounding step above 1 in the last."""
    from rnncls.evaluate import calibration

    probabilities = np.array([[0.0, 0.0], [np.nextafter(1.0, 2.0), 0.0], [1.0, 0.0]])
    found = calibration(probabilities, np.array([0, 0, 1]), bins=2)
    assert found.counts == [1, 2]
