"""Proportions: Wilson score intervals and two-sample tests (two-proportion z, Fisher's exact).

Standard library only. :func:`compare_proportions` picks the test: the pooled two-proportion z-test
when every expected cell count of the 2x2 table is at least 5, else Fisher's exact test (two-sided,
summing the probabilities of all tables no more likely than the observed one). Both are two-sided.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "Comparison",
    "compare_proportions",
    "fisher_exact",
    "two_proportion_z",
    "wilson_interval",
]

Z95 = 1.959963984540054
"""The standard normal's 97.5% quantile: a 95% two-sided interval."""


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials; (0, 1) when n is 0."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def two_proportion_z(k1: int, n1: int, k2: int, n2: int) -> tuple[float, float]:
    """Pooled two-proportion z-test of p1 = p2: (z, two-sided p-value); (0, 1) if undefined."""
    if n1 == 0 or n2 == 0:
        return (0.0, 1.0)
    pooled = (k1 + k2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return (0.0, 1.0)
    z = (k2 / n2 - k1 / n1) / se
    return (z, math.erfc(abs(z) / math.sqrt(2)))


def fisher_exact(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided p-value of Fisher's exact test on the table [[k1, n1-k1], [k2, n2-k2]]."""
    total, column = n1 + n2, k1 + k2
    low, high = max(0, column - n2), min(n1, column)

    def log_prob(a: int) -> float:
        return _log_comb(n1, a) + _log_comb(n2, column - a) - _log_comb(total, column)

    observed = log_prob(k1)
    # Relative tolerance, as in scipy: tables as likely as the observed one count as "as extreme".
    p = sum(math.exp(lp) for a in range(low, high + 1) if (lp := log_prob(a)) <= observed + 1e-7)
    return min(1.0, p)


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


@dataclass(frozen=True)
class Comparison:
    """A change in a proportion between two runs, with its test."""

    k1: int
    n1: int
    k2: int
    n2: int
    difference: float
    """p2 - p1 (the other run minus this one)."""
    test: str
    """ "two-proportion z" or "Fisher exact"."""
    p_value: float


def compare_proportions(k1: int, n1: int, k2: int, n2: int) -> Comparison:
    """Difference p2 - p1 with a two-sided test: z when all expected counts >= 5, else Fisher."""
    p1 = k1 / n1 if n1 else 0.0
    p2 = k2 / n2 if n2 else 0.0
    total = n1 + n2
    column = k1 + k2
    expected = (
        [n * column / total for n in (n1, n2)] + [n * (total - column) / total for n in (n1, n2)]
        if total
        else [0.0]
    )
    if min(expected) >= 5:
        _, p = two_proportion_z(k1, n1, k2, n2)
        return Comparison(k1, n1, k2, n2, p2 - p1, "two-proportion z", p)
    return Comparison(k1, n1, k2, n2, p2 - p1, "Fisher exact", fisher_exact(k1, n1, k2, n2))
