import pandas as pd
import pytest

from shipchips_core.dataset import ids
from shipchips_core.sentinel2.radiometry import rule_for_item


@pytest.mark.parametrize(
    "collection, props, band, name, dn, refl",
    [
        ("sentinel-2-l2a", {"earthsearch:boa_offset_applied": True, "s2:processing_baseline": "05.10"}, {"offset": -0.1}, "dn_div_10000", 1450, 0.145),
        ("sentinel-2-l2a", {"earthsearch:boa_offset_applied": False, "s2:processing_baseline": "04.00"}, {}, "dn_minus_1000_div_10000", 1450, 0.045),
        ("sentinel-2-l2a", {"s2:processing_baseline": "03.01"}, {}, "dn_div_10000", 1450, 0.145),
        ("sentinel-2-c1-l2a", {}, {"scale": 0.0001, "offset": -0.1}, "raster_scale_offset", 1450, 0.045),
    ],
)
def test_radiometry_rule_per_catalogue_convention(collection, props, band, name, dn, refl):
    import numpy as np

    rule = rule_for_item(collection, props, band)
    assert rule.name == name
    assert rule.apply(np.array([dn], dtype="uint16"))[0] == pytest.approx(refl, abs=1e-6)


def test_tile_id_is_deterministic_and_position_sensitive():
    t = pd.Timestamp("2026-06-15T10:14:25.218Z")
    a = ids.tile_id(244123456, t, 52.123456, 3.987654)
    assert a == ids.tile_id(244123456, t.to_pydatetime(), 52.123456, 3.987654)
    assert len(a) == 16
    assert a != ids.tile_id(244123456, t, 52.12350, 3.987654)
    assert a != ids.tile_id(244123457, t, 52.123456, 3.987654)


def test_split_depends_on_mmsi_only_and_follows_the_fractions():
    splits = [ids.split_for_mmsi(m) for m in range(244000000, 244020000)]
    share = pd.Series(splits).value_counts(normalize=True)
    assert share["train"] == pytest.approx(0.8, abs=0.02) and share["test"] == pytest.approx(0.1, abs=0.02)
    assert ids.split_for_mmsi(244000001) == ids.split_for_mmsi(244000001)
