"""typical_examples: the demo's held-out images are picked from the data alone."""

from __future__ import annotations

import numpy as np

from protobrain.train.data import Dataset, typical_examples


def _ds(x, y, n_classes=3):
    return Dataset(np.asarray(x, np.float32)[:, None, None, None], np.asarray(y, np.int64),
                   [str(c) for c in range(n_classes)])


def test_each_class_gets_its_test_example_nearest_the_class_mean():
    train = _ds([0.0, 0.2, 1.0, 1.2, 5.0], [0, 0, 1, 1, 2])      # means 0.1, 1.1, 5.0
    test = _ds([0.9, 0.12, 1.1, 3.0, 4.0, 1.6], [0, 0, 1, 1, 2, 1])
    assert typical_examples(train, test) == [1, 2, 4]


def test_a_class_missing_from_either_split_is_left_out():
    train = _ds([0.0, 1.0], [0, 1])
    test = _ds([0.1, 2.1], [0, 2])
    assert typical_examples(train, test) == [0]
