"""numpy's floating-point predictor writes libtiff's bytes (imagecodecs' floatpred_encode is libtiff's)."""

import imagecodecs
import numpy as np
import pytest

from shipchips_core.chips.float_predictor import FloatPredictor


def _tile(shape, seed=3):
    rng = np.random.default_rng(seed)
    tile = (rng.random(shape, dtype=np.float32) * 0.6 - 0.1).astype(np.float32)
    tile.reshape(-1)[::97] = np.nan  # nodata
    tile.reshape(-1)[5::101] = np.float32(-0.0)
    tile.reshape(-1)[7::103] = np.float32(1e-30)  # tiny and
    tile.reshape(-1)[9::107] = np.float32(3e38)  # huge exponents
    return tile


@pytest.mark.parametrize("shape", [(256, 256, 4), (256, 256, 1), (16, 8, 3), (1, 1, 2)])
def test_bytes_equal_libtiffs(shape):
    tile = _tile(shape)
    predictor = FloatPredictor(shape)
    expected = np.asarray(imagecodecs.floatpred_encode(tile, axis=-2)).tobytes()
    assert predictor.encode(tile).tobytes() == expected
    other = _tile(shape, seed=4)  # the reused buffers carry nothing over to the next tile
    assert predictor.encode(other).tobytes() == np.asarray(imagecodecs.floatpred_encode(other, axis=-2)).tobytes()


def test_decodes_back_to_the_pixels():
    tile = _tile((32, 32, 4))
    encoded = FloatPredictor(tile.shape).encode(tile).view(np.float32).reshape(tile.shape)
    decoded = imagecodecs.floatpred_decode(encoded.copy(), axis=-2)
    np.testing.assert_array_equal(decoded.view(np.uint32), tile.view(np.uint32))  # NaN and -0.0 bit for bit


def test_other_layouts_are_refused():
    assert not FloatPredictor.handles(np.dtype("float64")) and not FloatPredictor.handles(np.dtype(">f4"))
    with pytest.raises(ValueError):
        FloatPredictor((4, 4, 1)).encode(np.zeros((4, 4, 2), np.float32))
    with pytest.raises(ValueError):
        FloatPredictor((4, 4, 1)).encode(np.zeros((4, 8, 1), np.float32)[:, ::2])  # not contiguous
