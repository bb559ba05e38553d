"""The Dagster resource reaches an s3:// dataset root through dagster-aws's S3Resource."""

from __future__ import annotations

import yaml
from dagster_aws.s3 import S3Resource

from shipchips_core.dataset.s3_storage import S3Storage
from shipchips_core.dataset.storage import LocalStorage
from shipchips_dagster.lib.resource import ShipchipsResource, s3_resource_for
from shipchips_twin.s3_server import TEST_ACCESS_KEY, TEST_SECRET_KEY


def _config(tmp_path, root: str, **s3) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"dataset_root": root, "s3": s3}))
    return str(path)


def test_the_s3_resource_built_from_the_config_reaches_the_bucket(tmp_path, s3_root):
    config = _config(tmp_path, s3_root.root, endpoint_url=s3_root.endpoint_url, max_attempts=4)
    from shipchips_core.config import load_config

    s3 = s3_resource_for(load_config(config).s3)
    assert (s3.endpoint_url, s3.max_attempts) == (s3_root.endpoint_url, 3)  # dagster-aws counts retries
    assert s3.aws_access_key_id is None and s3.aws_secret_access_key is None  # keys stay in env / .env
    storage = ShipchipsResource(config_path=config, s3=s3).storage
    assert isinstance(storage, S3Storage) and storage.settings.max_attempts == 4
    storage.write_bytes("QA/reports/2026-06-15.html", b"<html/>")
    assert s3_root.client().get_object(Bucket="shipchips", Key=f"{s3_root.prefix}/QA/reports/2026-06-15.html")[
        "Body"].read() == b"<html/>"


def test_an_s3_resource_with_its_own_keys_gives_its_own_client(tmp_path, s3_root, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no .env here either
    s3 = S3Resource(endpoint_url=s3_root.endpoint_url, region_name="us-east-1",
                    aws_access_key_id=TEST_ACCESS_KEY, aws_secret_access_key=TEST_SECRET_KEY)
    storage = ShipchipsResource(config_path=_config(tmp_path, s3_root.root), s3=s3).storage
    storage.write_bytes("labels/a.json", b"{}")
    assert storage.read_bytes("labels/a.json") == b"{}" and storage.settings.endpoint_url == s3_root.endpoint_url


def test_a_local_root_needs_no_s3(tmp_path):
    storage = ShipchipsResource(config_path=_config(tmp_path, str(tmp_path / "root"))).storage
    assert isinstance(storage, LocalStorage)
