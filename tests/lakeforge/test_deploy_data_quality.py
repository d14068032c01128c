"""Glue Data Quality ruleset deployment, stubbed: moto 5 has no Glue Data Quality API, so the
calls are checked with botocore's Stubber against the real Glue request shapes."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from lakeforge.deploy import DeployError
from lakeforge.deploy.data_quality import deploy_ruleset, start_evaluation
from quality.dqdl import DQDLSyntaxError

RULESET = 'Rules = [ RowCount > 0, IsComplete "order_id" ]'


@pytest.fixture
def glue() -> object:
    return boto3.client("glue", region_name="eu-west-1", aws_access_key_id="x",
                        aws_secret_access_key="x")


def test_creates_a_missing_ruleset_stubbed(glue: object) -> None:
    with Stubber(glue) as stub:
        stub.add_client_error("get_data_quality_ruleset", "EntityNotFoundException",
                              expected_params={"Name": "orders-dq"})
        stub.add_response("create_data_quality_ruleset", {"Name": "orders-dq"}, expected_params={
            "Name": "orders-dq", "Ruleset": RULESET, "Description": "orders",
            "Tags": {"team": "data"},
            "TargetTable": {"TableName": "orders", "DatabaseName": "sales"}})
        assert deploy_ruleset(glue, "orders-dq", RULESET, database="sales", table="orders",
                              description="orders", tags={"team": "data"}) == "created"
        stub.assert_no_pending_responses()


def test_updates_an_existing_ruleset_stubbed(glue: object) -> None:
    with Stubber(glue) as stub:
        stub.add_response("get_data_quality_ruleset", {
            "Name": "orders-dq", "Ruleset": "Rules = [ RowCount > 1 ]",
            "TargetTable": {"TableName": "orders", "DatabaseName": "sales"}},
            expected_params={"Name": "orders-dq"})
        stub.add_response("update_data_quality_ruleset", {"Name": "orders-dq"},
                          expected_params={"Name": "orders-dq", "Ruleset": RULESET})
        assert deploy_ruleset(glue, "orders-dq", RULESET, database="sales",
                              table="orders") == "updated"
        stub.assert_no_pending_responses()


def test_existing_ruleset_on_another_table_is_refused_stubbed(glue: object) -> None:
    with Stubber(glue) as stub:
        stub.add_response("get_data_quality_ruleset", {
            "Name": "orders-dq", "TargetTable": {"TableName": "x", "DatabaseName": "y"}})
        with pytest.raises(DeployError, match="already exists on y.x"):
            deploy_ruleset(glue, "orders-dq", RULESET, database="sales", table="orders")


def test_bad_ruleset_fails_before_any_call_stubbed(glue: object) -> None:
    with Stubber(glue) as stub:  # no responses queued: any AWS call would fail the test
        with pytest.raises(DQDLSyntaxError, match="ruleset orders-dq line 1"):
            deploy_ruleset(glue, "orders-dq", "Rules = [ RowCount > ]", database="sales",
                           table="orders")
        with pytest.raises(DeployError, match="has no rules"):
            deploy_ruleset(glue, "orders-dq", "Rules = [ ]", database="sales", table="orders")
        stub.assert_no_pending_responses()


def test_start_evaluation_stubbed(glue: object) -> None:
    with Stubber(glue) as stub:
        stub.add_response("start_data_quality_ruleset_evaluation_run", {"RunId": "dqrun-1"},
                          expected_params={
                              "DataSource": {"GlueTable": {"DatabaseName": "sales",
                                                           "TableName": "orders"}},
                              "Role": "arn:aws:iam::123456789012:role/dq",
                              "RulesetNames": ["orders-dq"],
                              "AdditionalRunOptions": {"ResultsS3Prefix": "s3://b/dq/"}})
        assert start_evaluation(glue, ["orders-dq"], database="sales", table="orders",
                                role="arn:aws:iam::123456789012:role/dq",
                                results_s3_prefix="s3://b/dq/") == "dqrun-1"
