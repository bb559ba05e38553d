"""Byte ranges from disk and over HTTP (the twin's static COGs): exact bytes, retries, safe errors."""

import io

import pytest

from shipchips_core.chips.cog import ranges
from shipchips_twin.stac_faults import StacFaults
from shipchips_twin.stac_server import StacApiTwin


@pytest.fixture(scope="module")
def cog(scene_catalog):
    path = next(scene_catalog.rglob("blue.tif"))
    return path, path.relative_to(scene_catalog).as_posix(), path.read_bytes()


def test_local_ranges_are_the_file_bytes(cog):
    path, _, data = cog
    r = ranges.open_ranges(str(path))
    try:
        assert r.size == len(data)
        assert r.fetch(1000, 70_000) == data[1000:70_000]
        assert r.head == data[: ranges.HEAD_BYTES]
    finally:
        r.close()


def test_http_ranges_are_the_file_bytes_and_a_buffered_file_reads_like_the_real_one(cog, stac_api):
    path, rel, data = cog
    r = ranges.open_ranges(f"{stac_api.url}/data/{rel}")
    assert r.size == len(data)
    assert r.fetch(123_456, 200_000) == data[123_456:200_000]
    f = io.BufferedReader(ranges.RangeFile(r), buffer_size=4096)
    f.seek(-100, io.SEEK_END)
    assert f.read() == data[-100:]
    f.seek(50_000)
    assert f.read(10) == data[50_000:50_010] and f.tell() == 50_010


def test_throttled_requests_are_retried(cog, scene_catalog):
    _, rel, data = cog
    faults = StacFaults(asset_fail=2)
    with StacApiTwin(scene_catalog, faults=faults) as api:
        r = ranges.open_ranges(f"{api.url}/data/{rel}")
        assert r.fetch(len(data) - 10, len(data)) == data[-10:]
    assert faults.asset_seen == 4  # two 503s, the header, the tail


def test_a_failing_object_is_named_without_its_query_string(cog, scene_catalog):
    _, rel, _ = cog
    with StacApiTwin(scene_catalog, faults=StacFaults(asset_fail=100)) as api:
        with pytest.raises(ranges.RangeError) as err:
            pool = ranges.http_pool(retries=ranges.RETRY.new(total=1, backoff_factor=0))
            ranges.open_ranges(f"{api.url}/data/{rel}?sig=SECRET-TOKEN", pool)
    assert rel in str(err.value) and "SECRET-TOKEN" not in str(err.value)


def test_other_schemes_are_not_claimed():
    assert ranges.supports("/data/a.tif") and ranges.supports("https://x/a.tif")
    assert not ranges.supports("s3://bucket/a.tif") and not ranges.supports("/vsis3/bucket/a.tif")
    with pytest.raises(ValueError, match="s3://bucket/a.tif"):
        ranges.open_ranges("s3://bucket/a.tif?token=x")


def test_the_environments_proxy_is_used_unless_the_host_is_exempt(monkeypatch):
    monkeypatch.setenv("https_proxy", "http://proxy.internal:3128")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    assert ranges._via_proxy("https://sentinel-cogs.s3.us-west-2.amazonaws.com/a.tif").proxy.host == "proxy.internal"
    assert ranges._via_proxy("https://127.0.0.1:9000/a.tif") is None
