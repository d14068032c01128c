"""transforms.dedup.profile: the column profiles behind the auto-configuration (tiny inline
data on the suite's session)."""

from __future__ import annotations

from typing import Any

import pytest

from transforms.dedup.profile import profile_columns

ROWS = [
    ("Ada Lovelace", "ada@example.com", "AB1 2CD", "07123456789"),
    ("Grace Hopper", "grace@example.com", "ab1 2cd", None),
    ("  ", None, "ZZ9 9ZZ", "07000000001"),
    (None, "alan@example.org", None, "07000000002"),
    ("Ada Lovelace", "ada@example.com", "AB1 2CD", "07123456789"),
]
SCHEMA = "name string, email string, postcode string, phone string"


@pytest.fixture(scope="module")
def frame(spark: Any) -> Any:
    return spark.createDataFrame(ROWS, SCHEMA)


def test_profiles_count_clean_values_and_shares_per_column(frame: Any) -> None:
    prof = profile_columns(frame, ["name", "email", "postcode", "phone"], rows=len(ROWS))
    name, email, postcode, phone = (prof[c] for c in ("name", "email", "postcode", "phone"))
    assert {p.rows for p in prof.values()} == {5}
    # a blank string is a null: 3 non-null names, 2 of them distinct
    assert (name.non_null, name.distinct) == (3, 2)
    assert name.avg_length == pytest.approx((12 + 12 + 12) / 3)
    assert email.share_email == 1.0 and name.share_email == 0.0
    # lower-cased: "AB1 2CD" and "ab1 2cd" are one value
    assert (postcode.non_null, postcode.distinct) == (4, 2)
    assert postcode.share_uk_postcode == 1.0
    assert phone.share_phone == 1.0 and phone.null_fraction == pytest.approx(0.2)


def test_average_tokens_count_only_non_null_values(frame: Any) -> None:
    """size(split(null)) is -1 on Spark 3.5 (null on 4): nulls must not pull the average down,
    or a two-word column with nulls would look like a one-word name column."""
    prof = profile_columns(frame, ["name", "postcode", "phone"], rows=len(ROWS))
    assert prof["name"].avg_tokens == 2.0
    assert prof["postcode"].avg_tokens == 2.0
    assert prof["phone"].avg_tokens == 1.0


def test_profile_of_an_empty_frame_is_all_zero(frame: Any) -> None:
    prof = profile_columns(frame.limit(0), ["name", "email"], rows=0)
    for p in prof.values():
        assert (p.rows, p.non_null, p.distinct, p.avg_tokens, p.share_email) == (0, 0, 0, 0.0, 0.0)
        assert p.null_fraction == 1.0


def test_no_columns_gives_no_profiles(frame: Any) -> None:
    assert profile_columns(frame, [], rows=len(ROWS)) == {}
