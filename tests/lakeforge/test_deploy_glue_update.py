"""Re-deploying a Glue job updates it in place, tags included: UpdateJob's JobUpdate has no
Tags, so a job moved from Glue 5.0 to 6.0 kept ``lakeforge:spark 3.5.4`` and
``lakeforge:python 3.11``.

AWS is the suite's moto server. moto 5.2.6 has no Glue UpdateJob: that one call is answered by
a botocore ``before-call`` hook on the client (recording the request; the job in moto keeps its
old definition), while GetJob, CreateJob, TagResource and GetTags go to moto.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from lakeforge.aws import client
from lakeforge.deploy import DeployError, glue
from lakeforge.deploy.artifacts import S3Layout, UploadedArtifacts
from tests.lakeforge.conftest import DEPLOY_REGION

pytestmark = pytest.mark.aws

REGION = DEPLOY_REGION
ACCOUNT = "123456789012"  # moto's account
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/lakeforge-glue-job"
JOB_ARN = f"arn:aws:glue:{REGION}:{ACCOUNT}:job/lakeforge-csv-to-parquet"


@pytest.fixture
def aws(moto_deploy: str) -> str:
    """The session's moto server, reset."""
    return moto_deploy


def _definition(version: str, jar: str, **tags: str) -> dict[str, Any]:
    layout = S3Layout.from_uri("s3://bucket/lakeforge-deploy", "0.1.0")
    uploaded = UploadedArtifacts.at(layout, version="0.1.0", jar_names=[jar],
                                    conf_files=["envs/glue.yaml"])
    return glue.job_definition(uploaded, glue.GlueJobSettings(
        job="csv_to_parquet", role_arn=ROLE_ARN, glue_version=version, tags=tags))


def _answer_update_job(c: Any) -> list[dict[str, Any]]:
    """Answer UpdateJob on ``c`` without sending it (moto has none); return the requests."""
    from botocore.awsrequest import AWSResponse

    seen: list[dict[str, Any]] = []

    def answer(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        request = json.loads(params["body"])  # the JSON body Glue would have received
        seen.append(request)
        return AWSResponse("https://glue", 200, {}, None), {"JobName": request["JobName"]}

    c.meta.events.register("before-call.glue.UpdateJob", answer)
    return seen


def test_redeploying_a_glue_5_job_as_glue_6_updates_its_spark_and_python_tags(aws):
    c = client("glue", region=REGION, endpoint_url=aws)
    first = _definition("5.0", "scala-udf-similarity-0.1.2_spark3.x.jar", team="data")
    assert glue.deploy_job(c, first) == "created"
    assert c.get_tags(ResourceArn=JOB_ARN)["Tags"]["lakeforge:spark"] == "3.5.4"

    updates = _answer_update_job(c)
    second = _definition("6.0", "scala-udf-similarity-0.2.1_spark4.x.jar", team="ml")
    assert glue.deploy_job(c, second) == "updated"
    assert [u["JobUpdate"]["GlueVersion"] for u in updates] == ["6.0"]
    assert c.get_tags(ResourceArn=JOB_ARN)["Tags"] == {
        "lakeforge:job": "csv_to_parquet", "lakeforge:python": "3.13",
        "lakeforge:spark": "4.1.1", "team": "ml"}


def test_job_arn_takes_partition_and_account_from_the_role():
    c = client("glue", region="cn-north-1", endpoint_url="http://127.0.0.1:9")
    assert glue.job_arn(c, "j", "arn:aws-cn:iam::210987654321:role/r") == (
        "arn:aws-cn:glue:cn-north-1:210987654321:job/j")
    with pytest.raises(DeployError, match="role 'lakeforge' is not an IAM role ARN"):
        glue.job_arn(c, "j", "lakeforge")
