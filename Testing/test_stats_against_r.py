"""Optional cross-check against R itself (Debian's r-base-core and r-cran-sandwich), skipped where R is not
installed: `make test` does not install it. Fisher's exact test of 2 x c tables, Welch's and Student's t, the
chi-square test, the cluster-robust logistic interval (sandwich::vcovCL, HC1) and the default level order."""

import shutil
import subprocess

import os

import numpy as np
import pytest

from CTOPlaqueStatsLib.comparison import categorical_test, compare_continuous
from CTOPlaqueStatsLib.exact_test import fisher_freeman_halton
from CTOPlaqueStatsLib.logistic import cluster_robust_summary
from CTOPlaqueStatsLib.variables import level_order

pytestmark = pytest.mark.skipif(shutil.which("Rscript") is None, reason="R (Debian r-base-core) is not installed")


def _r(script: str) -> list:
    """The lines an R script prints with cat(..., sep = "\\n"), numbers at 17 significant digits; R runs in a
    UTF-8 locale, where it sorts text with ICU (in the C locale it would sort by code point)."""
    run = subprocess.run(["Rscript", "-e", "options(digits = 17)", "-e", script], capture_output=True, encoding="utf-8",
                         timeout=120, env={**os.environ, "LC_ALL": "C.UTF-8"})
    assert run.returncode == 0, run.stderr
    return run.stdout.split("\n")[:-1]


def _vector(values) -> str:
    return "c(" + ", ".join(repr(float(v)) for v in values) + ")"


def test_fisher_freeman_halton_equals_r_fisher_test():
    tables = [[[3, 1, 4], [1, 5, 2]], [[8, 2, 3], [1, 5, 4]], [[6, 0, 2, 1, 3], [1, 4, 2, 5, 0]],
              [[20, 3, 1, 4, 9], [31, 2, 5, 0, 12]]]
    script = "; ".join(f"cat(fisher.test(matrix({_vector(np.asarray(t).ravel(order='F'))}, nrow = 2))$p.value, "
                       "sep = '\\n')" for t in tables)
    expected = [float(p) for p in _r(script)]
    assert [fisher_freeman_halton(t)[0] for t in tables] == pytest.approx(expected, rel=1e-9)


def test_t_tests_and_chi_square_equal_r():
    rng = np.random.default_rng(2)
    a, b = rng.normal(10, 1, 25), rng.normal(11, 3, 60)
    welch, student = (float(p) for p in _r(f"a <- {_vector(a)}; b <- {_vector(b)}; "
                                           "cat(t.test(a, b)$p.value, t.test(a, b, var.equal = TRUE)$p.value, "
                                           "sep = '\\n')"))
    assert compare_continuous(a, b)["p"] == pytest.approx(welch, rel=1e-10)
    assert compare_continuous(a, b, t_test="student")["p"] == pytest.approx(student, rel=1e-10)
    table = np.array([[12, 10, 8], [5, 15, 10]])
    (chi_square,) = _r(f"cat(chisq.test(matrix({_vector(table.ravel(order='F'))}, nrow = 2), correct = FALSE)"
                       "$p.value, sep = '\\n')")
    assert categorical_test(table) == (pytest.approx(float(chi_square), rel=1e-10), "chi-square")


def test_cluster_robust_interval_equals_r_sandwich_vcovcl_hc1():
    rng = np.random.default_rng(21)
    patients = np.repeat(np.arange(60), rng.integers(1, 4, 60))
    shared = rng.normal(0, 1.0, 60)[patients]
    x = rng.normal(0, 1, len(patients)) + shared
    y = (rng.random(len(patients)) < 1 / (1 + np.exp(-(0.2 + 0.6 * x + shared)))).astype(float)
    script = (f"suppressMessages(library(sandwich)); d <- data.frame(y = {_vector(y)}, x = {_vector(x)}, "
              f"p = {_vector(patients)}); m <- glm(y ~ x, binomial, d, control = list(epsilon = 1e-14)); "
              "cat(coef(m)[2], sqrt(vcovCL(m, cluster = ~p, type = 'HC1')[2, 2]), sep = '\\n')")
    beta, se = (float(v) for v in _r(script))
    ours = cluster_robust_summary(np.column_stack([np.ones(len(x)), x]), y, patients, index=1)
    assert np.log(ours["or"]) == pytest.approx(beta, rel=1e-8)
    assert np.log(ours["ci_high"] / ours["or"]) == pytest.approx(1.959963984540054 * se, rel=1e-6)


def test_default_level_order_equals_r_sort_with_icu_collation():
    levels = ["siemens", "Philips", "GE", "ge", "Ge", "b2", "B10", "b1", "Toshiba", "canon", "zürich", "Zürich",
              "ärzte", "Ärzte", "Öl", "ol", "Ol", "É", "e", "f"]
    script = f"cat(sort({'c(' + ', '.join(repr(v) for v in levels) + ')'}), sep = '\\n')"
    assert level_order(levels) == _r(script)
