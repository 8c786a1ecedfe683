"""The bulletin charts' value axes: round ticks that cover every bar, never too many."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from census_pipeline.lib.bulletin_html import nice_ticks

VALUES = st.integers(0, 2_000_000_000).map(lambda c: c / 100)  # counts and percentages, two decimals at most


@given(lo=VALUES, width=VALUES, most=st.integers(3, 10))
def test_ticks_cover_the_values_in_round_steps(lo, width, most):
    hi = lo + width
    ticks = nice_ticks(lo, hi, most)
    assert ticks[0] <= lo + 1e-9 and ticks[-1] >= hi - 1e-9  # every bar starts and ends inside the axis
    steps = {round(b - a, 6) for a, b in zip(ticks, ticks[1:], strict=False)}
    assert len(steps) <= 1 or max(steps) - min(steps) <= 1e-6 * max(steps)  # evenly spaced
    if len(ticks) > 1:
        step = ticks[1] - ticks[0]
        power = 10 ** math.floor(math.log10(step))
        # two ticks far from zero differ by their step give or take a few of their own rounding units
        # (0.005 between ticks near 2e7 measures 0.004999999): the tolerance grows with that
        tolerance = 1e-6 + 4 * math.ulp(max(abs(ticks[0]), abs(ticks[1]))) / power
        assert min(abs(step / power - m) for m in (1, 2, 5, 10)) < tolerance, step  # 1, 2 or 5 times a power of ten
        assert len(ticks) <= most + 2  # at most `most` steps across the values, one more at each end


def test_axes_for_the_bulletin():
    assert nice_ticks(0, 1_234_567) == [0, 500_000, 1_000_000, 1_500_000]
    assert nice_ticks(0, 1_234_567, most=10) == [0, 200_000, 400_000, 600_000, 800_000, 1_000_000, 1_200_000, 1_400_000]
    assert nice_ticks(0.2, 0.9) == [0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(0.01, 0.07) == [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07]  # no tick past the float error
    assert nice_ticks(5, 5) == [5]  # one value: one tick, never an endless axis
