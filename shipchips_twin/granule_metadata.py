"""The granule's MTD_TL.xml, as Earth Search serves it (`granule_metadata` asset): the tile geocoding and,
per band and detector, the viewing angles on the 5 km grid, which say which detector saw where."""

from __future__ import annotations

import numpy as np

from shipchips_twin import msi
from shipchips_twin.world import Acquisition

ANGLE_STEP_M = 5_000.0  # MTD_TL's angle grids: 5 km steps from the tile's corner, 23 × 23 nodes
ANGLE_NODES = 23
DETECTOR_OVERLAP_M = 500.0  # neighbouring detectors overlap ~100 px (1 km) at their boundaries, as real ones do
GRID_BANDS = {"B02": 1, "B03": 2, "B04": 3, "B08": 7, "B11": 11, "B12": 12}  # MTD_TL bandId counts from B01 = 0


def granule_metadata_xml(acq: Acquisition) -> str:
    """The parts of an L2A MTD_TL.xml that say which detector saw where: tile geocoding and, per band
    and detector, the viewing zenith/azimuth on the 5 km grid, NaN outside the detector's stripe."""
    track, west, north = acq.track, acq.origin_x, acq.origin_y
    xs = west + np.arange(ANGLE_NODES) * ANGLE_STEP_M
    ys = north - np.arange(ANGLE_NODES) * ANGLE_STEP_M
    gx, gy = np.meshgrid(xs, ys)
    cross = track.cross_m(gx, gy)
    zenith = np.degrees(np.arctan(np.abs(cross) / msi.ALTITUDE_M))
    azimuth = np.where(cross > 0, (np.degrees(np.arctan2(track.north, -track.east)) + 180) % 360,
                       np.degrees(np.arctan2(track.north, -track.east)) % 360)
    width = msi.SWATH_M / msi.N_DETECTORS
    grids = []
    for det in range(1, msi.N_DETECTORS + 1):
        lo = -msi.SWATH_M / 2 + (det - 1) * width - DETECTOR_OVERLAP_M
        inside = (cross >= lo) & (cross < lo + width + 2 * DETECTOR_OVERLAP_M)
        if not inside.any():
            continue
        for band_id in GRID_BANDS.values():
            grids.append(f'<Viewing_Incidence_Angles_Grids bandId="{band_id}" detectorId="{det}">'
                         f"{_angle_grid('Zenith', np.where(inside, zenith, np.nan))}"
                         f"{_angle_grid('Azimuth', np.where(inside, azimuth, np.nan))}</Viewing_Incidence_Angles_Grids>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<n1:Level-2A_Tile_ID xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/S2_PDI_Level-2A_Tile_Metadata.xsd">'
            f"<n1:General_Info><SENSING_TIME metadataLevel=\"Standard\">{acq.sensing_time.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}</SENSING_TIME></n1:General_Info>"
            '<n1:Geometric_Info><Tile_Geocoding metadataLevel="Brief"><HORIZONTAL_CS_CODE>EPSG:32631</HORIZONTAL_CS_CODE>'
            f'<Size resolution="10"><NROWS>{acq.size_px}</NROWS><NCOLS>{acq.size_px}</NCOLS></Size>'
            f'<Geoposition resolution="10"><ULX>{west:.0f}</ULX><ULY>{north:.0f}</ULY><XDIM>10</XDIM><YDIM>-10</YDIM></Geoposition>'
            f'</Tile_Geocoding><Tile_Angles metadataLevel="Standard">{"".join(grids)}</Tile_Angles></n1:Geometric_Info>'
            "</n1:Level-2A_Tile_ID>\n")


def _angle_grid(name: str, values: np.ndarray) -> str:
    rows = "".join("<VALUES>" + " ".join("NaN" if np.isnan(v) else f"{v:.4f}" for v in row) + "</VALUES>" for row in values)
    return (f'<{name}><COL_STEP unit="m">{ANGLE_STEP_M:.0f}</COL_STEP><ROW_STEP unit="m">{ANGLE_STEP_M:.0f}</ROW_STEP>'
            f"<Values_List>{rows}</Values_List></{name}>")
