"""AbsoluteChangeStrategy, RelativeRateOfChangeStrategy and SimpleThresholdStrategy against
Deequ 2.0.7's classes (through py4j), and the missing-limit semantics pinned without the jar:
a limit left out is Double.MinValue / Double.MaxValue in Deequ, not an infinity, so an
infinite rate (a value after a 0) is beyond it."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from quality.anomaly_detection import (
    AbsoluteChangeStrategy,
    RelativeRateOfChangeStrategy,
    SimpleThresholdStrategy,
)
from tests.quality.conftest import deequ_anomalies

MAX = sys.float_info.max
SERIES = [
    [1.0, 2.0, 3.0, 10.0, 2.0, -5.0, 0.0, 0.0, 4.0],
    [0.0, 0.0, 5.0, 0.0, 1.0],
    [1.0, -1.0, 2.0, -2.0, 8.0, float("inf"), 1.0],
]
LIMITS = [(None, 2.0, 1), (-2.0, None, 1), (-1.0, 1.0, 2), (0.5, 2.0, 1), (-3.0, 3.0, 3)]


def test_a_rate_from_zero_is_beyond_a_missing_increase_limit() -> None:
    (found,) = RelativeRateOfChangeStrategy(maxRateDecrease=-2.0).detect([0.0, 4.0], (1, 2))
    assert found[0] == 1 and found[1].value == 4.0
    assert found[1].detail == ("[RelativeRateOfChangeStrategy]: Change of Infinity is not in "
                               "bounds [-2.0, 1.7976931348623157E308]. Order=1")


def test_missing_limits_print_as_deequs_double_extremes() -> None:
    (found,) = AbsoluteChangeStrategy(maxRateIncrease=2.0).detect([1.0, 5.0], (0, 2))
    assert found[1].detail == ("[AbsoluteChangeStrategy]: Change of 4.0 is not in bounds "
                               "[-1.7976931348623157E308, 2.0]. Order=1")
    (low,) = SimpleThresholdStrategy(upperBound=3.0).detect([float("-inf"), 1.0])
    assert low[0] == 0 and low[1].detail == (
        "[SimpleThresholdStrategy]: Value -Infinity is not in bounds "
        "[-1.7976931348623157E308, 3.0]")


def _ours(strategy: Any, series: list[float],
          interval: tuple[int, int]) -> list[tuple[int, float | None, str | None]]:
    return [(i, a.value, a.detail) for i, a in strategy.detect(series, interval)]


@pytest.mark.jars
@pytest.mark.parametrize("series", SERIES, ids=["mixed", "zeros", "infinity"])
def test_change_and_threshold_strategies_equal_real_deequs(deequ: Any,
                                                           series: list[float]) -> None:
    jvm = deequ.sparkContext._jvm
    ad = jvm.com.amazon.deequ.anomalydetection

    def limit(value: float | None) -> Any:
        return jvm.scala.Option.apply(None if value is None else jvm.java.lang.Double(value))

    compared = 0
    for interval in [(0, len(series)), (2, len(series)), (len(series) - 1, len(series))]:
        for low, high, order in LIMITS:
            if interval[1] - max(interval[0] - order, 0) < order:
                continue  # Deequ's slice fails on a window shorter than the order
            real = ad.AbsoluteChangeStrategy(limit(low), limit(high), order)
            expected = deequ_anomalies(jvm, real, series, interval)
            assert _ours(AbsoluteChangeStrategy(low, high, order), series, interval) == expected
            # Deequ 2.0.7 names the relative strategy's details "[AbsoluteChangeStrategy]"
            # (docs/quality.md tables it); the rest of the detail is compared as is
            expected = [(i, v, d.replace("[AbsoluteChangeStrategy]",
                                         "[RelativeRateOfChangeStrategy]"))
                        for i, v, d in deequ_anomalies(jvm, ad.RelativeRateOfChangeStrategy(
                            limit(low), limit(high), order), series, interval)]
            ours = _ours(RelativeRateOfChangeStrategy(low, high, order), series, interval)
            assert ours == expected, (low, high, order, interval)
            compared += 2
        expected = deequ_anomalies(jvm, ad.SimpleThresholdStrategy(-MAX, 3.0), series, interval)
        assert _ours(SimpleThresholdStrategy(upperBound=3.0), series, interval) == expected
    assert compared >= 20
