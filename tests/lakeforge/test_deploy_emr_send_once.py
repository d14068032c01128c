"""RunJobFlow and AddJobFlowSteps have no idempotency token, so ``lakeforge.deploy.emr`` sends
them once: when EMR takes the call and the reply is lost (a read timeout, a 5xx), a retry by
botocore would start a second cluster or queue a second step running the same job.

AWS is the suite's moto server. moto answers every call it takes, so the lost reply is made in
moto's EMR backend (in this process): the call is done, then the backend fails with an error
moto has no AWS error for, which its server answers with HTTP 500 (what a client sees from a
gateway that lost EMR's reply; werkzeug logs the stand-in's traceback). botocore's standard
retry mode retries a 500 (and a read timeout) - which is what must not happen here.
"""

from __future__ import annotations

from typing import Any

import pytest

from lakeforge.aws import client
from lakeforge.deploy import DeployError, emr
from tests.lakeforge.conftest import DEPLOY_REGION

pytestmark = pytest.mark.aws

REGION = DEPLOY_REGION
INSTANCES = {"MasterInstanceType": "m5.xlarge", "SlaveInstanceType": "m5.xlarge",
             "InstanceCount": 3, "KeepJobFlowAliveWhenNoSteps": True}
STEP = {"Name": "lakeforge x", "ActionOnFailure": "CONTINUE",
        "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["spark-submit", "x.py"]}}


@pytest.fixture
def aws(moto_deploy: str) -> str:
    """The session's moto server, reset."""
    return moto_deploy


def _lose_first_reply(monkeypatch: pytest.MonkeyPatch, method: str) -> list[str]:
    """Make moto's EMR backend do ``method`` and then answer 500, the first time only."""
    from moto.emr import models

    original = getattr(models.ElasticMapReduceBackend, method)
    lost: list[str] = []

    def done_then_lost(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        if not lost:
            lost.append(method)
            raise RuntimeError("stand-in: the call was done but the reply was lost")
        return result

    monkeypatch.setattr(models.ElasticMapReduceBackend, method, done_then_lost)
    return lost


def test_add_step_whose_reply_is_lost_queues_one_step_and_says_how_to_check(aws, monkeypatch):
    c = client("emr", region=REGION, endpoint_url=aws)
    cluster_id = c.run_job_flow(Name="long-lived", ReleaseLabel="emr-7.5.0",
                                JobFlowRole="EMR_EC2_DefaultRole", ServiceRole="EMR_DefaultRole",
                                Instances=INSTANCES)["JobFlowId"]
    lost = _lose_first_reply(monkeypatch, "add_job_flow_steps")
    with pytest.raises(DeployError) as err:
        emr.add_step(c, cluster_id, STEP)
    assert lost == ["add_job_flow_steps"]
    message = str(err.value)
    assert message.startswith(f"EMR AddJobFlowSteps on cluster {cluster_id} failed ("
                              "An error occurred (500) when calling the AddJobFlowSteps "
                              "operation")
    assert (f"check `aws emr list-steps --cluster-id {cluster_id}` for a step named "
            "'lakeforge x' before deploying again") in message
    assert "\n" not in message
    assert [s["Name"] for s in c.list_steps(ClusterId=cluster_id)["Steps"]] == ["lakeforge x"]


def test_create_cluster_whose_reply_is_lost_starts_one_cluster_and_says_how_to_check(
        aws, monkeypatch):
    c = client("emr", region=REGION, endpoint_url=aws)
    lost = _lose_first_reply(monkeypatch, "run_job_flow")
    request = {"Name": "lakeforge", "ReleaseLabel": "emr-7.5.0", "Instances": INSTANCES,
               "Steps": [STEP], "JobFlowRole": "EMR_EC2_DefaultRole",
               "ServiceRole": "EMR_DefaultRole"}
    with pytest.raises(DeployError, match=r"^EMR RunJobFlow of cluster 'lakeforge' failed .*"
                                          r"check `aws emr list-clusters --active` for a cluster "
                                          r"named 'lakeforge' before deploying again$"):
        emr.create_cluster(c, request)
    assert lost == ["run_job_flow"]
    assert [cl["Name"] for cl in c.list_clusters()["Clusters"]] == ["lakeforge"]


def test_create_cluster_and_add_step_answered_at_once_keep_the_client_settings(aws):
    """The single-attempt client talks to the same region and endpoint as the given one."""
    c = client("emr", region=REGION, endpoint_url=aws)
    once = emr.single_attempt_client(c)
    assert (once.meta.region_name, once.meta.endpoint_url) == (REGION, aws)
    assert once.meta.config.retries["total_max_attempts"] == 1
    request = {"Name": "lakeforge", "ReleaseLabel": "emr-7.5.0", "Instances": INSTANCES,
               "Steps": [STEP], "JobFlowRole": "EMR_EC2_DefaultRole",
               "ServiceRole": "EMR_DefaultRole"}
    cluster_id, step_ids = emr.create_cluster(c, request)
    second = emr.add_step(c, cluster_id, {**STEP, "Name": "lakeforge y"})
    listed = c.list_steps(ClusterId=cluster_id)["Steps"]
    assert [s["Id"] for s in reversed(listed)] == [*step_ids, second]
