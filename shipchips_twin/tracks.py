"""A vessel's path: a timed polyline in UTM metres, exact at any instant, and the dog-leg manoeuvre
some vessels fly near the overpass (the case interpolation between AIS fixes must still get right)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

KNOT_MS = 1852.0 / 3600.0


@dataclass(frozen=True)
class Track:
    """Piecewise-linear motion: waypoint times (epoch seconds) and UTM positions."""

    times: tuple[float, ...]
    xs: tuple[float, ...]
    ys: tuple[float, ...]

    def position(self, t: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """UTM (x, y) at epoch seconds `t` (vectorised); held constant outside the waypoints."""
        t = np.asarray(t, dtype="float64")
        if len(self.times) == 1:
            return np.full_like(t, self.xs[0]), np.full_like(t, self.ys[0])
        return np.interp(t, self.times, self.xs), np.interp(t, self.times, self.ys)

    def velocity(self, t: float) -> tuple[float, float]:
        """(vx, vy) in m/s of the segment in force at `t`."""
        if len(self.times) == 1:
            return 0.0, 0.0
        i = int(np.clip(np.searchsorted(self.times, t, side="right") - 1, 0, len(self.times) - 2))
        dt = self.times[i + 1] - self.times[i]
        return (self.xs[i + 1] - self.xs[i]) / dt, (self.ys[i + 1] - self.ys[i]) / dt

    def sog_cog(self, t: float) -> tuple[float, float]:
        """Speed over ground (knots) and course over ground (degrees from north, clockwise)."""
        vx, vy = self.velocity(t)
        speed = math.hypot(vx, vy)
        cog = (math.degrees(math.atan2(vx, vy)) + 360.0) % 360.0 if speed > 0 else 0.0
        return speed / KNOT_MS, cog


TURN_RADIUS_M = 3_000.0
ARC_SEGMENTS = 8


def dog_leg_track(p_ref, u, speed, t_ref, span, rng) -> Track:
    """Straight, then a gentle turn away from the lane, a leg, a turn back and on at a new speed.

    The manoeuvre starts up to 15 minutes before the reference instant, so it is often under way
    when Sentinel-2 passes: the case linear interpolation between fixes must still get right.
    """
    (px, py), (ux, uy) = p_ref, u
    nx, ny = -uy, ux  # left of the lane direction
    theta = np.radians(rng.uniform(15, 35)) * rng.choice([-1, 1])
    leg_m, new_speed = rng.uniform(800, 2_000), speed * rng.uniform(0.6, 1.3)
    t_m = t_ref + rng.uniform(-900, 300)
    x, y, t = px + ux * speed * (t_m - t_ref), py + uy * speed * (t_m - t_ref), t_m
    times, xs, ys = [t_ref - span, t], [x - ux * speed * (t - t_ref + span), x], [y - uy * speed * (t - t_ref + span), y]

    def go(heading: float, length: float, v: float) -> None:
        nonlocal x, y, t
        x += length * (ux * np.cos(heading) + nx * np.sin(heading))
        y += length * (uy * np.cos(heading) + ny * np.sin(heading))
        t += length / v
        times.append(t), xs.append(x), ys.append(y)

    ds = TURN_RADIUS_M * abs(theta) / ARC_SEGMENTS
    for k in range(ARC_SEGMENTS):
        go(theta * (k + 0.5) / ARC_SEGMENTS, ds, speed)
    go(theta, leg_m, (speed + new_speed) / 2)
    for k in range(ARC_SEGMENTS):
        go(theta * (1 - (k + 0.5) / ARC_SEGMENTS), ds, new_speed)
    go(0.0, new_speed * (t_ref + span - t), new_speed)
    return Track(times=tuple(times), xs=tuple(xs), ys=tuple(ys))
