"""Chips shared among workers along block boundaries: every chip once, few blocks read twice."""

import numpy as np

from shipchips_core.chips.slicing import _block_spans, _blocks, split_chips

BLOCK, SIZE = 1024, 256


def _touched(rows, cols, idx):
    return _blocks(_block_spans(rows[idx], cols[idx], SIZE, BLOCK))


def test_two_separate_clusters_go_to_two_workers_sharing_no_block():
    rng = np.random.default_rng(1)
    rows = np.concatenate([rng.uniform(300, 700, 60), rng.uniform(5300, 5700, 40)])
    cols = np.concatenate([rng.uniform(2300, 2700, 60), rng.uniform(300, 700, 40)])
    parts = split_chips(rows, cols, 2, SIZE, BLOCK)
    assert sorted(np.concatenate(parts).tolist()) == list(range(100))
    assert sorted(len(p) for p in parts) == [40, 60]
    assert not _touched(rows, cols, parts[0]) & _touched(rows, cols, parts[1])


def test_a_lane_is_cut_where_it_crosses_a_block_boundary_and_halves_stay_balanced():
    cols = np.linspace(100, 10_800, 500)  # an east-west lane along block row 2
    rows = np.full(500, 2500.0)
    parts = split_chips(rows, cols, 2, SIZE, BLOCK)
    assert abs(len(parts[0]) - len(parts[1])) < 60
    shared = _touched(rows, cols, parts[0]) & _touched(rows, cols, parts[1])
    assert len(shared) <= 2  # the two blocks either side of the cut line, reached by chips straddling it


def test_parts_are_in_block_order_and_the_split_is_deterministic():
    rng = np.random.default_rng(2)
    rows, cols = rng.uniform(0, 10_980, 300), rng.uniform(0, 10_980, 300)
    parts = split_chips(rows, cols, 3, SIZE, BLOCK)
    assert [p.tolist() for p in parts] == [p.tolist() for p in split_chips(rows, cols, 3, SIZE, BLOCK)]
    assert sorted(np.concatenate(parts).tolist()) == list(range(300))
    for part in parts:
        keys = list(zip(rows[part] // BLOCK, cols[part] // BLOCK))
        assert keys == sorted(keys)


def test_more_workers_than_chips_leaves_the_extra_parts_empty():
    parts = split_chips(np.array([10.0]), np.array([10.0]), 3, SIZE, BLOCK)
    assert [len(p) for p in parts] == [1, 0, 0]


def test_a_cut_crossing_fewer_lanes_wins_over_a_slightly_better_balance():
    # two north-south lanes (cols ~1500 and ~4500) and a short east-west one along block row 2
    rng = np.random.default_rng(3)
    ns = np.concatenate([rng.uniform(100, 9000, 200), rng.uniform(100, 9000, 200)])
    rows = np.concatenate([ns, np.full(60, 2500.0)])
    cols = np.concatenate([np.full(200, 1500.0), np.full(200, 4500.0), rng.uniform(1500, 4500, 60)])
    parts = split_chips(rows, cols, 2, SIZE, BLOCK)
    shared = _touched(rows, cols, parts[0]) & _touched(rows, cols, parts[1])
    assert len(shared) <= 2  # a vertical cut between the lanes crosses only the short lane
    assert len(parts[0]) >= len(parts[1])  # the largest part first
