import pytest

from shipchips_core.config import ConfigError, load_config, missing_secret


def test_shipped_config_loads_and_points_at_the_real_services(shipped_config):
    cfg = load_config(shipped_config, environ={})
    assert cfg.stac.url == "https://earth-search.aws.element84.com/v1"
    assert cfg.ais.url == "wss://stream.aisstream.io/v0/stream"
    assert cfg.chips.size == 256


def test_every_key_has_a_default():
    cfg = load_config(None, environ={})
    assert cfg.plan.lag_days == 3 and cfg.stac.max_cloud_cover == 30


def test_env_override_changes_only_the_named_key(shipped_config):
    cfg = load_config(shipped_config, environ={"SHIPCHIPS__STAC__URL": "http://127.0.0.1:8000"})
    assert cfg.stac.url == "http://127.0.0.1:8000"
    assert cfg.stac.collections == ("sentinel-2-c1-l2a", "sentinel-2-l2a")


def test_extra_stac_apis_are_searched_after_the_main_one(shipped_config):
    extra = "[{url: 'http://127.0.0.1:9001', collections: [sentinel-2-l2a, my-s2]}]"
    cfg = load_config(shipped_config, environ={"SHIPCHIPS__STAC__URL": "http://127.0.0.1:9000",
                                               "SHIPCHIPS__STAC__EXTRA_APIS": extra})
    assert [(a.url, a.collections) for a in cfg.stac.apis] == [
        ("http://127.0.0.1:9000", ("sentinel-2-c1-l2a", "sentinel-2-l2a")),
        ("http://127.0.0.1:9001", ("sentinel-2-l2a", "my-s2")),
    ]
    assert cfg.stac.collection_order == ("sentinel-2-c1-l2a", "sentinel-2-l2a", "my-s2")
    assert load_config(shipped_config, environ={}).stac.extra_apis == ()


@pytest.mark.parametrize(
    "text, key",
    [
        ("chips: {size: big}", "chips.size"),
        ("chips: {stack: rgb}", "chips.stack"),
        ("chips: {gating: {max_cloud_fraction: 2}}", "chips.gating.max_cloud_fraction"),
        ("stac: {max_cloud_cover: 130}", "stac.max_cloud_cover"),
        ("areas: [{name: x, bbox: [5, 52, 4, 53]}]", "areas[0].bbox"),
        ("plan: {lag_dayz: 3}", "plan.lag_dayz"),
        ("plan: {history_days: 0}", "plan.history_days"),
        ("plan: {history_days: 2.5}", "plan.history_days"),
        ("ais: {url: http://x}", "ais.url"),
        ("stac: {extra_apis: [{url: ftp://x}]}", "stac.extra_apis[0].url"),
        ("stac: {extra_apis: [{url: 'http://x', collections: []}]}", "stac.extra_apis[0].collections"),
        ("stac: {url: 'http://x', extra_apis: [{url: 'http://x'}]}", "stac.extra_apis[0].url"),
        ("ais: {receive_queue: 0}", "ais.receive_queue"),
        ("ais: {max_pending_lines: -5}", "ais.max_pending_lines"),
        ("ais: {stats_interval_seconds: often}", "ais.stats_interval_seconds"),
        ("ais: {reconnect_base_seconds: 2, reconnect_max_seconds: 1}", "ais.reconnect_max_seconds"),
    ],
)
def test_bad_values_fail_naming_the_key(tmp_path, text, key):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        load_config(path, environ={})


def test_digest_changes_with_a_value():
    a = load_config(None, environ={})
    b = load_config(None, environ={"SHIPCHIPS__CHIPS__GATING__MAX_CLOUD_FRACTION": "0.7"})
    assert a.digest() != b.digest()


def test_digest_ignores_settings_that_change_no_output():
    a = load_config(None, environ={})
    b = load_config(None, environ={"SHIPCHIPS__CHIPS__WORKERS": "7", "SHIPCHIPS__DATASET_ROOT": "/elsewhere",
                                   "SHIPCHIPS__AIS__RECEIVE_QUEUE": "64", "SHIPCHIPS__AIS__RECONNECT_MAX_SECONDS": "9"})
    assert a.digest() == b.digest()


def test_a_mistyped_key_names_the_key_its_value_a_close_match_and_the_allowed_keys():
    with pytest.raises(ConfigError) as err:
        load_config(None, environ={"SHIPCHIPS__CHIPS__STAK": "rgbn"})
    text = str(err.value)
    assert "'chips.stak' = 'rgbn'" in text and "Did you mean 'chips.stack'?" in text
    assert "Allowed keys under 'chips':" in text and "gating" in text and "workers" in text


def test_a_bad_value_names_the_key_the_value_and_the_allowed_values():
    with pytest.raises(ConfigError, match=r"chips.stack must be 'rgbn' or 'rgbn_swir', got 'rgb'"):
        load_config(None, environ={"SHIPCHIPS__CHIPS__STACK": "rgb"})


def test_a_missing_secret_says_where_to_put_it(tmp_path):
    text = missing_secret("AISSTREAM_API_KEY", tmp_path / ".env")
    assert "export AISSTREAM_API_KEY=..." in text and f"{tmp_path / '.env'} as a line AISSTREAM_API_KEY=..." in text
