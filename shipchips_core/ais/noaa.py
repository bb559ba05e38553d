"""NOAA MarineCadastre daily AIS files (https://hub.marinecadastre.gov): two header generations.

2015–2024 `AIS_YYYY_MM_DD.zip` (one CSV inside) or `.csv`:
    MMSI,BaseDateTime,LAT,LON,SOG,COG,Heading,VesselName,IMO,CallSign,VesselType,Status,Length,Width,Draft,Cargo,TransceiverClass
    367596940,2022-06-20T00:00:04,29.31278,-94.79286,0.0,222.3,511.0,SEA STAR,IMO9869693,WDH3843,31,0,24,8,3.1,,A
2025+ `ais-YYYY-MM-DD.csv.zst`: the same fields, lowercase and renamed, longitude *before* latitude:
    mmsi,base_date_time,longitude,latitude,sog,cog,heading,vessel_name,imo,call_sign,vessel_type,status,length,width,draft,cargo,transceiver

Values are ITU codes already (Status, VesselType; heading 511 etc. kept for cleaning to null); IMO
comes as `IMO9869693`. NOAA gives the overall Length/Width only, so dim_a..d stay NA and the size
goes to length_m / beam_m. Integer fields are read as floats: some years write `70.0`.
"""

from __future__ import annotations

import pyarrow as pa

from shipchips_core.ais.csv_layout import Layout

_F, _S = pa.float64(), pa.string()
_TYPES = {
    "mmsi": pa.int64(), "time": pa.timestamp("s"), "lat": _F, "lon": _F, "sog": _F, "cog": _F, "heading": _F,
    "nav_status": _F, "ais_class": _S, "ship_name": _S, "imo": _S, "call_sign": _S, "ship_type": _F,
    "length": _F, "beam": _F,
}
CLASSES = {"A": "A", "B": "B"}

NOAA_2015 = Layout(
    name="noaa-2015", source="noaa", types=_TYPES, classes=CLASSES,
    columns={"mmsi": "MMSI", "time": "BaseDateTime", "lat": "LAT", "lon": "LON", "sog": "SOG", "cog": "COG",
             "heading": "Heading", "nav_status": "Status", "ais_class": "TransceiverClass", "ship_name": "VesselName",
             "imo": "IMO", "call_sign": "CallSign", "ship_type": "VesselType", "length": "Length", "beam": "Width"},
)
NOAA_2025 = Layout(
    name="noaa-2025", source="noaa", types=_TYPES, classes=CLASSES,
    columns={"mmsi": "mmsi", "time": "base_date_time", "lat": "latitude", "lon": "longitude", "sog": "sog",
             "cog": "cog", "heading": "heading", "nav_status": "status", "ais_class": "transceiver",
             "ship_name": "vessel_name", "imo": "imo", "call_sign": "call_sign", "ship_type": "vessel_type",
             "length": "length", "beam": "width"},
)
LAYOUTS = (NOAA_2015, NOAA_2025)
