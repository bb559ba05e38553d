"""What the bands of an Earth Search Sentinel-2 L2A item are: the one vocabulary of the project.

Asset keys are Earth Search v1's; band names and centre wavelengths are ESA's MSI figures as Earth Search
publishes them in `eo:bands` (µm, rounded as published); SCL classes per the L2A product specification
(SPEC-NOTES §3). Everything that names a band, a stack or an SCL class imports it from here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Band:
    asset: str  # Earth Search asset key
    name: str  # MSI band name
    wavelength_um: float  # centre wavelength
    gsd_m: int  # native ground sampling distance


BANDS = {
    b.asset: b
    for b in (
        Band("blue", "B02", 0.49, 10),
        Band("green", "B03", 0.56, 10),
        Band("red", "B04", 0.665, 10),
        Band("nir", "B08", 0.842, 10),
        Band("swir16", "B11", 1.61, 20),
        Band("swir22", "B12", 2.19, 20),
    )
}
BAND_NAMES = {a: b.name for a, b in BANDS.items()}
WAVELENGTHS_UM = {a: b.wavelength_um for a, b in BANDS.items()}

RGBN_ASSETS = ("blue", "green", "red", "nir")
# the assets each band stack (`chips.stack`) reads, in band order
STACK_ASSETS = {
    "rgbn": RGBN_ASSETS,
    "rgbn_swir": (*RGBN_ASSETS, "swir16", "swir22"),
}
SCL_ASSET = "scl"
# the granule's MTD_TL.xml: which detector saw where (`sentinel2/detectors.py`)
GRANULE_METADATA_ASSET = "granule_metadata"
# every asset a scene row keeps the href of: the widest stack, the classification and the granule metadata
SCENE_ASSETS = (*STACK_ASSETS["rgbn_swir"], SCL_ASSET, GRANULE_METADATA_ASSET)

# Scene Classification Layer classes (L2A), and the groups the masks use
SCL_CLASSES = {
    0: "no_data", 1: "saturated_defective", 2: "dark_area", 3: "cloud_shadow", 4: "vegetation",
    5: "bare_soil", 6: "water", 7: "unclassified", 8: "cloud_medium_probability",
    9: "cloud_high_probability", 10: "thin_cirrus", 11: "snow_ice",
}
SCL_NODATA = 0
SCL_SATURATED = 1  # saturated or defective
SCL_CLOUD = (3, 8, 9, 10)
SCL_LAND = (4, 5)
SCL_WATER = (6,)
