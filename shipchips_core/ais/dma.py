"""Danish Maritime Authority daily AIS files (http://web.ais.dk/aisdata/, `aisdk-YYYY-MM-DD.csv`/`.zip`).

    # Timestamp,Type of mobile,MMSI,Latitude,Longitude,Navigational status,ROT,SOG,COG,Heading,IMO,Callsign,Name,Ship type,Cargo type,Width,Length,Type of position fixing device,Draught,Destination,ETA,Data source type,A,B,C,D
    18/03/2023 00:00:00,Class A,219000873,56.990910,10.304543,Under way using engine,0.0,0.0,30.2,81,Unknown,OXKC2,VESTKYST,Fishing,,12,45,GPS,3.2,HIRTSHALS,18/03/2023 06:00:00,AIS,21,24,6,6

Times are `dd/mm/YYYY HH:MM:SS` UTC; "Unknown" (and empty) mean not available. Statuses and ship
types are text, mapped to ITU-R M.1371 codes below (matched case- and punctuation-insensitively).
"Type of mobile" other than Class A/B (Base Station, AtoN, SAR Airborne, SART, MOB, Undefined)
has no AIS class and is dropped as `unknown_ais_class` unless its MMSI already says non-ship.
"""

from __future__ import annotations

import pyarrow as pa

from shipchips_core.ais.csv_layout import Layout

# "Navigational status" text → ITU code. "Unknown value" is what the field's default 15 prints as.
NAV_STATUS_CODES = {
    "Under way using engine": 0, "At anchor": 1, "Not under command": 2,
    "Restricted maneuverability": 3, "Restricted manoeuverability": 3, "Restricted manoeuvrability": 3,
    "Constrained by her draught": 4, "Moored": 5, "Aground": 6, "Engaged in fishing": 7,
    "Under way sailing": 8, "Reserved for future amendment [HSC]": 9, "Reserved for future amendment [WIG]": 10,
    "Power-driven vessel towing astern": 11, "Power-driven vessel pushing ahead or towing alongside": 12,
    "Reserved for future use": 13, "AIS-SART": 14, "AIS-SART (active)": 14, "AIS-SART is active": 14,
    "Unknown value": 15, "Undefined": 15,
}
# "Ship type" text → the ITU type code it names, or the first code of its range (Passenger 60-69 → 60).
# "Undefined", "Reserved" and anything unlisted have no code (NA).
SHIP_TYPE_CODES = {
    "WIG": 20, "Fishing": 30, "Towing": 31, "Towing long/wide": 32, "Dredging": 33, "Diving": 34,
    "Military": 35, "Sailing": 36, "Pleasure": 37, "HSC": 40, "Pilot": 50, "SAR": 51, "Tug": 52,
    "Port tender": 53, "Anti-pollution": 54, "Law enforcement": 55, "Spare 1": 56, "Spare 2": 57,
    "Medical": 58, "Not party to conflict": 59, "Passenger": 60, "Cargo": 70, "Tanker": 80, "Other": 90,
}

_F, _S = pa.float64(), pa.string()
DMA = Layout(
    name="dma", source="dma",
    columns={"time": "# Timestamp", "ais_class": "Type of mobile", "mmsi": "MMSI", "lat": "Latitude",
             "lon": "Longitude", "nav_status": "Navigational status", "sog": "SOG", "cog": "COG",
             "heading": "Heading", "imo": "IMO", "call_sign": "Callsign", "ship_name": "Name",
             "ship_type": "Ship type", "beam": "Width", "length": "Length",
             "dim_a": "A", "dim_b": "B", "dim_c": "C", "dim_d": "D"},
    types={"mmsi": pa.int64(), "time": pa.timestamp("s"), "lat": _F, "lon": _F, "sog": _F, "cog": _F,
           "heading": _F, "nav_status": _S, "ais_class": _S, "ship_name": _S, "imo": _S, "call_sign": _S,
           "ship_type": _S, "length": _F, "beam": _F, "dim_a": _F, "dim_b": _F, "dim_c": _F, "dim_d": _F},
    classes={"Class A": "A", "Class B": "B"},
    null_values=("", "Unknown"),
    timestamp_format="%d/%m/%Y %H:%M:%S",
    nav_status_codes=NAV_STATUS_CODES,
    ship_type_codes=SHIP_TYPE_CODES,
)
LAYOUTS = (DMA,)
