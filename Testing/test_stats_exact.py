"""Fisher-Freeman-Halton exact test of 2 x c tables against full enumeration, scipy's 2 x 2 test and R."""

import itertools

import numpy as np
import pytest
from scipy import stats

from CTOPlaqueStatsLib import exact_test
from CTOPlaqueStatsLib.exact_test import fisher_freeman_halton


def _enumerated_p(table):
    """Every first row with the observed margins, its multivariate hypergeometric probability from exact
    integer binomials, summed where no more probable than the observed table (R's tolerance 1e-7)."""
    from math import comb

    table = np.asarray(table)
    totals, k = table.sum(axis=0), int(table[0].sum())
    everything = comb(int(totals.sum()), k)

    def probability(row):
        return np.prod([comb(int(m), int(x)) for m, x in zip(totals, row)]) / everything

    observed = probability(table[0])
    rows = (row for row in itertools.product(*[range(int(m) + 1) for m in totals]) if sum(row) == k)
    return sum(p for p in map(probability, rows) if p <= observed * (1 + 1e-7))


@pytest.mark.parametrize("table", [[[3, 1, 4], [1, 5, 2]], [[8, 2, 3], [1, 5, 4]], [[0, 3, 2, 5], [4, 1, 1, 0]],
                                   [[6, 0, 2, 1, 3], [1, 4, 2, 5, 0]], [[2, 2, 2], [2, 2, 2]]])
def test_exact_p_equals_full_enumeration(table):
    p, exact = fisher_freeman_halton(table)
    assert exact and p == pytest.approx(_enumerated_p(table), rel=1e-10)
    transposed, _ = fisher_freeman_halton(np.asarray(table).T)
    assert transposed == p


def test_two_by_two_equals_scipy_and_the_r_tea_tasting_value():
    for table in ([[7, 1], [2, 6]], [[3, 1], [1, 3]], [[10, 2], [3, 15]]):
        assert fisher_freeman_halton(table)[0] == pytest.approx(stats.fisher_exact(table).pvalue, rel=1e-10)
    # R documentation, TeaTasting: fisher.test(matrix(c(3, 1, 1, 3), 2)) -> p-value = 0.4857
    assert fisher_freeman_halton([[3, 1], [1, 3]])[0] == pytest.approx(0.4857, abs=5e-5)


def test_degenerate_tables_have_p_one():
    assert fisher_freeman_halton([[3, 0, 2], [4, 0, 1]])[0] == pytest.approx(_enumerated_p([[3, 2], [4, 1]]))
    assert fisher_freeman_halton([[0, 0, 0], [1, 2, 3]]) == (1.0, True)
    with pytest.raises(ValueError):
        fisher_freeman_halton([[1, 2, 3], [1, 2, 3], [1, 2, 3]])


def test_too_large_for_enumeration_falls_back_to_a_seeded_monte_carlo(monkeypatch):
    table = np.array([[6, 0, 2, 1, 3], [1, 4, 2, 5, 0]])
    monkeypatch.setattr(exact_test, "MAX_NODES", 5)
    p, exact = fisher_freeman_halton(table)
    assert not exact
    assert p == pytest.approx(_enumerated_p(table), abs=0.003)  # 100 000 tables: SE of p about 0.0005
    assert fisher_freeman_halton(table)[0] == p
