"""S3Storage against moto's server on loopback: the local root's semantics on a bucket."""

from __future__ import annotations

import pickle
from concurrent.futures import ThreadPoolExecutor

import duckdb
import pandas as pd
import pytest

from shipchips_core.config import ConfigError, S3Config, load_config
from shipchips_core.dataset.faults import StorageFault
from shipchips_core.dataset.s3_storage import S3Storage, split_uri
from shipchips_core.dataset.storage import open_storage
from shipchips_twin.s3_server import TEST_ACCESS_KEY, TEST_SECRET_KEY, FaultyS3Proxy


def _storage(s3_root, **settings) -> S3Storage:
    return S3Storage(s3_root.root, S3Config(endpoint_url=s3_root.endpoint_url, **settings))


def test_open_storage_gives_an_s3_root_for_an_s3_uri(s3_root):
    storage = open_storage(s3_root.root, S3Config(endpoint_url=s3_root.endpoint_url))
    assert isinstance(storage, S3Storage)
    assert storage.uri("chips/a.tif") == f"s3://shipchips/{s3_root.prefix}/chips/a.tif"
    assert split_uri("s3://bucket") == ("bucket", "")
    with pytest.raises(ValueError, match="names no bucket"):
        split_uri("s3:///prefix")


def test_bytes_round_trip_and_a_rewrite_replaces_the_object(s3_root):
    storage = _storage(s3_root)
    assert not storage.exists("QA/reports/2026-06-15.html")
    storage.write_bytes("QA/reports/2026-06-15.html", b"<html>one</html>")
    storage.write_bytes("QA/reports/2026-06-15.html", b"<html>two</html>")
    assert storage.read_bytes("QA/reports/2026-06-15.html") == b"<html>two</html>"
    assert storage.list("QA") == ["QA/reports/2026-06-15.html"]
    storage.delete("QA/reports/2026-06-15.html")
    assert storage.list("QA") == [] and not storage.exists("QA/reports/2026-06-15.html")
    with pytest.raises(FileNotFoundError, match=f"s3://shipchips/{s3_root.prefix}/nothing.json"):
        storage.read_bytes("nothing.json")
    with pytest.raises(ValueError, match="inside the root"):
        storage.write_bytes("../escape.txt", b"x")


def test_a_writer_is_seen_only_once_complete_and_never_after_an_error(s3_root):
    storage = _storage(s3_root)
    with storage.open_write("plan/pending.csv", "w") as fh:
        fh.write("mmsi,day\n")
        assert not storage.exists("plan/pending.csv")  # nothing partial is visible meanwhile
    assert storage.read_bytes("plan/pending.csv") == b"mmsi,day\n"
    with pytest.raises(RuntimeError):
        with storage.temporary_path("chips/train/1/2026-06-15/x.tif") as tmp:
            tmp.write_bytes(b"half a tiff")
            raise RuntimeError("the writer failed")
    assert storage.list("chips") == []


def test_large_files_go_up_as_multipart_uploads(s3_root):
    storage = _storage(s3_root, multipart_threshold_mb=5, multipart_chunksize_mb=5)
    blob = bytes(range(256)) * (12 * 4096)  # 12 MiB: three 5 MiB parts
    storage.write_bytes("exports/clay/big.npz", blob)
    head = s3_root.client().head_object(Bucket="shipchips", Key=storage.key("exports/clay/big.npz"))
    assert head["ETag"].strip('"').endswith("-3")  # S3's ETag of a 3-part upload
    assert storage.read_bytes("exports/clay/big.npz") == blob
    with storage.local_copy("exports/clay/big.npz") as path:
        assert path.read_bytes() == blob
    with storage.temporary_path("indexes/big.parquet") as tmp:  # a writer that wants a path (GDAL, DuckDB)
        tmp.write_bytes(blob)
    head = s3_root.client().head_object(Bucket="shipchips", Key=storage.key("indexes/big.parquet"))
    assert head["ETag"].strip('"').endswith("-3") and head["ContentLength"] == len(blob)


def test_listing_pages_past_a_thousand_keys_and_skips_hidden_names(s3_root):
    storage = _storage(s3_root)
    client, base = s3_root.client(), storage.key("ais/20260615")
    names = [f"aisstream-{i:05d}.jsonl" for i in range(1003)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: client.put_object(Bucket="shipchips", Key=f"{base}/{n}", Body=b"{}\n"), names))
    client.put_object(Bucket="shipchips", Key=f"{base}/.aisstream-x.jsonl.journal", Body=b"")
    listed = storage.list("ais/20260615", ".jsonl")
    assert len(listed) == 1003 and listed[0] == "ais/20260615/aisstream-00000.jsonl"
    assert storage.glob("ais/*/aisstream-0100?.jsonl") == [f"ais/20260615/aisstream-0100{i}.jsonl" for i in range(3)]


def test_duckdb_and_pyarrow_read_a_partitioned_table_from_the_bucket(s3_root):
    storage = _storage(s3_root)
    for day, n in (("2026-06-15", 3), ("2026-06-16", 5)):
        with storage.temporary_path(f"indexes/tiles.parquet/date={day}/part-0.parquet") as tmp:
            pd.DataFrame({"tile_id": [f"{day}-{i}" for i in range(n)]}).to_parquet(tmp)
    con = duckdb.connect()
    pattern = storage.duckdb_pattern(con, "indexes/tiles.parquet")
    assert storage.duckdb_pattern(con, "indexes/tiles.parquet") == pattern  # registered once
    rows = con.execute(f"SELECT date, count(*) FROM read_parquet('{pattern}', hive_partitioning = true) "
                       "GROUP BY 1 ORDER BY 1").fetchall()
    assert [(str(d), n) for d, n in rows] == [("2026-06-15", 3), ("2026-06-16", 5)]
    path, fs = storage.fsspec_source("indexes/tiles.parquet")
    assert len(pd.read_parquet(path, filesystem=fs)) == 8


def test_503s_are_retried_by_the_clients_retry_mode(s3_root):
    with FaultyS3Proxy(s3_root.endpoint_url, every=2, budget=6) as proxy:
        storage = S3Storage(s3_root.root, S3Config(endpoint_url=proxy.endpoint_url, max_attempts=5))
        for i in range(4):
            storage.write_bytes(f"labels/{i}.json", b"{}" * i)
        assert storage.list("labels") == [f"labels/{i}.json" for i in range(4)]
        assert [storage.read_bytes(f"labels/{i}.json") for i in range(4)] == [b"{}" * i for i in range(4)]
        assert proxy.injected == 6


def test_a_throttled_request_fails_naming_the_object_once_the_attempts_are_spent(s3_root):
    with FaultyS3Proxy(s3_root.endpoint_url, every=1, budget=10) as proxy:
        storage = S3Storage(s3_root.root, S3Config(endpoint_url=proxy.endpoint_url, max_attempts=2))
        with pytest.raises(StorageFault, match=f"s3://shipchips/{s3_root.prefix}/QA/r.html"):
            storage.write_bytes("QA/r.html", b"x")
        assert proxy.injected == 2  # botocore's two attempts, nothing more of ours


def test_a_missing_bucket_is_an_environment_fault_naming_it(s3_root):
    storage = S3Storage("s3://no-such-bucket/x", S3Config(endpoint_url=s3_root.endpoint_url, max_attempts=1))
    with pytest.raises(StorageFault, match="s3://no-such-bucket/x/a.json: the request was refused"):
        storage.write_bytes("a.json", b"{}")


def test_credentials_are_in_no_repr_pickle_or_error(s3_root):
    storage = _storage(s3_root)
    storage.write_bytes("a.json", b"{}")  # a client (holding the keys) exists now
    state = pickle.dumps(storage)
    for secret in (TEST_ACCESS_KEY, TEST_SECRET_KEY):
        assert secret not in repr(storage) and secret.encode() not in state
    again = pickle.loads(state)  # a worker process builds its own client from the environment
    assert again.read_bytes("a.json") == b"{}"
    bad = S3Storage("s3://no-such-bucket", S3Config(endpoint_url=s3_root.endpoint_url, max_attempts=1))
    with pytest.raises(StorageFault) as err:
        bad.read_bytes("a.json")
    assert TEST_SECRET_KEY not in str(err.value) and TEST_ACCESS_KEY not in str(err.value)


def test_the_s3_section_is_validated_naming_the_key(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("s3:\n  retry_mode: eager\n")
    with pytest.raises(ConfigError, match="s3.retry_mode must be one of standard, adaptive, legacy"):
        load_config(cfg)
    cfg.write_text("dataset_root: s3://b/p\ns3:\n  endpoint_url: 127.0.0.1:9000\n")
    with pytest.raises(ConfigError, match="s3.endpoint_url must be an http"):
        load_config(cfg)
