"""A Glue job written for Lakeforge's tests. It makes the calls of AWS's join-and-relationalize
example (catalog readers, drop/rename, two Joins, an S3 DynamicFrame write, plain Spark writes
of toDF(), relationalize) and writes the relational tables to S3 instead of a JDBC connection.
"""

import sys

from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.transforms import Join
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

args = getResolvedOptions(sys.argv, ["JOB_NAME", "database", "target"])
glue_context = GlueContext(SparkContext.getOrCreate())
job = Job(glue_context)
job.init(args["JOB_NAME"], args)
target = args["target"].rstrip("/")


def table(name):
    return glue_context.create_dynamic_frame.from_catalog(database=args["database"],
                                                          table_name=name)


people = table("persons_json")
member_rows = table("memberships_json")
organisations = (table("organizations_json").drop_fields(["other_names", "identifiers"])
                 .rename_field("id", "org_id").rename_field("name", "org_name"))
people_in_office = Join.apply(people, member_rows, "id", "person_id")
history = Join.apply(organisations, people_in_office, "org_id", "organization_id") \
    .drop_fields(["person_id", "org_id"])

glue_context.write_dynamic_frame.from_options(
    frame=history, connection_type="s3", format="parquet",
    connection_options={"path": f"{target}/legislator_history"})
history.toDF().repartition(1).write.parquet(f"{target}/legislator_single")
history.toDF().write.parquet(f"{target}/legislator_part", partitionBy=["org_name"])

flat = history.relationalize("hist_root", f"{target}/temp-dir/")
for name in flat.keys():  # noqa: SIM118 - the DynamicFrameCollection API
    glue_context.write_dynamic_frame.from_options(
        frame=flat.select(name), connection_type="s3", format="parquet",
        connection_options={"path": f"{target}/relational/{name}"})
job.commit()
