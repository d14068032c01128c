"""Not imported as a package: this folder goes on ``sys.path`` so that ``awsglue`` resolves to
Lakeforge's runtime (:mod:`lakeforge.glue_local.shim_path`), only where awsglue is absent."""
