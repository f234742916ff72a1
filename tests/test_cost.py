"""The seed's cost table (seed 001; MISSION.md) must come out of the code."""

import pytest

from bench.cost import cost_per_million, self_hosted_cost_per_million


@pytest.mark.parametrize("model, price_in, price_out, expected", [
    ("ClipTagger-12B", 0.30, 0.50, 335),
    ("Claude Sonnet 4", 3.00, 15.00, 5850),
    ("GPT-4.1 fine-tuned", 3.00, 12.00, 5100),
    ("GPT-4.1 list", 2.00, 8.00, 3400),
])
def test_seed_cost_table(model, price_in, price_out, expected):
    assert cost_per_million(700, 250, price_in, price_out) == pytest.approx(expected)


def test_self_hosted_cost_from_measured_throughput():
    # One $2/h GPU at 1 request/s: 1M requests take 1M s = 277.8 h -> $555.56.
    assert self_hosted_cost_per_million(2.0, 1, 1.0) == pytest.approx(555.555, rel=1e-4)
    assert self_hosted_cost_per_million(2.0, 2, 2.0) == pytest.approx(555.555, rel=1e-4)
    with pytest.raises(ValueError):
        self_hosted_cost_per_million(2.0, 1, 0.0)
