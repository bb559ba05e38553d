"""Start the whole offline twin (STAC API + aisstream websocket) and say how to point config at it."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Iterator

from shipchips_twin.ais_server import AisStreamTwin
from shipchips_twin.scenes import generate_catalog
from shipchips_twin.stac_server import StacApiTwin
from shipchips_twin.world import World

TWIN_API_KEY = "twin-key"


@dataclass(frozen=True)
class TwinEndpoints:
    stac_url: str
    ais_url: str
    ais_start: datetime
    ais_end: datetime

    def env(self) -> dict[str, str]:
        """Environment overrides that point the shipped config at the twin: endpoints only."""
        return {
            "SHIPCHIPS__STAC__URL": self.stac_url,
            "SHIPCHIPS__AIS__URL": self.ais_url,
            "AISSTREAM_API_KEY": TWIN_API_KEY,
        }


def replay_window(day: date, start_hour: float = 9.5, hours: float = 1.5) -> tuple[datetime, datetime]:
    """The slice of `day` the twin replays: AIS around the Sentinel-2 overpass (~10:14 UTC)."""
    start = datetime.combine(day, time(0), timezone.utc) + timedelta(hours=start_hour)
    return start, start + timedelta(hours=hours)


@contextlib.contextmanager
def running_twin(
    world: World, catalog_dir: Path, day: date, *, speedup: float | None = None, close_when_done: bool = True
) -> Iterator[TwinEndpoints]:
    """Generate (or reuse) the twin catalogue, start both servers, stop them on exit."""
    generate_catalog(world, catalog_dir)
    start, end = replay_window(day)
    ais_twin = AisStreamTwin(
        world, start, end, api_key=TWIN_API_KEY, speedup=speedup, close_when_done=close_when_done
    )
    with StacApiTwin(catalog_dir) as stac, ais_twin as ais:
        yield TwinEndpoints(stac_url=stac.url, ais_url=ais.url, ais_start=start, ais_end=end)
