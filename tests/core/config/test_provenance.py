"""The config digest covers exactly the output-shaping settings: every key is varied in turn."""

import dataclasses
import re

import pytest

from shipchips_core.config import ArchiveSource, Config, StacApi
from shipchips_core.config.provenance import NOT_OUTPUT_SHAPING, OUTPUT_SHAPING, generic_key, leaves

# a config whose list sections hold an entry each, so their entries' keys are varied too
BASE = dataclasses.replace(
    Config(),
    ais=dataclasses.replace(Config().ais, archives=(ArchiveSource(location="/data/AIS_{date:%Y_%m_%d}.zip"),)),
    stac=dataclasses.replace(Config().stac, extra_apis=(StacApi("https://mirror.example/v1", ("sentinel-2-l2a",)),)),
)


def _varied(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value * 0.5 + 0.0371
    if isinstance(value, str):
        return "2019-02-03" if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) else value + "-other"
    if isinstance(value, tuple):
        return (*value[:-1], _varied(value[-1])) if value else ("x",)
    raise TypeError(value)


def _replace(obj, path: list[str], value):
    """`obj` with the leaf at `path` (`areas[0]`, `bbox`) set to `value` (no validation: a hash test)."""
    head, *rest = path
    m = re.fullmatch(r"(\w+)\[(\d+)\]", head)
    if m:
        name, i = m.group(1), int(m.group(2))
        entries = list(getattr(obj, name))
        entries[i] = _replace(entries[i], rest, value)
        return dataclasses.replace(obj, **{name: tuple(entries)})
    if not rest:
        return dataclasses.replace(obj, **{head: value})
    return dataclasses.replace(obj, **{head: _replace(getattr(obj, head), rest, value)})


KEYS = sorted(leaves(BASE))


def test_every_key_is_classified_once():
    generic = {generic_key(k) for k in KEYS}
    assert not set(OUTPUT_SHAPING) & set(NOT_OUTPUT_SHAPING)
    assert generic == set(OUTPUT_SHAPING) | set(NOT_OUTPUT_SHAPING), (
        "unclassified: " + ", ".join(sorted(generic - set(OUTPUT_SHAPING) - set(NOT_OUTPUT_SHAPING))))


@pytest.mark.parametrize("key", KEYS)
def test_a_key_changes_the_digest_exactly_when_it_shapes_the_output(key):
    value = leaves(BASE)[key]
    changed = _replace(BASE, key.split("."), _varied(value))
    assert leaves(changed)[key] != value
    assert (changed.digest() != BASE.digest()) == (generic_key(key) in OUTPUT_SHAPING), key


def test_the_issues_retuned_settings_leave_the_digest_alone():
    for key in ("ais.url", "ais.flush_seconds", "stac.timeout_seconds", "stac.max_retries"):
        assert _replace(BASE, key.split("."), _varied(leaves(BASE)[key])).digest() == BASE.digest(), key


def test_adding_an_entry_to_a_list_section_changes_the_digest():
    more = dataclasses.replace(BASE, areas=(*BASE.areas, dataclasses.replace(BASE.areas[0], name="second")))
    assert more.digest() != BASE.digest()
