"""Fisher's exact test of a 2 x c table (two outcome groups by c categories): the Freeman-Halton extension.

scipy's ``fisher_exact`` is exact for 2 x 2 tables only: larger tables it tests by Monte Carlo or
permutation resampling (unseeded by default, so that the p changes between runs). On PyPI, FisherExact (last
release 2018) and fexact (Fortran, after R's FEXACT) would bring an unmaintained or a compiled dependency into
Slicer for one test. With two rows the exact test is short to write and to check: given the
margins, a table is fixed by its first row x, whose probability is the multivariate hypergeometric
prod_j C(m_j, x_j) / C(n, k) (m_j column totals, k the first row's total, n the grand total). The p-value sums
the probabilities of all tables no more probable than the observed one, with R's relative tolerance 1e-7 for
ties (``fisher.test``).

The tables are enumerated column by column; a subtree whose most probable completion is already no more
probable than the observed table is added whole by Vandermonde's identity, sum over the remaining columns of
prod C(m_j, x_j) = C(sum m_j, r), which is the pruning of Mehta & Patel's network algorithm. Tables so large
that the enumeration would visit more than MAX_NODES partial tables (rare categories in a big cohort) get
a Monte Carlo p instead, as R's ``simulate.p.value``: scipy's, on MONTE_CARLO_TABLES random tables with the
observed margins from a fixed seed, so that a rerun gives the same p.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special, stats

RELATIVE_TOLERANCE = 1e-7
MAX_NODES = 300_000
MONTE_CARLO_TABLES = 100_000


class _TooLarge(Exception):
    pass


def _max_tail(totals: np.ndarray, remaining: int) -> float:
    """Largest sum of log C(m_j, x_j) over x with sum x_j = remaining, 0 <= x_j <= m_j: log C(m, x) is
    concave in x, so taking one unit at a time where it gains most is optimal."""
    taken = np.zeros(len(totals))
    total = 0.0
    for _ in range(remaining):
        gains = np.where(taken < totals, np.log(np.maximum(totals - taken, 1e-300)) - np.log(taken + 1), -np.inf)
        best = int(np.argmax(gains))
        taken[best] += 1
        total += gains[best]
    return total


def _exact_p(first_row: np.ndarray, totals: np.ndarray) -> float:
    totals = [int(m) for m in totals]
    count, k, n = len(totals), int(first_row.sum()), sum(totals)
    log_factorial = special.gammaln(np.arange(n + 1) + 1.0).tolist()

    def log_choose(m, x):
        return log_factorial[m] - log_factorial[x] - log_factorial[m - x]

    log_all = log_choose(n, k)
    threshold = sum(log_choose(m, int(x)) for m, x in zip(totals, first_row)) + RELATIVE_TOLERANCE
    suffix = np.concatenate([np.cumsum(totals[::-1])[::-1], [0]]).astype(int).tolist()
    max_tails = {}
    visited = [0]

    def tail_bound(column, remaining):
        key = (column, remaining)
        if key not in max_tails:
            max_tails[key] = _max_tail(np.array(totals[column:], float), remaining)
        return max_tails[key]

    def walk(column, remaining, weight) -> float:
        visited[0] += 1
        if visited[0] > MAX_NODES:
            raise _TooLarge
        if column == count - 1:
            weight += log_choose(totals[column], remaining)
            return math.exp(weight - log_all) if weight <= threshold else 0.0
        if weight + tail_bound(column, remaining) <= threshold:
            return math.exp(weight + log_choose(suffix[column], remaining) - log_all)
        low, high = max(0, remaining - suffix[column + 1]), min(totals[column], remaining)
        return sum(walk(column + 1, remaining - x, weight + log_choose(totals[column], x))
                   for x in range(low, high + 1))

    return min(1.0, walk(0, k, 0.0))


def _monte_carlo_p(table: np.ndarray) -> float:
    method = stats.MonteCarloMethod(n_resamples=MONTE_CARLO_TABLES, rng=np.random.default_rng(0))
    return float(stats.fisher_exact(table, method=method).pvalue)


def fisher_freeman_halton(table) -> tuple[float, bool]:
    """(p, exact) of Fisher's exact test of a 2 x c table of counts (c >= 2; a c x 2 table is transposed):
    exact is False when the p is the Monte Carlo estimate of a table too large to enumerate.

    Columns without counts are dropped (they do not change the test)."""
    table = np.asarray(table)
    if table.shape[0] != 2 and table.shape[1] == 2:
        table = table.T
    if table.shape[0] != 2 or np.any(table < 0) or np.any(table != np.round(table)):
        raise ValueError("a 2 x c table of non-negative counts is needed")
    table = table[:, table.sum(axis=0) > 0].astype(np.int64)
    if table.shape[1] < 2 or np.any(table.sum(axis=1) == 0):
        return 1.0, True
    totals = table.sum(axis=0).astype(float)
    first_row = table[0].astype(float)
    try:
        return _exact_p(first_row, totals), True
    except _TooLarge:
        return _monte_carlo_p(table), False
