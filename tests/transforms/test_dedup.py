"""transforms.dedup: FindMatches-like matching on Splink's Spark backend (tiny inline data)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pyspark
import pytest
from pyspark.sql import DataFrame
from pyspark.sql import functions as F  # noqa: N812

from lakeforge.errors import MissingColumnsError
from lakeforge.model_store import load_match_model, save_match_model
from transforms.dedup import (
    MATCH_CONFIDENCE_SCORE,
    MATCH_ID,
    DedupInputError,
    DuplicatePrimaryKeyError,
    LabelsFormatError,
    MatchModel,
    MatchModelError,
    MatchRun,
    MatchSettings,
    MatchSettingsError,
    NullPrimaryKeyError,
    ensure_similarity_functions,
    evaluate_matches,
    find_incremental_matches,
    find_matches,
    find_matches_detailed,
    labels_to_pairs,
    splink_jar_path,
    tradeoff_to_threshold,
    train_match_model,
)
from transforms.dedup.model import resolve_model

SCHEMA = (
    "person_id string, first_name string, last_name string, date_of_birth string, "
    "postcode string, email string, entity string"
)

# Entities a-h each appear 2-3 times with a typo, swapped names or missing fields; the
# fillers (f01..) are distinct people that let u be estimated from random pairs.
PEOPLE = [
    ("a1", "john", "smith", "1980-01-02", "sw1a 1aa", "john.smith@mail.com", "a"),
    ("a2", "jonh", "smith", "1980-01-02", "sw1a 1aa", "john.smith@mail.com", "a"),
    ("a3", "john", "smyth", "1980-01-02", None, "john.smith@mail.com", "a"),
    ("b1", "mary", "jones", "1975-06-30", "ec1v 9hx", "mary.j@post.org", "b"),
    ("b2", "jones", "mary", "1975-06-30", "ec1v 9hx", "mary.j@post.org", "b"),
    ("c1", "ahmed", "khan", "1991-11-12", "m1 4bt", "akhan@web.net", "c"),
    ("c2", "ahmed", "khan", None, "m1 4bt", None, "c"),
    ("c3", "ahmad", "khan", "1991-11-21", "m1 4bt", "akhan@web.net", "c"),
    ("d1", "sofia", "garcia", "2001-03-04", "b1 1bb", "sofia.g@mail.com", "d"),
    ("d2", "sophia", "garcia", "2001-03-04", "b1 1bb", "sofia.g@mail.com", "d"),
    ("e1", "li", "wei", "1969-09-09", "ls1 4ap", "li.wei@corp.cn", "e"),
    ("e2", "li", "wei", "1969-09-09", "ls1 4ap", None, "e"),
    ("g1", "peter", "brown", "1988-12-01", "g2 3ab", "pbrown@mail.com", "g"),
    ("g2", "peter", "browne", "1988-12-01", "g2 3ab", "pbrown@mail.com", "g"),
    ("h1", "anna", "novak", "1999-07-15", "cf10 1aa", "anna.novak@mail.com", "h"),
    ("h2", "anna", "novak", "1999-07-15", "cf10 1aa", "anna.novak@mail.com", "h"),
    ("f01", "oliver", "taylor", "1983-04-05", "l1 8jq", "otaylor@mail.com", "f01"),
    ("f02", "emma", "wilson", "1990-02-14", "ne1 7ru", "emma.w@mail.com", "f02"),
    ("f03", "noah", "davies", "1972-08-21", "s1 2hh", "ndavies@post.org", "f03"),
    ("f04", "ava", "evans", "1965-10-10", "bs1 5tr", "ava.evans@web.net", "f04"),
    ("f05", "liam", "thomas", "1995-05-05", "nr1 3jq", "liam.t@mail.com", "f05"),
    ("f06", "isla", "roberts", "1987-01-30", "ox1 2jd", "isla.r@corp.cn", "f06"),
    ("f07", "jack", "walker", "1979-03-17", "cb2 1tn", "jwalker@mail.com", "f07"),
    ("f08", "mia", "wright", "2003-12-24", "ex4 4qj", "mia.wright@post.org", "f08"),
    ("f09", "harry", "green", "1958-06-06", "pl1 1ef", "hgreen@web.net", "f09"),
    ("f10", "grace", "hall", "1993-09-19", "yo1 7hh", "grace.hall@mail.com", "f10"),
    ("f11", "george", "wood", "1970-11-11", "hu1 1aa", "gwood@mail.com", "f11"),
    ("f12", "lily", "clarke", "1984-02-28", "le1 6zg", "lily.c@post.org", "f12"),
    ("f13", "jacob", "lewis", "1977-07-07", "ct1 2ee", "jlewis@web.net", "f13"),
    ("f14", "ella", "scott", "1998-08-08", "ip1 1dj", "ella.s@mail.com", "f14"),
    ("f15", "ethan", "morris", "1962-04-22", "dh1 3le", "emorris@corp.cn", "f15"),
    ("f16", "amelia", "cook", "1989-10-31", "ba1 1lz", "amelia.cook@mail.com", "f16"),
]
COMPARED = ["first_name", "last_name", "date_of_birth", "postcode", "email"]


@pytest.fixture(scope="module")
def people(spark) -> DataFrame:
    return spark.createDataFrame(PEOPLE, SCHEMA)


@pytest.fixture(scope="module")
def model(people: DataFrame) -> MatchModel:
    """One small trained model shared by the Splink tests (3 EM iterations)."""
    return train_match_model(people, primary_key="person_id",
                             settings=MatchSettings(columns=tuple(COMPARED), max_em_iterations=3))


@pytest.fixture(scope="module")
def matched_run(people: DataFrame, model: MatchModel) -> MatchRun:
    """The shared model's matches over PEOPLE at the default tradeoff (0.5): one Splink
    prediction, its rows cached, for the tests that only read it."""
    run = find_matches_detailed(people, primary_key="person_id", model=model)
    run.result.cache().count()
    return run


@pytest.fixture(scope="module")
def matched(matched_run: MatchRun) -> DataFrame:
    """``find_matches(people, primary_key="person_id", model=model)``, computed once."""
    return matched_run.result


def _groups(df: DataFrame, key: str = "person_id") -> dict[str, object]:
    return {r[key]: r[MATCH_ID] for r in df.select(key, MATCH_ID).collect()}


# -- no Splink run needed ---------------------------------------------------------------------


def test_splink_jar_is_a_local_file_and_functions_register(spark) -> None:
    path = Path(splink_jar_path())
    assert path.is_file() and path.suffix == ".jar"
    assert f"spark{pyspark.__version__.split('.')[0]}" in path.name  # the jar of this Spark line
    ensure_similarity_functions(spark)
    row = spark.sql("select jaro_winkler('martha', 'marhta') as jw, "
                    "damerau_levenshtein('abc', 'acb') as dl").first()
    assert row["jw"] == pytest.approx(0.9611, abs=1e-4)
    assert row["dl"] == 1.0


def test_tradeoff_maps_to_a_monotonic_threshold() -> None:
    assert tradeoff_to_threshold(0.5) == pytest.approx(0.5)
    assert tradeoff_to_threshold(1.0) > 0.99 > tradeoff_to_threshold(0.7) > 0.5
    assert tradeoff_to_threshold(0.0) < 0.01
    for bad in (-0.1, 1.5, "high", None, True):
        with pytest.raises(DedupInputError, match="precision_recall_tradeoff"):
            tradeoff_to_threshold(bad)  # type: ignore[arg-type]


def test_match_settings_have_one_default_each_and_round_trip_through_json() -> None:
    default = MatchSettings()
    assert (default.columns, default.precision_recall_tradeoff, default.max_em_iterations,
            default.seed) == (None, 0.5, 25, 42)
    settings = MatchSettings(columns=["name", "dob"],  # type: ignore[arg-type]  # list -> tuple
                             precision_recall_tradeoff=1,
                             max_em_iterations=3, seed=7, enforce_provided_labels=True)
    assert settings.columns == ("name", "dob") and settings.precision_recall_tradeoff == 1.0
    data = json.loads(json.dumps(settings.to_dict()))
    assert MatchSettings.from_dict(data) == settings
    assert MatchSettings.from_dict({}) == default
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.seed = 1  # type: ignore[misc]


@pytest.mark.parametrize(("values", "message"), [
    ({"precision_recall_tradeoff": 1.5}, "MatchSettings.precision_recall_tradeoff .* 1.5"),
    ({"precision_recall_tradeoff": None}, "MatchSettings.precision_recall_tradeoff"),
    ({"precision_recall_tradeoff": True}, "MatchSettings.precision_recall_tradeoff"),
    ({"max_em_iterations": 0}, "MatchSettings.max_em_iterations must be >= 1, got 0"),
    ({"max_em_iterations": 2.5}, "MatchSettings.max_em_iterations must be an integer"),
    ({"seed": "x"}, "MatchSettings.seed must be an integer"),
    ({"columns": []}, "MatchSettings.columns is empty"),
    ({"columns": "name"}, "MatchSettings.columns must be a list"),
    ({"columns": ["name", None]}, "MatchSettings.columns must be a list"),
    ({"enforce_provided_labels": "yes"}, "MatchSettings.enforce_provided_labels"),
])
def test_bad_match_settings_fail_on_construction_naming_the_field(values: dict[str, Any],
                                                                   message: str) -> None:
    with pytest.raises(MatchSettingsError, match=message) as raised:
        MatchSettings(**values)
    assert raised.value.field == next(iter(values))


def test_match_settings_from_a_mapping_name_the_source_and_unknown_keys() -> None:
    with pytest.raises(MatchSettingsError,
                       match=r"^jobs\.yaml dedup: MatchSettings\.precision_recall_tradeoff"):
        MatchSettings.from_dict({"precision_recall_tradeoff": 1.5}, "jobs.yaml dedup")
    with pytest.raises(MatchSettingsError, match=r"jobs\.yaml dedup: unknown key\(s\) \['iters'\]"):
        MatchSettings.from_dict({"iters": 3}, "jobs.yaml dedup")
    with pytest.raises(MatchSettingsError, match="must be a mapping"):
        MatchSettings.from_dict(["columns"], "jobs.yaml dedup")  # type: ignore[arg-type]


def test_null_primary_key_is_refused(spark) -> None:
    df = spark.createDataFrame([("a", "x"), (None, "y"), (None, "z")], "id string, name string")
    with pytest.raises(NullPrimaryKeyError, match=r"'id' is null in 2 row"):
        find_matches(df, primary_key="id")


def test_duplicate_primary_key_is_refused_with_examples(spark) -> None:
    df = spark.createDataFrame([(1, "x"), (1, "y"), (2, "z")], "id long, name string")
    with pytest.raises(DuplicatePrimaryKeyError, match=r"not unique: 1 x2"):
        find_matches(df, primary_key="id")


def test_missing_key_and_columns_are_named(spark) -> None:
    df = spark.createDataFrame([("a", "x")], "id string, name string")
    with pytest.raises(MissingColumnsError, match=r"\['pk'\]"):
        find_matches(df, primary_key="pk")
    with pytest.raises(MissingColumnsError, match=r"\['dob', 'zip'\]"):
        find_matches(df, primary_key="id", settings=MatchSettings(columns=("name", "zip", "dob")))
    with pytest.raises(DedupInputError, match="primary key 'id' cannot be compared"):
        find_matches(df, primary_key="id", settings=MatchSettings(columns=("id", "name")))


def test_existing_output_columns_are_refused(spark) -> None:
    df = spark.createDataFrame([("a", "x", "a")], "id string, name string, match_id string")
    with pytest.raises(DedupInputError, match=r"already has column\(s\) \['match_id'\]"):
        find_matches(df, primary_key="id")


def test_empty_frame_gives_empty_result_with_output_columns(spark) -> None:
    df = spark.createDataFrame([], "id string, name string")
    out = find_matches(df, primary_key="id")
    assert out.columns == ["id", "name", MATCH_ID, MATCH_CONFIDENCE_SCORE]
    assert dict(out.dtypes)[MATCH_ID] == "string"
    assert out.count() == 0
    no_scores = find_matches(df, primary_key="id",
                             settings=MatchSettings(compute_match_confidence_scores=False))
    assert no_scores.columns == ["id", "name", MATCH_ID]


def test_single_row_is_its_own_entity(spark) -> None:
    df = spark.createDataFrame([(7, "x")], "id long, name string")
    row = find_matches(df, primary_key="id").first()
    assert row is not None
    assert (row["id"], row[MATCH_ID], row[MATCH_CONFIDENCE_SCORE]) == (7, 7, 1.0)


def test_number_column_given_as_text_compares_as_double_and_non_numbers_as_null(spark) -> None:
    """A model's ``number`` column arriving as text (e.g. new rows read from CSV): what is not a
    number is null on both Spark lines (4.x's ANSI cast would raise on ``n/a``)."""
    from pyspark.sql import types as T  # noqa: N812

    from transforms.dedup.profile import prepare_column

    df = spark.createDataFrame([(" 1.5 ",), ("n/a",), ("",), (None,), ("-2",)], "v string")
    got = df.select(prepare_column(F.col("v"), "number", T.StringType()).alias("v"))
    assert dict(got.dtypes)["v"] == "double"
    assert [r.v for r in got.collect()] == [1.5, None, None, None, -2.0]


def test_labels_become_pairs_within_labeling_sets(spark) -> None:
    labels = spark.createDataFrame(
        [("s1", "A", "a1"), ("s1", "A", "a2"), ("s1", "B", "b1"), ("s2", "X", "c1"),
         ("s2", "X", "c2")],
        "labeling_set_id string, label string, person_id string",
    )
    pairs = {(r[0], r[1]): r[2] for r in labels_to_pairs(labels, "person_id").collect()}
    assert pairs == {("a1", "a2"): True, ("a1", "b1"): False, ("a2", "b1"): False,
                     ("c1", "c2"): True}


def test_bad_labels_are_refused(spark, people: DataFrame) -> None:
    no_label = spark.createDataFrame([("s1", "a1")], "labeling_set_id string, person_id string")
    with pytest.raises(MissingColumnsError, match=r"\['label'\]"):
        labels_to_pairs(no_label, "person_id")
    null_label = spark.createDataFrame([("s1", None, "a1")],
                                       "labeling_set_id string, label string, person_id string")
    with pytest.raises(LabelsFormatError, match="null"):
        labels_to_pairs(null_label, "person_id")
    conflict = spark.createDataFrame(
        [("s1", "A", "a1"), ("s1", "A", "a2"), ("s2", "A", "a1"), ("s2", "B", "a2")],
        "labeling_set_id string, label string, person_id string",
    )
    with pytest.raises(LabelsFormatError, match=r"both match and non-match.*\('a1', 'a2'\)"):
        labels_to_pairs(conflict, "person_id")
    unknown = spark.createDataFrame([("s1", "A", "zz9")],
                                    "labeling_set_id string, label string, person_id string")
    with pytest.raises(LabelsFormatError, match=r"\['zz9'\] are not in the input"):
        find_matches(people, primary_key="person_id", labels=unknown)


def test_string_label_keys_are_cast_to_an_integer_input_key_and_pair_in_its_order(
        spark) -> None:
    """Labels read from CSV have string keys: ('10', '9') must become the input's (9, 10)."""
    from pyspark.sql import types as T  # noqa: N812

    from transforms.dedup.inputs import check_label_keys

    df = spark.createDataFrame([(9, "x"), (10, "y"), (11, "z")], "id long, name string")
    labels = spark.createDataFrame([("s1", "A", "9"), ("s1", "B", "10")],
                                   "labeling_set_id string, label string, id string")
    typed = check_label_keys(labels, df, "id")
    assert dict(typed.dtypes)["id"] == "bigint"
    assert [tuple(r) for r in labels_to_pairs(typed, "id").collect()] == [(9, 10, False)]
    assert [tuple(r) for r in labels_to_pairs(labels, "id", T.LongType()).collect()] == [
        (9, 10, False)]
    bad = spark.createDataFrame([("s1", "A", "9"), ("s1", "B", "x9")],
                                "labeling_set_id string, label string, id string")
    with pytest.raises(LabelsFormatError, match=r"id value\(s\) \['x9'\] are not bigint"):
        check_label_keys(bad, df, "id")
    with pytest.raises(LabelsFormatError, match=r"\['x9'\] are not bigint"):
        find_matches(df, primary_key="id", labels=bad)


def test_comparisons_without_blocking_rules_are_refused_before_spark_work(spark) -> None:
    """The key has nulls: had any Spark check run first, NullPrimaryKeyError would win."""
    from splink import comparison_library as cl

    df = spark.createDataFrame([(None, "x"), (None, "y")], "id string, name string")
    comps = [cl.ExactMatch("name")]
    for call in (
        lambda: find_matches(df, primary_key="id", comparisons=comps),
        lambda: train_match_model(df, primary_key="id", comparisons=comps),
        lambda: find_incremental_matches(df.withColumn(MATCH_ID, F.col("id")), df,
                                         primary_key="id", comparisons=comps),
    ):
        with pytest.raises(DedupInputError, match=r"comparisons=\[\.\.\.\] needs "
                           r"blocking_rules=\[\.\.\.\] too") as info:
            call()
        assert not isinstance(info.value, NullPrimaryKeyError)


def test_untrained_m_levels_become_model_notes(caplog: pytest.LogCaptureFixture) -> None:
    """Both become notes; only an untrained comparison (the user should add a blocking rule or
    labels) is a warning: rare levels unseen among EM's pairs are usual (info), and the demo's
    console shows warnings only for what a user must act on."""
    import logging

    from transforms.dedup.training import _untrained_m_notes

    caplog.set_level(logging.INFO, logger="transforms.dedup.training")

    trained = {"comparisons": [
        {"output_column_name": "first", "comparison_levels": [
            {"is_null_level": True},
            {"label_for_charts": "exact", "u_probability": 0.1},
            {"label_for_charts": "else", "u_probability": 0.9}]},
        {"output_column_name": "city", "comparison_levels": [
            {"label_for_charts": "exact", "m_probability": 0.9, "u_probability": 0.1},
            {"label_for_charts": "fuzzy", "u_probability": 0.2},
            {"label_for_charts": "else", "m_probability": 0.1, "u_probability": 0.7}]},
        {"output_column_name": "dob", "comparison_levels": [
            {"label_for_charts": "exact", "m_probability": 0.9, "u_probability": 0.1},
            {"label_for_charts": "else", "m_probability": 0.1, "u_probability": 0.9}]},
    ]}
    first, city = _untrained_m_notes(trained, "t")
    assert first.startswith("m not estimated for comparison 'first': no EM session left it free")
    assert city.startswith("m not estimated for level(s) ['fuzzy'] of comparison 'city'")
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", f"t: {first}"), ("INFO", f"t: {city}")]
    assert _untrained_m_notes({"comparisons": []}, "t") == []


def test_incremental_with_a_model_refuses_comparisons_and_other_columns(
        spark, people: DataFrame) -> None:
    """Before Spark work: the model decides what is compared, so anything else is refused."""
    from splink import comparison_library as cl

    from transforms.dedup.model import MatchColumn

    model = MatchModel({}, (MatchColumn("first_name", "first_name", "forename"),
                            MatchColumn("dob", "dob", "date_string")), ("l.dob = r.dob",))
    existing = people.withColumn(MATCH_ID, F.col("person_id"))
    with pytest.raises(DedupInputError, match="pass either model= or columns/comparisons"):
        find_incremental_matches(existing, people, primary_key="person_id", model=model,
                                 comparisons=[cl.ExactMatch("first_name")])
    with pytest.raises(DedupInputError, match=r"settings.columns \['first_name'\] differ from "
                       r"the columns the model compares \['dob', 'first_name'\]"):
        find_incremental_matches(existing, people, primary_key="person_id", model=model,
                                 settings=MatchSettings(columns=("first_name",)))


def test_model_files_are_validated(tmp_path: Path) -> None:
    with pytest.raises(MatchModelError, match="nope.json does not exist"):
        load_match_model(str(tmp_path / "nope.json"))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(MatchModelError, match="bad.json: not a Lakeforge match model"):
        load_match_model(str(bad))
    bad.write_text("{not json")
    with pytest.raises(MatchModelError, match="bad.json is not valid JSON"):
        load_match_model(str(bad))
    bad.write_text("[]")
    with pytest.raises(MatchModelError, match="a match model is a JSON object, got list"):
        load_match_model(str(bad))
    with pytest.raises(MatchModelError, match="is a path: load it first"):
        resolve_model(str(bad))  # type: ignore[arg-type]


def test_evaluate_matches_counts_pairs_and_clusters(spark) -> None:
    # truth: {1,2,3} {4,5} {6} {7: null truth}; predicted: {1,2} {3} {4,5,6} {7}
    df = spark.createDataFrame(
        [(1, "A", "m1"), (2, "A", "m1"), (3, "A", "m3"), (4, "B", "m4"), (5, "B", "m4"),
         (6, "C", "m4"), (7, None, "m7")],
        "id int, truth string, match_id string",
    )
    ev = evaluate_matches(df, "truth")
    # predicted pairs: (1,2) + 3 in m4 = 4; true pairs: 3 + 1 = 4; correct: (1,2), (4,5) = 2
    assert (ev.predicted_pairs, ev.true_pairs, ev.correct_pairs) == (4, 4, 2)
    assert ev.pairwise_precision == pytest.approx(0.5)
    assert ev.pairwise_recall == pytest.approx(0.5)
    assert ev.pairwise_f1 == pytest.approx(0.5)
    # clusters: predicted 4, true 4 ({7} is its own); exactly right: {7} only
    assert (ev.predicted_clusters, ev.true_clusters, ev.correct_clusters) == (4, 4, 1)
    assert ev.cluster_f1 == pytest.approx(0.25)
    perfect = evaluate_matches(df.withColumn("match_id", F.col("truth")).fillna("n", ["match_id"]),
                               "truth")
    assert perfect.pairwise_f1 == 1.0 and perfect.cluster_f1 == 1.0
    with pytest.raises(MissingColumnsError, match="nope"):
        evaluate_matches(df, "nope")
    with pytest.raises(DedupInputError, match="1 row.s. have a null match_id"):
        evaluate_matches(df.withColumn("match_id", F.when(F.col("id") != 3, F.col("match_id"))),
                         "truth")
    empty = evaluate_matches(df.limit(0), "truth")
    assert (empty.predicted_pairs, empty.true_pairs, empty.predicted_clusters) == (0, 0, 0)
    assert empty.pairwise_precision == empty.cluster_recall == 1.0


# -- Splink runs ------------------------------------------------------------------------------


@pytest.mark.slow
def test_auto_config_finds_typos_swaps_and_missing_fields(people: DataFrame, model: MatchModel,
                                                          matched: DataFrame) -> None:
    """Slow: trains a Splink model (u sampling + EM) and predicts on 32 rows."""
    kinds = {c.source: c.kind for c in model.columns}
    assert kinds == {"first_name": "forename", "last_name": "surname",
                     "date_of_birth": "date_string", "postcode": "postcode", "email": "email"}
    out = matched
    assert out.count() == len(PEOPLE)
    assert out.columns == people.columns + [MATCH_ID, MATCH_CONFIDENCE_SCORE]
    ids = _groups(out)
    for entity in "abcdegh":
        members = [p[0] for p in PEOPLE if p[6] == entity]
        assert {ids[m] for m in members} == {min(members)}, f"entity {entity}: {ids}"
    fillers = [p[0] for p in PEOPLE if p[6].startswith("f")]
    assert all(ids[f] == f for f in fillers)
    scores = [r[MATCH_CONFIDENCE_SCORE] for r in out.collect()]
    assert all(0.0 <= s <= 1.0 for s in scores)
    ev = evaluate_matches(out, "entity")
    assert ev.pairwise_f1 == 1.0


@pytest.mark.slow
def test_model_round_trips_through_json(tmp_path: Path, people: DataFrame,
                                        model: MatchModel, matched: DataFrame) -> None:
    """Slow: a Splink prediction with the reloaded model, compared with the saved model's."""
    path = tmp_path / "models" / "model.json"
    assert save_match_model(model, str(path)) == str(path)
    with pytest.raises(FileExistsError, match="pass overwrite=True"):
        save_match_model(model, str(path))
    save_match_model(model, str(path), overwrite=True)
    loaded = load_match_model(str(path))
    assert loaded == model == MatchModel.from_dict(json.loads(path.read_text()))
    assert [c.source for c in loaded.columns] == COMPARED
    assert any(d["m_probability"] for d in loaded.describe())
    from_file = find_matches(people, primary_key="person_id", model=loaded,
                             settings=MatchSettings(compute_match_confidence_scores=False))
    assert MATCH_CONFIDENCE_SCORE not in from_file.columns
    assert _groups(from_file) == _groups(matched)  # matched: the saved model's prediction


@pytest.mark.slow
def test_tradeoff_towards_precision_splits_weak_links(people: DataFrame, model: MatchModel,
                                                      matched_run: MatchRun) -> None:
    """Slow: predicts with three thresholds (0.5 is the shared default-tradeoff run)."""
    def pairs(tradeoff: float) -> int:
        run = find_matches_detailed(people, primary_key="person_id", model=model,
                                    settings=MatchSettings(precision_recall_tradeoff=tradeoff))
        return run.edges_above_threshold

    recall, precision = pairs(0.0), pairs(1.0)
    assert matched_run.threshold_match_probability == pytest.approx(tradeoff_to_threshold(0.5))
    assert recall >= matched_run.edges_above_threshold >= precision
    assert recall > precision


@pytest.mark.slow
def test_enforced_labels_override_the_model(spark, people: DataFrame,
                                            model: MatchModel) -> None:
    """Slow: predicts twice with labels."""
    labels = spark.createDataFrame(
        # a1/a2 are one person by the data; the labeler says they are not. f01 and f02 are
        # different people by the data; the labeler says they are one.
        [("s1", "A", "a1"), ("s1", "B", "a2"), ("s1", "B", "a3"),
         ("s2", "X", "f01"), ("s2", "X", "f02")],
        "labeling_set_id string, label string, person_id string",
    )
    plain = _groups(find_matches(people, primary_key="person_id", model=model, labels=labels))
    assert plain["a1"] == plain["a2"] and plain["f01"] != plain["f02"]
    enforced = _groups(find_matches(people, primary_key="person_id", model=model,
                                    labels=labels,
                                    settings=MatchSettings(enforce_provided_labels=True)))
    assert enforced["a2"] == enforced["a3"] != enforced["a1"]
    assert enforced["f01"] == enforced["f02"] == "f01"


@pytest.mark.slow
def test_string_labels_enforce_a_non_match_on_integer_keys(spark, people: DataFrame,
                                                           model: MatchModel) -> None:
    """Slow: predicts once. Keys 9, 10, 11 (a1, a2, a3) as integers, labels as CSV strings:
    '10' < '9' as text, so before the cast the non-match never met its edge (9, 10)."""
    ints = people.withColumn(
        "pid", F.when(F.col("person_id") == "a1", 9).when(F.col("person_id") == "a2", 10)
        .when(F.col("person_id") == "a3", 11)
        .otherwise(F.monotonically_increasing_id() + 100).cast("long"),
    ).drop("person_id")
    labels = spark.createDataFrame([("s1", "A", "9"), ("s1", "B", "10"), ("s1", "B", "11")],
                                   "labeling_set_id string, label string, pid string")
    out = find_matches(ints, primary_key="pid", model=model, labels=labels,
                       settings=MatchSettings(enforce_provided_labels=True))
    enforced = {r["pid"]: r[MATCH_ID] for r in out.collect()}
    assert enforced[10] == enforced[11] == 10
    assert enforced[9] == 9


@pytest.mark.slow
def test_a_single_user_blocking_rule_leaves_its_comparison_untrained_and_says_so(
        people: DataFrame) -> None:
    """Slow: trains with user comparisons; EM blocked on last_name cannot estimate it (its
    7 pairs show both levels of the other two comparisons)."""
    from splink import comparison_library as cl

    trained = train_match_model(
        people, primary_key="person_id",
        settings=MatchSettings(columns=("first_name", "last_name", "date_of_birth"),
                               max_em_iterations=3),
        comparisons=[cl.ExactMatch("first_name"), cl.ExactMatch("last_name"),
                     cl.ExactMatch("date_of_birth")],
        blocking_rules=["l.last_name = r.last_name"],
    )
    m: dict[str, list[float | None]] = {}
    for d in trained.describe():
        m.setdefault(d["comparison"], []).append(d["m_probability"])
    assert m["last_name"] == [None, None]
    assert None not in m["first_name"] + m["date_of_birth"]
    untrained = [n for n in trained.notes if n.startswith("m not estimated")]
    assert len(untrained) == 1
    assert untrained[0].startswith("m not estimated for comparison 'last_name': no EM session")


@pytest.mark.slow
def test_labels_change_the_trained_m_probabilities(spark, people: DataFrame,
                                                   model: MatchModel) -> None:
    """Slow: trains a second model with labels."""
    labels = spark.createDataFrame(
        [("s1", "A", "b1"), ("s1", "A", "b2"), ("s2", "A", "c1"), ("s2", "A", "c3"),
         ("s3", "A", "a1"), ("s3", "A", "a3")],
        "labeling_set_id string, label string, person_id string",
    )
    labeled = train_match_model(people, primary_key="person_id", labels=labels,
                                settings=MatchSettings(columns=tuple(COMPARED),
                                                       max_em_iterations=3))
    assert any("labeled" in n for n in labeled.notes)
    before = {(d["comparison"], d["level"]): d["m_probability"] for d in model.describe()}
    after = {(d["comparison"], d["level"]): d["m_probability"] for d in labeled.describe()}
    assert before.keys() == after.keys()
    assert any(before[k] != pytest.approx(after[k]) for k in before)


@pytest.mark.slow
def test_incremental_matching_keeps_existing_ids_and_new_only_columns(
        spark, people: DataFrame, model: MatchModel, matched: DataFrame) -> None:
    """Slow: one full match (shared) and one incremental match."""
    existing = matched
    before = {r["person_id"]: (r[MATCH_ID], r[MATCH_CONFIDENCE_SCORE])
              for r in existing.collect()}
    new = spark.createDataFrame(
        [
            ("n1", "jon", "smith", "1980-01-02", "sw1a 1aa", "john.smith@mail.com", "a"),
            ("n2", "zoe", "turner", "1994-03-03", "w1a 0ax", "zoe.t@mail.com", "n"),
            ("n3", "zoe", "turnr", "1994-03-03", "w1a 0ax", None, "n"),
            ("n4", "omar", "farouk", "1960-02-02", None, "omar@web.net", "o"),
        ],
        SCHEMA,
    ).withColumn("batch", F.lit("b2"))  # a column only the new records have: kept
    # settings.columns equal to the model's compared columns are accepted next to model=
    out = find_incremental_matches(existing, new, primary_key="person_id", model=model,
                                   settings=MatchSettings(columns=tuple(COMPARED)))
    assert out.count() == len(PEOPLE) + 4
    assert out.columns == [*existing.columns, "batch"]
    batch = {r["person_id"]: r["batch"] for r in out.collect()}
    assert {batch[k] for k in before} == {None}
    assert {batch[k] for k in ("n1", "n2", "n3", "n4")} == {"b2"}
    after = {r["person_id"]: (r[MATCH_ID], r[MATCH_CONFIDENCE_SCORE]) for r in out.collect()}
    assert {k: after[k] for k in before} == before
    assert after["n1"][0] == "a1"
    assert after["n2"][0] == after["n3"][0] == "n2"
    assert after["n4"][0] == "n4"
    assert all(0.0 <= after[k][1] <= 1.0 for k in ("n1", "n2", "n3", "n4"))
    # New records must be unmatched and keys unique across both frames.
    with pytest.raises(DuplicatePrimaryKeyError, match="existing and new rows together"):
        find_incremental_matches(existing, people.filter("person_id = 'a1'"),
                                 primary_key="person_id", model=model)
    with pytest.raises(DedupInputError, match="must be unmatched"):
        find_incremental_matches(existing, existing, primary_key="person_id", model=model)
    assert find_incremental_matches(existing, new.limit(0), primary_key="person_id",
                                    model=model).count() == len(PEOPLE)
