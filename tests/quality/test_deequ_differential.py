"""The native quality engine against real Deequ 2.0.7 (jar set ``deequ``) on a fixed sample of
the differential corpus (tests/quality/deequ_corpus.py; the full corpus is
scripts/deequ_differential.py), plus the comparison logic on its own (no jar)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.quality import deequ_corpus as dc

SEED = 20261205
SAMPLE_EVERY = 12  # of 2,064 corpus cases (12 shapes x 43 methods x 4 variants): 171 (every method)


def _case(method: str = "hasMean") -> dc.Case:
    return dc.Case("shape:hasMean:0", method, {"column": "x"}, None, "Error")


def _outcome(**changes: Any) -> dc.Outcome:
    base = dict(check_status="Error", constraint="MeanConstraint(Mean(x,None))",
                status="Failure", message="Value: 2.5 does not meet the constraint requirement!",
                metric=("value", 2.5), metric_key=("Column", "x", "Mean"))
    base.update(changes)
    return dc.Outcome(**base)  # type: ignore[arg-type]


def test_compare_case_agrees_only_on_identical_outcomes() -> None:
    assert dc.compare_case(_case(), _outcome(), _outcome()) == []
    nan = _outcome(metric=("value", float("nan")))
    assert dc.compare_case(_case(), nan, nan) == []
    diffs = dc.compare_case(_case(), _outcome(), _outcome(metric=("value", 2.5000001),
                                                          message="other"))
    assert {d.field for d in diffs} == {"metric", "message"}
    assert all(dc.tabled_reason(d) is None for d in diffs)


def test_failures_from_empty_state_compare_by_message() -> None:
    empty = "Empty state for analyzer Mean(x,None), all input values were NULL."
    a = _outcome(message=empty, metric=("failure", empty))
    b = _outcome(message=empty + "!", metric=("failure", empty + "!"))
    assert {d.field for d in dc.compare_case(_case(), a, b)} == {"message", "metric"}


def test_spark_error_text_is_tabled_when_the_error_class_matches() -> None:
    native = "Invalid SQL expression 'ts <= d': [DATATYPE_MISMATCH.BINARY_OP_DIFF_TYPES] ..."
    deequ = "org.apache.spark.sql.AnalysisException: [DATATYPE_MISMATCH.BINARY_OP_DIFF_TYPES] .."
    diff = dc.Difference(_case(), "message", native, deequ)
    assert dc.tabled_reason(diff) == "spark-error-text"
    other = dc.Difference(_case(), "message", native, "[PARSE_SYNTAX_ERROR] ...")
    assert dc.tabled_reason(other) is None


def test_row_level_comparison_reports_rows_and_missing_columns() -> None:
    same = _outcome(rows={1: True, 2: None})
    assert dc.compare_rows(_case(), same, _outcome(rows={1: True, 2: None})) == []
    (diff,) = dc.compare_rows(_case(), same, _outcome(rows={1: True, 2: False}))
    assert diff.field == "row_level" and diff.native == {2: None} and diff.deequ == {2: False}
    (missing,) = dc.compare_rows(_case(), same, _outcome(rows=None))
    assert missing.field == "row_level_column"


def test_corpus_is_seeded_and_covers_every_shape_and_method() -> None:
    shapes = dc.build_shapes(SEED)
    cases = dc.generate_cases(SEED, shapes, 4)
    again = dc.generate_cases(SEED, dc.build_shapes(SEED), 4)
    assert [c.cid for v in cases.values() for c in v] == [c.cid for v in again.values() for c in v]
    assert sum(len(v) for v in cases.values()) >= 2000
    names = {s.name for s in shapes}
    assert {"all_null", "empty", "one_row", "nan_inf", "decimals", "unicode", "long_strings",
            "wide"} <= names
    assert {c.method for v in cases.values() for c in v} == set(dc.GENERATORS)
    assert any(c.where == "id > 100000" for v in cases.values() for c in v)
    sampled = dc.sample(cases, SAMPLE_EVERY)
    assert {c.method for v in sampled.values() for c in v} == set(dc.GENERATORS)


@pytest.fixture(scope="module")
def deequ(spark: Any) -> Any:
    from quality.deequ_engine import deequ_unavailable_reason

    reason = deequ_unavailable_reason(spark)
    if reason is not None:
        pytest.skip(f"run `make jars` (make test does): {reason}")
    yield spark
    dc.shutdown_callback_server(spark)


@pytest.mark.jars
@pytest.mark.slow
def test_sample_of_the_corpus_agrees_with_deequ(deequ: Any) -> None:
    """Slow (a few minutes on 2 cores): every shape runs once through each engine, with
    row-level results. Every difference must be one docs/quality.md tables."""
    shapes = dc.build_shapes(SEED)
    cases = dc.sample(dc.generate_cases(SEED, shapes, 4), SAMPLE_EVERY)
    reports = [dc.run_shape(deequ, shape, cases[shape.name]) for shape in shapes]
    tally = dc.Tally.of(reports)
    untabled = [str(d) for r in reports
                for diffs in list(r.differing_cases.values()) + list(r.row_differences.values())
                for d in diffs if dc.tabled_reason(d) is None]
    untabled += [m for r in reports for m in r.metric_differences if not m.startswith("TABLED")]
    assert tally.cases >= 170
    assert untabled == [], f"{tally.text()}\n" + "\n".join(untabled[:40])
