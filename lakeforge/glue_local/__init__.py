"""Run unmodified AWS Glue scripts locally and in pytest, on Lakeforge's runtime.

``shim/awsglue`` is an awsglue-compatible package (``GlueContext``, ``DynamicFrame``,
``getResolvedOptions``, ``Job``, ``awsglue.transforms``). Its folder is put on ``sys.path`` only
when the real ``awsglue`` is not importable, by ``lakeforge glue run SCRIPT.py`` and by the
pytest plugin's ``glue_context`` fixture; the wheel installs it inside ``lakeforge``, never as a
top-level ``awsglue``. Under it:

* :mod:`.runtime` - the lake, catalog and bookmarks a script's GlueContext works on, and the
  Hadoop mapping of ``s3://BUCKET/KEY`` to ``<lake root>/s3/BUCKET/KEY`` (:mod:`.s3_mapping`);
* :mod:`.frames` - DynamicFrame on a DataFrame, with Glue's choice types (:mod:`.choice`);
* :mod:`.context` - GlueContext's readers and writers; :mod:`.job` - Job with bookmarks;
* :mod:`.options` - getResolvedOptions with Glue 5 and Glue 6 rules;
* :mod:`.runner` - run a script as Glue would.

Nothing is imported here: the pytest plugin loads this package at pytest start-up.
"""
