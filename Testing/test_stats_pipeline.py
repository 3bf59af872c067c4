"""Cohort assembly, group comparisons and the stats command end to end, including bad data."""

import json
import shutil
import subprocess
import os

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats
from stats_cohort_data import synthetic_cohort
from test_figure_print import assert_placed_at_physical_size

from CTOPlaqueStatsLib.analysis import clustering_patients
from CTOPlaqueStatsLib.command import main
from CTOPlaqueStatsLib.comparison import compare_categorical, compare_continuous, patients_from_lesions
from CTOPlaqueStatsLib.problems import ProblemLog
from CTOPlaqueStatsLib.variables import Variable


def _lesion_document(patient, lesion, nc_pav, observer=""):
    volumes = {"necrotic_core": nc_pav * 2.0, "fibrofatty": 10.0, "fibrous": 50.0, "dense_calcium": 20.0}
    total = sum(volumes.values())
    return {"schema": "ctoplaque.lesion/1", "lesion_id": lesion, "patient_id": patient, "observer": observer,
            "occlusion_length_mm": 20.0, "total_plaque_volume_mm3": total, "vessel_volume_mm3": total,
            "volumes_mm3": volumes, "pav_percent": {k: 100 * v / total for k, v in volumes.items()},
            "noncalcified_volume_mm3": total - 20.0, "noncalcified_pav_percent": 100 * (total - 20) / total,
            "unclassified_volume_mm3": 0.0, "reference": {}, "morphology": {"max_bending_deg": 12.0},
            "software": {"name": "CTOPlaque", "version": "0.1.0"}}


def _welch_p(a, b):
    """Welch's t-test by hand: t = (mean_a - mean_b) / sqrt(s_a^2/n_a + s_b^2/n_b), Welch-Satterthwaite df."""
    va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    t = (np.mean(a) - np.mean(b)) / np.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    return 2 * stats.t.sf(abs(t), df)


def test_continuous_comparison_picks_welch_student_or_mann_whitney():
    """Welch's t by default (hand formula), Student's on request (scipy's pooled-variance test); unequal variances
    and sizes make them differ, here on either side of 0.05; skewed groups get the Mann-Whitney U test."""
    rng = np.random.default_rng(2)
    normal_a, normal_b = rng.normal(10, 1, 25), rng.normal(11, 3, 60)
    welch = compare_continuous(normal_a, normal_b)
    assert welch["test"] == "Welch's t-test"
    assert welch["p"] == pytest.approx(_welch_p(normal_a, normal_b), rel=1e-10)
    student = compare_continuous(normal_a, normal_b, t_test="student")
    assert student["test"] == "Student's t-test"
    assert student["p"] == pytest.approx(stats.ttest_ind(normal_a, normal_b).pvalue, rel=1e-12)
    assert welch["p"] < 0.05 < student["p"]
    assert welch["summary_0"] == f"{normal_a.mean():.2f} ± {normal_a.std(ddof=1):.2f}"
    both = np.concatenate([normal_a, normal_b])
    assert welch["summary_all"] == f"{both.mean():.2f} ± {both.std(ddof=1):.2f}"
    skewed_a, skewed_b = rng.lognormal(0, 1, 40), rng.lognormal(0.5, 1, 50)
    result = compare_continuous(skewed_a, skewed_b)
    assert result["test"] == "Mann-Whitney U"
    assert result["p"] == pytest.approx(stats.mannwhitneyu(skewed_a, skewed_b).pvalue, rel=1e-12)


def test_categorical_comparison_chi_square_or_fisher():
    groups = pd.Series([0.0] * 60 + [1.0] * 60)
    values = pd.Series([1.0] * 20 + [0.0] * 40 + [1.0] * 35 + [0.0] * 25)
    (result,) = compare_categorical(groups, Variable("diabetes", values, "binary"))
    assert result["test"] == "chi-square"
    expected = stats.chi2_contingency([[40, 20], [25, 35]], correction=False).pvalue
    assert result["p"] == pytest.approx(expected, rel=1e-12)
    assert result["summary_0"] == "20 (33.3%)" and result["summary_1"] == "35 (58.3%)"
    assert result["summary_all"] == "55 (45.8%)" and result["category"] == "1"
    small = pd.Series([1.0] * 1 + [0.0] * 7 + [1.0] * 6 + [0.0] * 2)
    (result,) = compare_categorical(pd.Series([0.0] * 8 + [1.0] * 8), Variable("x", small, "binary"))
    assert result["test"] == "Fisher exact"
    assert result["p"] == pytest.approx(stats.fisher_exact([[7, 1], [2, 6]]).pvalue, rel=1e-12)


def test_categorical_variable_with_three_levels_is_one_test_with_a_row_per_level():
    """Vendor GE / Philips / Siemens: one chi-square of the 2 x 3 table (scipy), three rows with the reference
    first; with small counts one Fisher-Freeman-Halton test (its value is checked in test_stats_exact)."""
    groups = pd.Series([0.0] * 30 + [1.0] * 30)
    vendor = pd.Series(["GE"] * 12 + ["Philips"] * 10 + ["Siemens"] * 8 + ["GE"] * 5 + ["Philips"] * 15
                       + ["Siemens"] * 10)
    rows = compare_categorical(groups, Variable("vendor", vendor, "categorical", ("Philips", "GE", "Siemens")))
    assert [(r["category"], r["reference"]) for r in rows] == [("Philips", "yes"), ("GE", ""), ("Siemens", "")]
    expected = stats.chi2_contingency([[12, 10, 8], [5, 15, 10]], correction=False).pvalue
    assert [r["p"] for r in rows] == pytest.approx([expected] * 3, rel=1e-12)
    assert {r["test"] for r in rows} == {"chi-square"}
    assert rows[1]["summary_0"] == "12 (40.0%)" and rows[1]["summary_1"] == "5 (16.7%)"
    few = compare_categorical(groups[:12], Variable("vendor", pd.Series(["GE", "Philips", "Siemens"] * 4),
                                                    "categorical", ("GE", "Philips", "Siemens")))
    assert few[0]["test"] == "Fisher-Freeman-Halton exact"


def test_patient_level_outcome_any_failed_rule():
    frame = pd.DataFrame({"patient_id": ["a", "a", "b", "c"], "success": [1.0, 0.0, 1.0, 0.0], "age": [60, 60, 50, 70]})
    problems = ProblemLog()
    strict = patients_from_lesions(frame, "success", ["age"], "any-failed", problems)
    assert strict.set_index("patient_id")["success"].to_dict() == {"a": 0.0, "b": 1.0, "c": 0.0}
    lenient = patients_from_lesions(frame, "success", ["age"], "any-success", problems)
    assert lenient.set_index("patient_id")["success"].to_dict() == {"a": 1.0, "b": 1.0, "c": 0.0}
    assert len(problems) == 0
    frame.loc[1, "age"] = 62
    patients_from_lesions(frame, "success", ["age"], "any-failed", problems)
    assert problems.items[0]["message"].startswith("differs between the lesions of 1 patient(s) (e.g. a)")


def test_cohort_command_gathers_reports_and_joins(tmp_path):
    exports = tmp_path / "exports"
    exports.mkdir()
    for patient, lesion, nc in [("P1", "L1", 30.0), ("P2", "L2", 40.0), ("P3", "L3", 20.0)]:
        json.dump(_lesion_document(patient, lesion, nc), open(exports / f"{lesion}.lesion.json", "w"))
    pd.DataFrame([{"lesion_id": "L1", "patient_id": "P1", "necrotic_core_pav": 1}]).to_csv(
        exports / "L1.lesion.csv", index=False)  # sibling of L1.lesion.json: the same export, not read twice
    copy = tmp_path / "copy"
    copy.mkdir()
    json.dump(_lesion_document("P2", "L2", 41.0), open(copy / "L2.lesion.json", "w"))
    clinical = tmp_path / "clinical.csv"
    pd.DataFrame({"patient_id": ["P1", "P2", "P9"], "age": [61, 55, 70], "diabetes": [1, 0, 1],
                  "note": ["=1+1", "ok", "@SUM(A1)"]}).to_csv(clinical, index=False)
    out = tmp_path / "cohort.csv"
    assert main(["cohort", str(exports), str(copy), "--clinical", str(clinical), "--out", str(out)]) == 0
    cohort = pd.read_csv(out, dtype={"patient_id": str})
    assert sorted(cohort["lesion_id"]) == ["L1", "L2", "L3"]
    assert cohort.set_index("lesion_id").loc["L2", "age"] == 55
    assert np.isnan(cohort.set_index("lesion_id").loc["L3", "age"])
    assert cohort.set_index("lesion_id").loc["L1", "note"] == "'=1+1"  # neutralized for spreadsheets


def test_cohort_problems_are_reported_on_stderr(tmp_path, capsys):
    exports = tmp_path / "exports"
    exports.mkdir()
    json.dump(_lesion_document("P1", "L1", 30.0), open(exports / "a.lesion.json", "w"))
    json.dump(_lesion_document("P1", "L1", 31.0), open(exports / "b.lesion.json", "w"))
    json.dump(_lesion_document("P2", "L2", 31.0), open(exports / "c.lesion.json", "w"))
    clinical = tmp_path / "clinical.csv"
    pd.DataFrame({"patient_id": ["P1", "P7"], "age": [61, 70]}).to_csv(clinical, index=False)
    assert main(["cohort", str(exports), "--clinical", str(clinical), "--out", str(tmp_path / "c.csv")]) == 0
    notes = capsys.readouterr().err
    assert "duplicate of lesion L1" in notes
    assert "lesion L2 (patient P2) has no clinical row" in notes
    assert "clinical row P7 has no lesion export" in notes


@pytest.fixture(scope="module")
def stats_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stats")
    cohort = synthetic_cohort(207, seed=5)
    cohort["occlusion_length_mm"] = cohort["occlusion_length_mm"].astype(object)
    cohort.loc[3, "occlusion_length_mm"] = "unknown"          # text in a numeric column
    cohort["constant"] = 1.0                               # constant predictor
    cohort["empty"] = np.nan                               # all-missing predictor
    cohort["grade"] = np.arange(207) % 3                   # a non-binary outcome
    cohort.loc[0, "lesion_id"] = "=cmd|' /C calc'!A0"     # a formula-looking cell
    path = folder / "cohort.csv"
    cohort.to_csv(path, index=False)
    out = folder / "out"
    status = main(["stats", str(path), "--outcome", "crossing_success", "--outcome", "grade", "--predictors",
                   "dense_calcium_pav", "fibrous_pav", "necrotic_core_pav", "occlusion_length_mm", "constant", "empty",
                   "missing_column", "--adjust", "age", "male", "diabetes", "--patient-vars", "age", "male",
                   "--out", str(out)])
    return status, cohort, out


def test_stats_writes_every_output(stats_run):
    status, _, out = stats_run
    assert status == 0
    assert sorted(os.listdir(out)) == ["boxplots.png", "comparison.csv", "forest.png", "logistic.csv",
                                       "problems.csv", "report.html", "table1.csv"]


def test_logistic_output_matches_statsmodels(stats_run):
    _, cohort, out = stats_run
    logistic = pd.read_csv(out / "logistic.csv")
    row = logistic[(logistic.predictor == "dense_calcium_pav") & (logistic.model == "adjusted")].iloc[0]
    design = sm.add_constant(cohort[["dense_calcium_pav", "age", "male", "diabetes"]].astype(float))
    reference = sm.GLM(cohort["crossing_success"].astype(float), design, family=sm.families.Binomial()).fit(tol=1e-13)
    assert row["or"] == pytest.approx(np.exp(reference.params["dense_calcium_pav"]), rel=1e-6)
    assert row["p_model"] == pytest.approx(reference.pvalues["dense_calcium_pav"], rel=1e-5)
    low, high = np.exp(reference.conf_int().loc["dense_calcium_pav"])
    assert (row["ci_low_model"], row["ci_high_model"]) == pytest.approx((low, high), rel=1e-6)
    assert (row["n"], row["events"], row["method"]) == (207, cohort["crossing_success"].sum(), "ml")
    assert row["label"] == "Dense calcium PAV (%)"
    assert set(logistic.model) == {"univariate", "adjusted"}


def test_bad_data_is_reported_not_fatal(stats_run):
    _, _, out = stats_run
    problems = pd.read_csv(out / "problems.csv")
    text = " | ".join(problems["where"] + ": " + problems["message"])
    assert "grade: outcome is not binary" in text
    assert "constant: constant" in text
    assert "empty: all values missing" in text
    assert "missing_column: column not in the cohort table" in text
    assert "occlusion_length_mm: 1 text value(s) in a numeric column ('unknown')" in text
    report = open(out / "report.html", encoding="utf-8").read()
    assert "outcome is not binary" in report and "data:image/png;base64," in report


def test_comparison_has_lesion_and_patient_levels(stats_run):
    _, _, out = stats_run
    comparison = pd.read_csv(out / "comparison.csv")
    assert set(comparison.level) == {"lesion", "patient"}
    assert list(comparison.columns[:8]) == ["outcome", "variable", "label", "level", "category", "reference", "test",
                                            "p"]
    male = comparison[comparison.variable == "male"]
    assert set(male.test) <= {"chi-square", "Fisher exact"} and list(male.level) == ["patient"]  # one row: the 1s
    assert set(male.category) == {1} and set(male.label) == {"Male"}


def test_missing_cohort_file_is_exit_2(tmp_path, capsys):
    assert main(["stats", str(tmp_path / "none.csv"), "--outcome", "x", "--predictors", "y",
                 "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.startswith("error: table not found")
    assert not (tmp_path / "o").exists()


def test_icc_command_on_shrout_fleiss_data(tmp_path):
    ratings = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]])
    rows = [{"lesion": f"L{t}", "observer": f"R{r}", "length_mm": ratings[t, r]} for t in range(6) for r in range(4)]
    path = tmp_path / "ratings.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    assert main(["icc", str(path), "--target", "lesion", "--rater", "observer", "--value", "length_mm",
                 "--out", str(tmp_path / "icc")]) == 0
    table = pd.read_csv(tmp_path / "icc" / "icc.csv").set_index("form")
    assert table.loc["ICC3k", "icc"] == pytest.approx(0.91, abs=0.005)
    assert table.loc["ICC2", "n_targets"] == 6


def test_stats_compares_a_base_model_with_added_plaque_variables(tmp_path):
    cohort = synthetic_cohort(400, seed=9)
    cohort["jcto"] = np.random.default_rng(9).integers(0, 5, len(cohort))
    path = tmp_path / "cohort.csv"
    cohort.to_csv(path, index=False)
    out = tmp_path / "out"
    assert main(["stats", str(path), "--outcome", "crossing_success", "--predictors", "dense_calcium_pav",
                 "--base-model", "jcto", "--added", "dense_calcium_pav", "fibrous_pav", "--out", str(out)]) == 0
    for name in ("prediction.csv", "prediction_comparison.csv", "roc.png", "calibration.png"):
        assert (out / name).is_file()
    models = pd.read_csv(out / "prediction.csv")
    assert list(models.model) == ["base", "base + added"]
    comparison = pd.read_csv(out / "prediction_comparison.csv").iloc[0]
    full = sm.GLM(cohort["crossing_success"].astype(float),
                  sm.add_constant(cohort[["jcto", "dense_calcium_pav", "fibrous_pav"]].astype(float)),
                  family=sm.families.Binomial()).fit(tol=1e-13)
    base = sm.GLM(cohort["crossing_success"].astype(float), sm.add_constant(cohort[["jcto"]].astype(float)),
                  family=sm.families.Binomial()).fit(tol=1e-13)
    assert comparison["lr_chi2"] == pytest.approx(base.deviance - full.deviance, rel=1e-6)
    assert comparison["lr_df"] == 2
    report = open(out / "report.html", encoding="utf-8").read()
    assert "Incremental value of the added predictors" in report and "ROC curves" in report
    assert "The test of added value is the likelihood-ratio test" in report and "Demler" in report
    assert list(pd.read_csv(out / "prediction_comparison.csv").columns[3:6]) == ["lr_chi2", "lr_df", "lr_p"]


def test_lesion_level_models_are_clustered_by_patient_whenever_a_patient_has_two_lesions(stats_run):
    """The pre-specified rule: 207 lesions of fewer patients, so every maximum-likelihood row's interval and p are
    cluster-robust by patient, over as many patients as the complete rows hold, and the model-based ones are the
    secondary columns; a cohort of one lesion per patient is not clustered."""
    _, cohort, out = stats_run
    logistic = pd.read_csv(out / "logistic.csv")
    ml = logistic[logistic.method == "ml"]
    assert set(ml.interval) == {"cluster-robust by patient"}
    assert ml["p_model"].notna().all() and (ml["ci_low"] < ml["or"]).all() and (ml["or"] < ml["ci_high"]).all()
    assert (ml["ci_low"] != ml["ci_low_model"]).all()
    row = ml[(ml.predictor == "dense_calcium_pav") & (ml.model == "univariate")].iloc[0]
    assert row["patients"] == cohort["patient_id"].nunique() < len(cohort)
    single = synthetic_cohort(120, seed=4, lesions_per_patient=1.0)
    single["patient_id"] = single["lesion_id"]
    assert clustering_patients(single, ProblemLog()) is None
    assert clustering_patients(cohort, ProblemLog()) is not None


def test_constant_up_to_rounding_is_constant_and_a_small_real_spread_is_not():
    """PAVs from a constant total differ only in their last bits with the summation order: left out as
    constant, whatever numpy's summation does; a relative spread of 1e-6 is a variable."""
    from CTOPlaqueStatsLib.problems import ProblemLog
    from CTOPlaqueStatsLib.variables import numeric_variable

    pav = 100 * 20.0 / 170.0
    rounding = pd.Series([pav, np.nextafter(pav, 100.0), np.nextafter(pav, 0.0), pav])
    problems = ProblemLog()
    assert numeric_variable(rounding, "fibrofatty_pav", problems) is None
    assert problems.items == [{"where": "fibrofatty_pav", "message": "constant (a single value); left out"}]
    spread = pd.Series([pav, pav * (1 + 1e-6), pav])
    assert numeric_variable(spread, "fibrofatty_pav", ProblemLog()).tolist() == spread.tolist()


def test_table1_by_outcome_at_lesion_and_patient_level_with_the_comparisons_p(stats_run):
    """table1.csv: each compared variable once per outcome and level under its label, mean ± SD where the
    comparison used a t-test and median [Q1–Q3] where it used Mann-Whitney, summaries equal to numpy's, groups
    named with their size, p as comparison.csv's written as journals do; the report shows it under the group
    names with the footnote naming the tests."""
    _, cohort, out = stats_run
    table1 = pd.read_csv(out / "table1.csv", dtype=str, keep_default_na=False)
    comparison = pd.read_csv(out / "comparison.csv")
    tested = table1[table1["p"] != ""]
    assert len(tested) == len(comparison)
    for _, row in comparison.iterrows():
        match = tested[(tested.outcome == row.outcome) & (tested.level == row.level)
                       & (tested.variable == row.variable)].iloc[0]
        assert match["p"] == ("<0.001" if row["p"] < 0.001 else f"{row['p']:.3f}"), row.variable
        assert match["test"] == row["test"]
        summary = {"Welch's t-test": "mean ± SD", "Mann-Whitney U": "median [Q1–Q3]"}.get(row["test"], "n (%)")
        assert match["characteristic"] == f"{row.label}, {summary}"
    lesion = table1[(table1.outcome == "crossing_success") & (table1.level == "lesion")]
    failures = int((cohort["crossing_success"] == 0).sum())
    assert lesion["group_0_name"].iloc[0] == f"failure (n = {failures})"
    assert lesion["group_1_name"].iloc[0] == f"success (n = {len(cohort) - failures})"
    assert set(table1.level) == {"lesion", "patient"}
    fibrous = lesion[lesion.variable == "fibrous_pav"].iloc[0]
    values = cohort["fibrous_pav"]
    if fibrous["test"] == "Welch's t-test":
        assert fibrous["overall"] == f"{values.mean():.2f} ± {values.std(ddof=1):.2f}"
    else:
        q1, median, q3 = np.percentile(values, [25, 50, 75])
        assert fibrous["overall"] == f"{median:.2f} [{q1:.2f}–{q3:.2f}]"
    male = table1[(table1.level == "patient") & (table1.variable == "male")]
    patients = cohort.groupby("patient_id")["male"].first()
    assert len(male) == 1 and male.iloc[0]["characteristic"] == "Male, n (%)"
    assert male.iloc[0]["overall"] == f"{patients.sum()} ({100 * patients.mean():.1f}%)"
    report = open(out / "report.html", encoding="utf-8").read()
    assert f"failure (n = {failures})" in report and "By Guidewire crossing ≤ 30 min, patient level" in report
    assert "Welch&#x27;s t-test where both groups pass the Shapiro-Wilk test" in report
    assert "dense_calcium_pav" not in report.split("<h2>Problems")[0] + report.split("<h2>Table 1")[1]


def test_report_prints_on_a4_with_every_table_and_figure(tmp_path):
    """report.html printed by headless Chromium, as a reader prints it: A4 pages whose text holds every section,
    Table 1's named groups and the reader's logistic columns, and one image per figure."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None or shutil.which("pdftotext") is None:
        pytest.skip("chromium and poppler-utils are not installed; `make test` installs them where apt can")
    cohort = synthetic_cohort(207, seed=5)
    cohort["jcto"] = np.random.default_rng(9).integers(0, 5, len(cohort))
    cohort.to_csv(tmp_path / "cohort.csv", index=False)
    out = tmp_path / "out"
    assert main(["stats", str(tmp_path / "cohort.csv"), "--outcome", "crossing_success", "--predictors",
                 "dense_calcium_pav", "total_plaque_volume_mm3", "--adjust", "age", "male", "--patient-vars", "age",
                 "--base-model", "jcto", "--added", "dense_calcium_pav", "--out", str(out)]) == 0
    pdf = tmp_path / "report.pdf"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                    f"--print-to-pdf={pdf}", (out / "report.html").as_uri()], capture_output=True, timeout=120)
    assert "(A4)" in subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    text = " ".join(subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True,
                                   encoding="utf-8").stdout.split())
    failures = int((cohort["crossing_success"] == 0).sum())
    for expected in ("Table 1: characteristics by outcome", f"failure (n = {failures})", "Group comparisons",
                     "Logistic regression", "OR per SD (95% CI)", "p, lesions independent", "adjusted for",
                     "Incremental value of the added predictors", "The test of added value is the likelihood-ratio",
                     "Odds ratios per 1 SD", "Predictors by outcome group", "ROC curves", "Calibration"):
        assert expected in text, expected
    images = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True).stdout.splitlines()[2:]
    assert len(images) == 4  # forest, box plots, ROC, calibration
    assert_placed_at_physical_size((out / "report.html").read_text(encoding="utf-8"))  # as test_figure_print checks


def test_forest_labels_name_the_predictor_and_its_sd_not_the_outcome(stats_run):
    from CTOPlaqueStatsLib.figures import forest_labels

    _, cohort, out = stats_run
    logistic = pd.read_csv(out / "logistic.csv")
    rows = logistic[(logistic.model == "adjusted") & (logistic.outcome == "crossing_success")]
    labels = forest_labels(rows)
    assert not [label for label in labels if "crossing_success" in label]
    sd = cohort["dense_calcium_pav"].std(ddof=1)
    assert f"Dense calcium PAV (SD {sd:.3g} %)" in labels
    row = rows[rows.predictor == "dense_calcium_pav"].iloc[0]
    assert row["or_per_sd"] == pytest.approx(row["or"] ** row["sd"], rel=1e-12)
    assert row["sd"] == pytest.approx(sd, rel=1e-12)


@pytest.mark.parametrize("case", ["absent outcome", "non-binary outcome", "absent predictors", "header only"])
def test_stats_with_nothing_to_analyse_is_an_error_and_writes_nothing(tmp_path, capsys, case):
    cohort = synthetic_cohort(40, seed=1)
    cohort["grade"] = np.arange(40) % 3
    if case == "header only":
        cohort = cohort.iloc[:0]
    cohort.to_csv(tmp_path / "cohort.csv", index=False)
    outcome = {"absent outcome": "no_such_outcome", "non-binary outcome": "grade"}.get(case, "crossing_success")
    predictors = ["nothing", "none"] if case == "absent predictors" else ["dense_calcium_pav"]
    status = main(["stats", str(tmp_path / "cohort.csv"), "--outcome", outcome, "--predictors", *predictors,
                   "--out", str(tmp_path / "out")])
    error = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(error) == 1 and error[0].startswith("error: no analysis can run: no usable")
    assert {"absent outcome": "no_such_outcome: outcome column not in the cohort table",
            "non-binary outcome": "grade: outcome is not binary", "absent predictors": "none: column not in the cohort",
            "header only": "crossing_success: outcome has no values"}[case] in error[0]
    assert not (tmp_path / "out").exists()


def test_stats_options_are_validated_and_the_cohort_may_follow_a_list(tmp_path, capsys):
    cohort = synthetic_cohort(60, seed=2)
    cohort["vendor"] = np.where(np.arange(60) % 3 == 0, "GE", "Philips")
    cohort["male"] = (np.arange(60) % 4 > 0).astype(int)
    cohort["scanner_constant"] = 1.0
    cohort.to_csv(tmp_path / "cohort.csv", index=False)
    base = ["--outcome", "crossing_success", "--out", str(tmp_path / "out")]
    for bad, message in [(["--bootstrap", "50"], "--bootstrap 50: at least 200"),
                         (["--reference", "vendor"], "--reference vendor: give it as COLUMN=LEVEL"),
                         (["--adjust", "vendor", "--reference", "vendor=Siemens"], "vendor has no level 'Siemens'"),
                         (["--reference", "sex=M"], "--reference for sex: not a predictor")]:
        status = main(["stats", str(tmp_path / "cohort.csv"), "--predictors", "fibrous_pav", *bad, *base])
        error = capsys.readouterr().err.strip()
        assert status == 2 and error.startswith("error: ") and "\n" not in error and message in error, bad
        assert not (tmp_path / "out").exists()
    (tmp_path / "labels.csv").write_text("column,label,unit\nfibrous_pav,Fibrous tissue PAV,%\n", encoding="utf-8")
    assert main(["stats", "--predictors", "fibrous_pav", "age", str(tmp_path / "cohort.csv"), "--adjust", "male",
                 "vendor", "scanner_constant", "--reference", "vendor=Philips", "--labels",
                 str(tmp_path / "labels.csv"), *base]) == 0
    logistic = pd.read_csv(tmp_path / "out" / "logistic.csv")
    assert list(logistic.predictor.unique()) == ["fibrous_pav", "age"]
    assert set(logistic.loc[logistic.model == "adjusted", "covariates"]) == {"male, vendor=GE"}
    report = open(tmp_path / "out" / "report.html", encoding="utf-8").read()
    assert ("<b>adjusted for</b>: Male, Vendor (left out, see the problems: scanner_constant)" in report)
    assert "<b>reference levels</b>: Vendor: Philips" in report and "<b>t-test</b>: Welch&#x27;s t-test" in report
    table1 = pd.read_csv(tmp_path / "out" / "table1.csv", dtype=str, keep_default_na=False)
    assert any(text.startswith("Fibrous tissue PAV (%), ") for text in table1.characteristic)
    assert list(table1.loc[table1.variable == "vendor", "value"]) == ["", "Philips (reference)", "GE"]
