"""A float32 model (converted without quantization) is told first that it is float and
how to quantize it, then which operators, in a short list, not a dump of every operator's
type signature."""

import pytest
from test_errors import assert_one_line_error, run_cli

pytest.importorskip("tensorflow")


def _float_net() -> bytes:
    """A small ConvNet converted as TensorFlow converts by default: float32 throughout
    (cached beside the suite's other converter outputs)."""
    from builders import cache_root

    path = cache_root() / "float-net-v1.tflite"
    if path.exists():
        return path.read_bytes()
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Sequential([
        tf.keras.Input((16, 16, 1), batch_size=1),
        tf.keras.layers.Conv2D(4, 3, activation="relu"),
        tf.keras.layers.DepthwiseConv2D(3),
        tf.keras.layers.MaxPooling2D(),
        tf.keras.layers.Flatten(),
        tf.keras.layers.Dense(8),
        tf.keras.layers.Dense(3),
        tf.keras.layers.Softmax(),
    ])
    data = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    path.with_suffix(".tmp").write_bytes(data)
    path.with_suffix(".tmp").replace(path)
    return data


@pytest.mark.parametrize("command", ["generate", "inspect"])
def test_a_float_model_is_told_to_quantize_first(command, tmp_path):
    model = tmp_path / "float_net.tflite"
    model.write_bytes(_float_net())
    args = [command, model] + (["-o", tmp_path / "gen"] if command == "generate" else ["--no-reference"])
    proc = run_cli(*args)
    assert_one_line_error(proc, "float_net is a float32 model", "protobrain quantize", "representative dataset",
                          "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "SOFTMAX")
    line = proc.stderr.strip()
    assert line.index("float32 model") < line.index("protobrain quantize") < line.index("CONV_2D")
    assert len(line) < 500, f"{len(line)} characters: {line}"
    assert "types float32" not in line, "no per-operator type signatures"
    assert not (tmp_path / "gen").exists()
