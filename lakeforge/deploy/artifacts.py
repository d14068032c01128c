"""What travels to a cluster: the project wheel, the ``--py-files`` zip, jars, entry script, conf.

``scripts/build_artifacts.sh`` builds the wheel with ``pip wheel --no-deps`` and then calls
``lakeforge deploy artifacts`` (:func:`build`) which writes into dist/:

* ``lakeforge_pyfiles.zip`` - the packages lakeforge, transforms, quality and jobs, plus conf/
  (so a job finds its quality suites on a cluster, see :func:`ensure_conf_dir`);
* ``jars/scala-udf-similarity-<v>_spark<3|4>.x.jar`` - Splink's similarity functions for the
  installed pyspark's major version (Scala 2.12 / 2.13), copied from the installed splink wheel
  (nothing is downloaded); the manifest records the Spark line (``spark_line``), so artifacts
  are built per line (``make artifacts`` in .venv, ``make artifacts-spark4`` in .venv-spark4)
  and a deployment to the other line is refused (:mod:`lakeforge.deploy.runtimes`);
* ``glue_entry.py`` and ``bootstrap.sh`` - the Glue/EMR entry script and the EMR bootstrap action;
* ``manifest.json`` - file names, sizes and SHA-256 digests; :func:`load_artifacts` checks them so
  a half-built or edited dist/ is never uploaded.

The zip is deterministic (sorted entries, fixed timestamps): the same sources give the same bytes.

Example::

    artifacts = load_artifacts("dist")
    layout = S3Layout.from_uri("s3://my-bucket/lakeforge-deploy", version="0.1.0")
    uploaded = upload_artifacts(s3_client, artifacts, layout, conf_root=conf_dir())
    uploaded.pyfiles   # s3://my-bucket/lakeforge-deploy/0.1.0/lakeforge_pyfiles.zip
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lakeforge.deploy import DeployError, MissingArtifactError
from lakeforge.jars import sha256_of

log = logging.getLogger(__name__)

PACKAGES = ("lakeforge", "transforms", "quality", "jobs")
PYFILES_ZIP = "lakeforge_pyfiles.zip"
MANIFEST = "manifest.json"
ENTRY_SCRIPT = "glue_entry.py"
BOOTSTRAP_SCRIPT = "bootstrap.sh"
CONF_SUFFIXES = (".yaml", ".yml", ".properties", ".json")
_PACKAGE_DATA_SUFFIXES = (".py", ".typed", ".yaml", ".yml", ".json", ".sql", ".html", ".jinja")
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


# --------------------------------------------------------------------------- building


def _package_files(root: Path, package: str) -> list[Path]:
    folder = root / package
    if not (folder / "__init__.py").is_file():
        raise MissingArtifactError(
            f"package {package!r} not found at {folder} (no __init__.py); run the build from the "
            "repository root or pass --source REPO"
        )
    return sorted(
        p for p in folder.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix in _PACKAGE_DATA_SUFFIXES
    )


def _conf_files(conf_root: Path) -> list[Path]:
    if not conf_root.is_dir():
        return []
    return sorted(
        p for p in conf_root.rglob("*")
        if p.is_file() and p.suffix in CONF_SUFFIXES and not p.name.startswith(".")
    )


def build_pyfiles_zip(source_root: str | Path, dest: str | Path,
                      packages: Sequence[str] = PACKAGES) -> list[str]:
    """Write the ``--py-files`` zip of ``packages`` and conf/ under ``source_root``; return names.

    Entries are sorted and stamped 1980-01-01 so the zip's digest only changes with the sources.
    """
    root = Path(source_root).resolve()
    files: list[tuple[Path, str]] = []
    for package in packages:
        files += [(p, p.relative_to(root).as_posix()) for p in _package_files(root, package)]
    files += [(p, p.relative_to(root).as_posix()) for p in _conf_files(root / "conf")]
    out = Path(dest)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path, name in sorted(files, key=lambda item: item[1]):
            info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, path.read_bytes())
    tmp.replace(out)
    names = [name for _, name in sorted(files, key=lambda item: item[1])]
    log.info("wrote %s (%d files)", out, len(names))
    return names


def splink_jar() -> Path:
    """Splink's similarity jar for the installed pyspark's major version, from the splink
    wheel (``*_spark3.x.jar`` on Spark 3.5, ``*_spark4.x.jar`` on Spark 4)."""
    from lakeforge.session import splink_jar_path

    found = splink_jar_path()
    if not found:
        raise MissingArtifactError(
            "Splink's Spark jar (splink/internals/files/spark_jars/"
            "scala-udf-similarity-*_spark<3|4>.x.jar) was not found: install the match extra "
            "(pip install -e '.[match]') before building artifacts"
        )
    return Path(found)


def build_spark_line() -> str:
    """``spark-3.5`` / ``spark-4.1``: the line of the pyspark the artifacts are built with."""
    from lakeforge.jars import spark_line

    return spark_line()


def spark_line_of_jars(jar_names: Sequence[str]) -> str | None:
    """``spark-4.x`` when Splink's jar among ``jar_names`` is its ``_spark4.x`` build."""
    for name in jar_names:
        m = re.search(r"_spark(\d+)\.x\.jar$", name)
        if m:
            return f"spark-{m.group(1)}.x"
    return None


def splink_version() -> str | None:
    """The installed splink version (pinned in Glue's --additional-python-modules)."""
    from importlib import metadata

    try:
        return metadata.version("splink")
    except metadata.PackageNotFoundError:
        return None


def build(source_root: str | Path, dist: str | Path, wheel: str | Path) -> Path:
    """Assemble dist/ around an already built ``wheel``; return the manifest's path."""
    from lakeforge import __version__

    root = Path(source_root).resolve()
    out = Path(dist).resolve()
    out.mkdir(parents=True, exist_ok=True)
    wheel_path = Path(wheel).resolve()
    if not wheel_path.is_file() or wheel_path.suffix != ".whl":
        raise MissingArtifactError(f"wheel {wheel_path} does not exist or is not a .whl file")
    if wheel_path.parent != out:
        shutil.copy2(wheel_path, out / wheel_path.name)
        wheel_path = out / wheel_path.name

    build_pyfiles_zip(root, out / PYFILES_ZIP)
    jars_dir = out / "jars"
    jars_dir.mkdir(exist_ok=True)
    jar_src = splink_jar()
    shutil.copy2(jar_src, jars_dir / jar_src.name)
    for src, name in ((root / "scripts" / "glue_entry.py", ENTRY_SCRIPT),
                      (root / "emr" / "bootstrap.sh", BOOTSTRAP_SCRIPT)):
        if not src.is_file():
            raise MissingArtifactError(f"{src} is missing; it is part of every deployment")
        shutil.copy2(src, out / name)

    files = {
        "wheel": wheel_path.name,
        "pyfiles": PYFILES_ZIP,
        "entry": ENTRY_SCRIPT,
        "bootstrap": BOOTSTRAP_SCRIPT,
    }
    jars = [f"jars/{jar_src.name}"]
    manifest = {
        "version": __version__,
        # the Spark line of the pyspark this was built with: Splink's jar is per Scala version
        # (lakeforge.deploy.runtimes checks it against the Glue version / EMR release)
        "spark_line": build_spark_line(),
        "splink_version": splink_version(),
        "files": files,
        "jars": jars,
        "sha256": {name: sha256_of(out / name) for name in [*files.values(), *jars]},
    }
    path = out / MANIFEST
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class Artifacts:
    """The checked contents of a dist/ folder."""

    dist: Path
    version: str
    wheel: Path
    pyfiles: Path
    entry: Path
    bootstrap: Path
    jars: tuple[Path, ...]
    splink_version: str | None = None
    spark_line: str | None = None


def load_artifacts(dist: str | Path = "dist") -> Artifacts:
    """Read dist/manifest.json and check every listed file exists with the recorded digest."""
    folder = Path(dist).resolve()
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise MissingArtifactError(
            f"{manifest_path} not found: build the artifacts first with "
            "`bash scripts/build_artifacts.sh` (or pass --dist DIR)"
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        files: dict[str, str] = manifest["files"]
        jars: list[str] = manifest["jars"]
        digests: dict[str, str] = manifest["sha256"]
        version = str(manifest["version"])
    except (ValueError, KeyError, TypeError) as exc:
        raise DeployError(f"{manifest_path} is not a valid manifest ({exc}); rebuild") from exc
    problems = []
    for name in [*files.values(), *jars]:
        path = folder / name
        if not path.is_file():
            problems.append(f"{name} is missing")
        elif sha256_of(path) != digests.get(name):
            problems.append(f"{name} changed after the build")
    if problems:
        raise MissingArtifactError(
            f"{folder}: {'; '.join(problems)}; rebuild with `bash scripts/build_artifacts.sh`"
        )
    return Artifacts(
        dist=folder,
        version=version,
        wheel=folder / files["wheel"],
        pyfiles=folder / files["pyfiles"],
        entry=folder / files["entry"],
        bootstrap=folder / files["bootstrap"],
        jars=tuple(folder / j for j in jars),
        splink_version=manifest.get("splink_version"),
        spark_line=manifest.get("spark_line"),
    )


# --------------------------------------------------------------------------- S3 layout + upload


@dataclass(frozen=True)
class S3Layout:
    """Where one version's artifacts and config live: ``s3://bucket/prefix/<version>/...``."""

    bucket: str
    prefix: str

    @classmethod
    def from_uri(cls, uri: str, version: str) -> S3Layout:
        from lakeforge.aws import split_s3_uri

        try:
            bucket, key = split_s3_uri(uri)
        except ValueError as exc:
            raise DeployError(f"artifacts location {uri!r} must be s3://bucket/prefix") from exc
        if not bucket:
            raise DeployError(f"artifacts location {uri!r} has no bucket")
        parts = [p for p in key.strip("/").split("/") if p] + [version]
        if any(p in (".", "..") for p in parts):
            raise DeployError(f"artifacts location {uri!r} may not contain '.' or '..'")
        return cls(bucket=bucket, prefix="/".join(parts))

    def key(self, *parts: str) -> str:
        return "/".join([self.prefix, *parts])

    def base_uri(self, *parts: str) -> str:
        """A URI beside the versions (``s3://bucket/prefix/tmp``), shared by all of them."""
        base = self.prefix.rsplit("/", 1)[0] if "/" in self.prefix else ""
        return f"s3://{self.bucket}/" + "/".join(p for p in [base, *parts] if p)

    def uri(self, *parts: str) -> str:
        return f"s3://{self.bucket}/{self.key(*parts)}"


@dataclass(frozen=True)
class UploadedArtifacts:
    """S3 URIs of one uploaded deployment."""

    layout: S3Layout
    wheel: str
    pyfiles: str
    entry: str
    bootstrap: str
    jars: tuple[str, ...]
    conf: tuple[str, ...] = field(default_factory=tuple)
    splink_version: str | None = None
    spark_line: str | None = None

    @classmethod
    def at(
        cls,
        layout: S3Layout,
        *,
        version: str,
        jar_names: Sequence[str],
        conf_files: Sequence[str],
        splink_version: str | None = None,
        spark_line: str | None = None,
    ) -> UploadedArtifacts:
        """The URIs an earlier ``lakeforge deploy`` upload left under ``layout`` (no AWS call).

        Orchestrators (the Airflow DAG) build steps from this without dist/ at hand. Without
        ``spark_line`` the Spark major is read from Splink's jar name (``_spark4.x.jar``).
        """
        return cls(
            layout=layout,
            wheel=layout.uri(f"lakeforge-{version}-py3-none-any.whl"),
            pyfiles=layout.uri(PYFILES_ZIP),
            entry=layout.uri(ENTRY_SCRIPT),
            bootstrap=layout.uri(BOOTSTRAP_SCRIPT),
            jars=tuple(layout.uri("jars", name) for name in jar_names),
            conf=tuple(layout.uri("conf", *f.split("/")) for f in conf_files),
            splink_version=splink_version,
            spark_line=spark_line or spark_line_of_jars(jar_names),
        )

    def conf_uri(self, relative: str) -> str:
        """URI of a file uploaded from conf/, e.g. ``conf_uri("envs/emr.yaml")``."""
        uri = self.layout.uri("conf", relative)
        if uri not in self.conf:
            raise DeployError(
                f"conf/{relative} was not uploaded (uploaded: "
                f"{[u.rsplit('/conf/', 1)[-1] for u in self.conf]}); create it in conf/"
            )
        return uri

    def env_uri(self, env: str) -> str:
        return self.conf_uri(f"envs/{env}.yaml")

    def env_location(self, env: str) -> str:
        """``env`` itself when it is an s3:// URI, else the uploaded conf/envs/<env>.yaml."""
        return env if env.startswith("s3://") else self.env_uri(env)

    def job_config_uri(self, job: str) -> str:
        return self.conf_uri(f"jobs/{job}.yaml")

    def uploaded_job_config(self, job: str) -> str | None:
        """URI of conf/jobs/<job>.yaml when it was uploaded; None (the job's defaults) if not."""
        uri = self.layout.uri("conf", "jobs", f"{job}.yaml")
        return uri if uri in self.conf else None


def sse_extra_args(sse: str, kms_key_id: str | None = None) -> dict[str, str]:
    """``put_object`` / ``upload_file`` arguments for the env's server-side encryption."""
    if sse == "SSE-S3":
        return {"ServerSideEncryption": "AES256"}
    if sse == "SSE-KMS":
        if not kms_key_id:
            raise DeployError("aws.sse SSE-KMS needs aws.kms_key_id in the env config")
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id}
    return {}


def upload_artifacts(
    s3: Any,
    artifacts: Artifacts,
    layout: S3Layout,
    *,
    conf_root: str | Path | None = None,
    extra_args: dict[str, str] | None = None,
) -> UploadedArtifacts:
    """Upload dist/ (and conf/ when given) under ``layout``; return the S3 URIs."""
    extra = dict(extra_args or {})

    def put(path: Path, *key_parts: str) -> str:
        key = layout.key(*key_parts)
        log.info("uploading %s to s3://%s/%s", path, layout.bucket, key)
        s3.upload_file(str(path), layout.bucket, key, ExtraArgs=extra or None)
        return layout.uri(*key_parts)

    wheel = put(artifacts.wheel, artifacts.wheel.name)
    pyfiles = put(artifacts.pyfiles, artifacts.pyfiles.name)
    entry = put(artifacts.entry, artifacts.entry.name)
    bootstrap = put(artifacts.bootstrap, artifacts.bootstrap.name)
    jars = tuple(put(j, "jars", j.name) for j in artifacts.jars)
    conf: list[str] = []
    if conf_root is not None:
        root = Path(conf_root)
        files = _conf_files(root)
        if not files:
            raise MissingArtifactError(f"conf folder {root} holds no config files to upload")
        conf = [put(p, "conf", *p.relative_to(root).parts) for p in files]
    return UploadedArtifacts(layout, wheel, pyfiles, entry, bootstrap, jars, tuple(conf),
                             artifacts.splink_version, artifacts.spark_line)


# --------------------------------------------------------------------------- on the cluster


def ensure_conf_dir(environ: dict[str, str] | None = None) -> Path | None:
    """Make conf/ findable when lakeforge runs from the ``--py-files`` zip.

    :func:`lakeforge.config.conf_dir` looks at ``$LAKEFORGE_CONF_DIR``, ./conf, then the folder
    beside the package - which inside a zip is not a real folder. When neither of the first two
    holds a conf and lakeforge was imported from a zip, conf/ is extracted from that zip to a
    temporary folder and ``$LAKEFORGE_CONF_DIR`` is set. Returns the folder set, else None.
    """
    env = os.environ if environ is None else environ
    if env.get("LAKEFORGE_CONF_DIR") or (Path.cwd() / "conf" / "envs").is_dir():
        return None
    archive = _containing_zip(Path(__file__))
    if archive is None:
        return None
    target = Path(tempfile.mkdtemp(prefix="lakeforge-conf-"))
    with zipfile.ZipFile(archive) as zf:
        members = [m for m in zf.namelist() if m.startswith("conf/") and not m.endswith("/")]
        if not members:
            return None
        for member in members:
            zf.extract(member, target)
    conf = target / "conf"
    env["LAKEFORGE_CONF_DIR"] = str(conf)
    log.info("extracted conf/ from %s to %s", archive, conf)
    return conf


def _containing_zip(path: Path) -> Path | None:
    for parent in path.parents:
        if parent.suffix == ".zip" and parent.is_file():
            return parent
    return None


def zip_members(path: str | Path) -> list[str]:
    """Names in a zip (used by tests and ``lakeforge deploy`` to show what ships)."""
    with zipfile.ZipFile(path) as zf:
        return zf.namelist()
