"""The chip files: the quicklook."""

import io

import numpy as np
import pandas as pd
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image
from rasterio.crs import CRS

from shipchips_core.chips.arrays import ChipArrays
from shipchips_core.chips.files import order_statistics, percentiles, quicklook_jpeg, quicklook_rgb
from shipchips_core.sentinel2.bands import RGBN_ASSETS

T = pd.Timestamp("2026-06-15T10:14:25Z")
FOOTPRINT = "POLYGON ((3.5 52.0, 4.0 52.0, 4.0 52.3, 3.5 52.3, 3.5 52.0))"


def test_quicklook_is_rgb_stretched_and_black_on_nodata():
    refl = np.full((4, 64, 64), 0.05, dtype="float32")
    refl[2, :, :32] = 0.2  # red left half
    refl[:, 48:, 48:] = np.nan  # a nodata corner
    chip = ChipArrays(refl, np.full((64, 64), 6, "uint8"), Affine(10, 0, 0, 0, -10, 0), CRS.from_epsg(32631),
                      32.0, 32.0, False, RGBN_ASSETS)
    img = np.asarray(Image.open(io.BytesIO(quicklook_jpeg(chip)))).astype(int)
    assert img.shape == (64, 64, 3)
    assert img[10, 10, 0] > 200 and img[10, 40, 0] < 60  # red channel: bright left, dark right
    assert img[56, 56].max() < 40
    assert quicklook_jpeg(chip) == quicklook_jpeg(chip)


def test_percentiles_are_numpys_to_the_last_bit():
    """The quicklook's stretch limits: exactly np.percentile's, ties, tiny and skewed samples included."""
    rng = np.random.default_rng(7)
    for n in (1, 2, 3, 10, 51, 1000, 49152):
        for power in (0.3, 1.0, 4.0):
            values = (rng.random(n) ** power).astype("float32")
            values[: n // 3] = np.round(values[: n // 3], 2)  # repeated values
            for qs in ((2, 98), (0, 100), (37.5, 50, 99.9)):
                assert percentiles(values, qs) == tuple(float(v) for v in np.percentile(values, qs)), (n, power, qs)


@settings(max_examples=300, deadline=None)
@given(hnp.arrays(np.float32, st.integers(1, 400),
                  elements=st.floats(-2.0**100, 2.0**100, width=32, allow_subnormal=False)
                  | st.sampled_from([0.0, -0.0, 0.05, 2e-38, -2e-38])),
       st.data())
def test_order_statistics_are_the_sorted_values(values, data):
    """Any ranks of any finite float32s, ties, signed zeros, the smallest normals and a span of 2^101 included."""
    ranks = np.asarray(data.draw(st.lists(st.integers(0, values.size - 1), min_size=1, max_size=6)), dtype=np.intp)
    assert order_statistics(values, ranks).tolist() == np.sort(values)[ranks].tolist()


def test_quicklook_is_the_baseline_jpeg_pil_writes_at_quality_90():
    """imagecodecs' libjpeg-turbo encoder writes what PIL's did: the format and its bytes unchanged."""
    rng = np.random.default_rng(0)
    refl = (0.02 + 0.3 * rng.random((4, 96, 96))).astype("float32")
    refl[:, :10] = np.nan
    chip = ChipArrays(refl, np.full((96, 96), 6, "uint8"), Affine(10, 0, 0, 0, -10, 0), CRS.from_epsg(32631),
                      48.0, 48.0, True, RGBN_ASSETS)
    pixels = quicklook_rgb(chip)
    assert pixels.shape == (96, 96, 3) and pixels.dtype == np.uint8 and not pixels[:10].any()
    buf = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buf, format="JPEG", quality=90, optimize=False)
    assert quicklook_jpeg(chip) == buf.getvalue()
