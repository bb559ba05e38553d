import pandas as pd
import pytest

from shipchips_core.dataset import ids


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
