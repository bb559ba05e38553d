"""Detector parity from a granule's MTD_TL.xml viewing-angle grids."""

import numpy as np
import pytest

from shipchips_core.sentinel2 import detectors
from shipchips_twin.granule_metadata import granule_metadata_xml
from shipchips_twin.world import World, WorldSpec


def _grid(band_id: int, det: int, rows: list[str]) -> str:
    values = "".join(f"<VALUES>{r}</VALUES>" for r in rows)
    return (f'<Viewing_Incidence_Angles_Grids bandId="{band_id}" detectorId="{det}"><Zenith>'
            f'<COL_STEP unit="m">5000</COL_STEP><ROW_STEP unit="m">5000</ROW_STEP><Values_List>{values}</Values_List>'
            "</Zenith></Viewing_Incidence_Angles_Grids>")


# a 3 × 4 grid from (500000, 5800000): detector 3 sees the two western columns, 4 the two eastern,
# both the middle node of the top row (their overlap); B03's grids (bandId 2) say the opposite and are ignored
MTD = ('<n1:Level-2A_Tile_ID xmlns:n1="x"><n1:Geometric_Info><Tile_Geocoding><Geoposition resolution="10">'
       "<ULX>500000</ULX><ULY>5800000</ULY></Geoposition></Tile_Geocoding><Tile_Angles>"
       + _grid(1, 3, ["4.1 4.2 4.3 NaN", "4.1 4.2 NaN NaN", "4.1 4.2 NaN NaN"])
       + _grid(1, 4, ["NaN NaN 4.4 4.5", "NaN NaN 4.4 4.5", "NaN NaN 4.4 4.5"])
       + _grid(2, 3, ["NaN NaN NaN NaN"] * 3)
       + "</Tile_Angles></n1:Geometric_Info></n1:Level-2A_Tile_ID>").encode()


def test_parity_where_one_parity_alone_sees_the_cell():
    m = detectors.parse(MTD)
    x = np.array([502_500.0, 512_500.0, 507_500.0, 507_500.0, 490_000.0])
    y = np.array([5_792_500.0, 5_792_500.0, 5_792_500.0, 5_797_500.0, 5_795_000.0])
    # west cell: detector 3 (odd); east cell: 4 (even); the cell between them holds both; outside: none
    assert m.parity(x, y).tolist() == [1, -1, 0, 0, 0]


def test_bad_metadata_names_its_source():
    with pytest.raises(ValueError, match="granule.xml: not XML"):
        detectors.parse(b"<oops", "granule.xml")
    without_b02 = MTD.replace(b'bandId="1"', b'bandId="5"')
    with pytest.raises(ValueError, match=r"granule.xml: no Viewing_Incidence_Angles_Grids for B02"):
        detectors.parse(without_b02, "granule.xml")


def test_a_known_parity_from_the_twins_metadata_is_never_wrong():
    world = World(WorldSpec(granule_px=512))
    for acq in world.acquisitions:
        m = detectors.parse(granule_metadata_xml(acq).encode())
        west, south, east, north = acq.bounds
        xs, ys = np.meshgrid(np.linspace(west, east, 60), np.linspace(south, north, 60))
        got = m.parity(xs.ravel(), ys.ravel())
        truth = np.where(acq.track.detector(xs.ravel(), ys.ravel()) % 2 == 1, 1, -1)
        assert (got[got != 0] == truth[got != 0]).all()
        assert (got != 0).mean() > 0.5
