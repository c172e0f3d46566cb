import pytest

from qa.training.train import TrainConfig, subset


def test_the_two_halves_split_the_questions_stably_whatever_their_order():
    items = [{"id": f"t{n:04d}"} for n in range(400)]
    first, second = subset(items, 0.5, 14), subset(items, 0.5, 14, part=1)
    assert {i["id"] for i in first}.isdisjoint(i["id"] for i in second)
    assert len(first) + len(second) == len(items) and 150 < len(first) < 250
    assert [i["id"] for i in subset(items[::-1], 0.5, 14)] == [i["id"] for i in first][::-1]
    assert len(subset(items, 0.25, 13)) < len(subset(items, 0.5, 13))


def test_a_training_config_states_the_rule_it_breaks():
    with pytest.raises(ValueError, match="fraction"):
        TrainConfig(fraction=0)
    with pytest.raises(ValueError, match="batch_size"):
        TrainConfig(batch_size=1)

