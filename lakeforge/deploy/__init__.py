"""Deployment to AWS: build artifacts, upload them, and run jobs on EMR, Glue and Step Functions.

* :mod:`lakeforge.deploy.artifacts` - the py-files zip, the wheel and the jars in dist/, and
  their S3 keys.
* :mod:`lakeforge.deploy.emr` - ``spark-submit`` steps through command-runner.jar, transient
  clusters, step polling.
* :mod:`lakeforge.deploy.glue` - Glue 5.0 / 5.1 / 6.0 job definitions, create-or-update,
  job runs.
* :mod:`lakeforge.deploy.stepfunctions` - the Glue -> quality -> publish state machine and its
  structural validation.
* :mod:`lakeforge.deploy.iam` - least-privilege policy documents for the Glue job role, the EMR
  instance profile and the state machine role.

Every AWS call takes a boto3 client built with :func:`lakeforge.aws.client`, so tests point the
same code at a moto server. Nothing here imports boto3 at import time: the Airflow DAG and the
Glue entry script import these modules on machines where only part of the stack is installed.
"""

from __future__ import annotations

from lakeforge.errors import LakeforgeError


class DeployError(LakeforgeError):
    """A deployment could not be prepared or an AWS resource is not in the expected state."""


class MissingArtifactError(DeployError, FileNotFoundError):
    """An artifact that must be uploaded (wheel, zip, jar, script) is not in dist/."""


class RemoteRunFailedError(DeployError):
    """An EMR step or Glue job run ended in a failed state; the message carries AWS's reason."""


class RemoteRunTimeoutError(DeployError, TimeoutError):
    """An EMR step or Glue job run did not finish within the allowed time."""


__all__ = [
    "DeployError",
    "MissingArtifactError",
    "RemoteRunFailedError",
    "RemoteRunTimeoutError",
]
