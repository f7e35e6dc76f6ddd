import numpy as np

from rnncls.config import ModelConfig


def test_model_shapes():
    from rnncls.model import build_model

    model = build_model(ModelConfig(hidden_units=5, num_classes=10))
    assert model.input_shape == (None, 28, 28)
    assert model.output_shape == (None, 10)
    logits = model(np.zeros((3, 28, 28), np.float32))
    assert tuple(logits.shape) == (3, 10)
    lstm = model.get_layer("lstm")
    assert lstm.units == 5 and not lstm.return_sequences
