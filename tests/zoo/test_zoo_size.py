"""The zoo is what a user brings: at least 40 models, each named once."""

from zoo import ZOO


def test_zoo_has_forty_distinct_models():
    names = [m.name for m in ZOO]
    assert len(names) >= 40
    assert len(set(names)) == len(names)
