from qa.train import TrainConfig, subset

import pytest


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


def test_the_saved_network_scores_as_the_fitted_one():
    import numpy as np

    from qa.train import answerability_network, network_of

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4)) * [1.0, 5.0, 0.1, 2.0] + [0.0, 3.0, 1.0, -2.0]
    y = (x[:, 0] * x[:, 1] > 0).astype(int)  # an interaction, which a linear model cannot fit
    fitted = answerability_network(seed=3).fit(x, y)
    net = network_of(fitted)
    p = fitted.predict_proba(x[:5])[:, 1]
    assert [net.logit(tuple(row)) for row in x[:5]] == pytest.approx(list(np.log(p / (1 - p))), abs=1e-6)
