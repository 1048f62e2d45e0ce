"""Training: data in, float Keras model out, then int8 TFLite that protobrain compiles.

Needs the optional `train` extra (TensorFlow, scikit-learn, matplotlib):
`pip install 'protobrain[train]'`. Modules import TensorFlow lazily so that the rest of
protobrain (and `--help`) stays fast and works without it.
"""

import os as _os

# TensorFlow's C++ logging would bury protobrain's own output; errors still raise.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
_os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
