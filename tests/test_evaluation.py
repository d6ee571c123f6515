"""caret's confusionMatrix statistics on hand-computed matrices; mistakes; label errors;
the statistics as people read them (caret's names, NA, "< 1e-16")."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mnist_core import evaluation


def _labels_from_matrix(matrix):
    """y_true, y_pred realising a confusion matrix (rows true, columns predicted)."""
    pairs = [(t, p) for t, row in enumerate(matrix) for p, count in enumerate(row) for _ in range(count)]
    true, pred = zip(*pairs)
    return np.array(true), np.array(pred)


MATRIX = [[5, 1, 0],
          [2, 3, 1],
          [0, 1, 7]]  # fmt: skip


def test_overall_statistics_by_hand():
    y_true, y_pred = _labels_from_matrix(MATRIX)
    result = evaluation.classification_stats(y_true, y_pred, class_names=("a", "b", "c"))
    overall = result.overall
    assert overall["n"] == 20 and overall["mismatches"] == 5
    assert overall["accuracy"] == pytest.approx(15 / 20)
    assert overall["no_information_rate"] == pytest.approx(8 / 20)  # the largest true class
    # Kappa: expected agreement from row and column totals (6,6,8) and (7,5,8).
    expected = (6 * 7 + 6 * 5 + 8 * 8) / 400
    assert overall["kappa"] == pytest.approx((0.75 - expected) / (1 - expected))
    assert overall["kappa"] == pytest.approx(0.621212, abs=1e-6)
    # One-sided binomial p-value P(X >= 15), X ~ Bin(20, 0.4), summed by hand.
    p = sum(math.comb(20, k) * 0.4**k * 0.6 ** (20 - k) for k in range(15, 21))
    assert overall["p_value_acc_gt_nir"] == pytest.approx(p, rel=1e-9)
    np.testing.assert_array_equal(result.confusion, MATRIX)
    # The pair (a, c) is never confused either way: 0/0 in McNemar's statistic, R's NA.
    assert np.isnan(overall["mcnemar_p_value"])


def test_per_class_statistics_by_hand():
    y_true, y_pred = _labels_from_matrix(MATRIX)
    table = evaluation.classification_stats(y_true, y_pred, class_names=("a", "b", "c")).per_class
    expected = pd.DataFrame(
        {
            "sensitivity": [5 / 6, 3 / 6, 7 / 8],
            "specificity": [12 / 14, 12 / 14, 11 / 12],
            "pos_pred_value": [5 / 7, 3 / 5, 7 / 8],
            "neg_pred_value": [12 / 13, 12 / 15, 11 / 12],
            "precision": [5 / 7, 3 / 5, 7 / 8],
            "recall": [5 / 6, 3 / 6, 7 / 8],
            "f1": [10 / 13, 2 * 0.6 * 0.5 / 1.1, 7 / 8],
            "prevalence": [6 / 20, 6 / 20, 8 / 20],
            "detection_rate": [5 / 20, 3 / 20, 7 / 20],
            "detection_prevalence": [7 / 20, 5 / 20, 8 / 20],
            "balanced_accuracy": [(5 / 6 + 12 / 14) / 2, (0.5 + 12 / 14) / 2, (7 / 8 + 11 / 12) / 2],
        },
        index=pd.Index(["a", "b", "c"], name="class"),
    )
    pd.testing.assert_frame_equal(table, expected)
    assert table.round(4).loc["b", "balanced_accuracy"] == 0.6786


def test_clopper_pearson_interval_matches_r_binom_test():
    # R: binom.test(7, 10)$conf.int -> 0.3475471 0.9332605
    y_true = np.zeros(10, dtype=int)
    y_pred = np.array([0] * 7 + [1] * 3)
    overall = evaluation.classification_stats(y_true, y_pred).overall
    assert overall["accuracy_ci_low"] == pytest.approx(0.3475471, abs=1e-7)
    assert overall["accuracy_ci_high"] == pytest.approx(0.9332605, abs=1e-7)
    perfect = evaluation.classification_stats(np.array([0, 1, 1]), np.array([0, 1, 1])).overall
    assert perfect["accuracy_ci_high"] == 1.0
    assert perfect["accuracy_ci_low"] == pytest.approx(0.025 ** (1 / 3))  # (alpha/2)^(1/n)


def test_a_class_never_predicted_has_undefined_precision_like_caret():
    table = evaluation.classification_stats(np.array([0, 1, 1]), np.array([0, 0, 0])).per_class
    assert np.isnan(table.loc["1", "pos_pred_value"]) and np.isnan(table.loc["1", "f1"])
    assert table.loc["1", "sensitivity"] == 0


@pytest.mark.parametrize(
    "how, first_row",
    [("true", [5 / 6, 1 / 6, 0]), ("pred", [5 / 7, 1 / 5, 0]), ("all", [0.25, 0.05, 0]),
     ("none", [5, 1, 0])],
)  # fmt: skip
def test_normalizations(how, first_row):
    np.testing.assert_allclose(evaluation.normalize(np.array(MATRIX), how)[0], first_row)


def test_unknown_normalization_lists_the_valid_ones():
    with pytest.raises(ValueError, match="Unknown normalization 'rows'; pass one of true, pred, all, none."):
        evaluation.normalize(np.eye(2), "rows")


def test_mistakes_most_confident_first_and_label_errors_by_self_confidence():
    y_true = np.array([0, 1, 2, 1, 0])
    probabilities = np.array([
        [0.9, 0.05, 0.05],   # right
        [0.7, 0.2, 0.1],     # wrong, says 0 with 0.7; p(given)=0.2
        [0.1, 0.85, 0.05],   # wrong, says 1 with 0.85; p(given)=0.05
        [0.3, 0.6, 0.1],     # right
        [0.45, 0.5, 0.05],   # wrong, says 1 with 0.5; p(given)=0.45
    ])  # fmt: skip
    table = evaluation.mistakes(y_true, probabilities)
    assert table["index"].tolist() == [2, 1, 4]
    assert table["predicted"].tolist() == [1, 0, 1]
    np.testing.assert_allclose(table["confidence"], [0.85, 0.7, 0.5])
    errors = evaluation.likely_label_errors(y_true, probabilities, top=2)
    assert errors["index"].tolist() == [2, 1]
    np.testing.assert_allclose(errors["p_given"], [0.05, 0.2])
    assert errors["model_says"].tolist() == [1, 0]


def test_mcnemar_p_value_is_bowkers_test_as_r_computes_it():
    from scipy import stats

    matrix = np.array([[5, 1, 2], [2, 3, 1], [1, 3, 7]])
    # R: mcnemar.test(matrix): sum over pairs (n_ij - n_ji)^2 / (n_ij + n_ji), df = 3.
    statistic = (1 - 2) ** 2 / 3 + (2 - 1) ** 2 / 3 + (1 - 3) ** 2 / 4
    assert statistic == pytest.approx(5 / 3)
    assert evaluation.mcnemar_p_value(matrix) == pytest.approx(stats.chi2.sf(5 / 3, 3), rel=1e-12)
    # Two classes: with the continuity correction, as R's default. R:
    # mcnemar.test(matrix(c(10, 5, 1, 20), 2))$p.value -> 0.2206714
    assert evaluation.mcnemar_p_value(np.array([[10, 1], [5, 20]])) == pytest.approx(0.2206714, abs=1e-7)
    assert np.isnan(evaluation.mcnemar_p_value(np.array([[4]])))


def test_overall_table_reads_like_caret():
    y_true, y_pred = _labels_from_matrix(MATRIX)
    table = evaluation.overall_table(evaluation.classification_stats(y_true, y_pred))
    assert table["Value"].to_dict() == {
        "Accuracy": "0.7500",
        "95% CI": "(0.5090, 0.9134)",  # R: binom.test(15, 20)$conf.int 0.5089541 0.9134285
        "No Information Rate": "0.4000",
        "P-Value [Acc > NIR]": "0.001612",  # caret prints 0.001612
        "Kappa": "0.6212",
        "Mcnemar's Test P-Value": "NA",
        "Test images": "20",
        "Mismatches": "5",
    }


def test_large_counts_have_separators_and_tiny_p_values_a_bound():
    y_true = np.repeat(np.arange(10), 1000)
    y_pred = y_true.copy()
    y_pred[::97] = (y_pred[::97] + 1) % 10
    stats = evaluation.classification_stats(y_true, y_pred)
    assert stats.overall["p_value_acc_gt_nir"] < 1e-16
    table = evaluation.overall_table(stats)["Value"]
    assert table["Test images"] == "10,000" and table["Mismatches"] == f"{len(y_true[::97]):,}"
    assert table["P-Value [Acc > NIR]"] == "< 1e-16"
    assert not any(text in value for value in table for text in ("None", "nan", "e+"))


@pytest.mark.parametrize(
    "value, text",
    [(None, "NA"), (float("nan"), "NA"), (0.0, "< 1e-16"), (9.9e-17, "< 1e-16"),
     (1e-16, "1e-16"), (3.2e-05, "3.2e-05"), (0.0016121, "0.001612"), (1.0, "1")],
)  # fmt: skip
def test_format_p_value(value, text):
    assert evaluation.tables.format_p_value(value) == text


def test_per_class_table_has_caret_names_by_class_and_na_for_0_over_0():
    stats = evaluation.classification_stats(np.array([0, 1, 1]), np.array([0, 0, 0]),
                                            class_names=("zero", "one"))  # fmt: skip
    table = evaluation.per_class_table(stats)
    assert list(table.index) == [
        "Sensitivity", "Specificity", "Pos Pred Value", "Neg Pred Value", "Precision",
        "Recall", "F1", "Prevalence", "Detection Rate", "Detection Prevalence",
        "Balanced Accuracy",
    ]  # fmt: skip
    assert list(table.columns) == ["zero", "one"]
    assert table.loc["Pos Pred Value", "one"] == "NA" and table.loc["F1", "one"] == "NA"
    assert table.loc["Pos Pred Value", "zero"] == "0.3333"
    assert table.loc["Sensitivity", "one"] == "0.0000"
