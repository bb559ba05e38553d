import pytest

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


