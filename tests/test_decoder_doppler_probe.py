"""The parts of scripts/decoder_doppler_probe.py that its conclusions rest on: the move to the rest frame and
the two initialisations' signal through the decoder."""


import numpy as np
import pytest

from specae.constants import SPEED_OF_LIGHT_KMS


@pytest.fixture(scope="module")
def probe_script(load_script):
    return load_script("decoder_doppler_probe")


def test_rest_frame_puts_a_shifted_line_back_at_its_rest_wavelength(probe_script):
    wavelength = 5_000.0 + 0.04 * np.arange(2_000)  # the study's 0.04 Å pixels
    rest, rv, width = 5_040.0, np.array([-60.0, 35.0]), 0.05  # Å; a narrow line, 1.25 pixels σ
    observed = rest * (1 + rv / SPEED_OF_LIGHT_KMS)
    flux = 1 - 0.5 * np.exp(-0.5 * ((wavelength[None, :] - observed[:, None]) / width) ** 2)
    moved, valid = probe_script.rest_frame(flux, np.ones_like(flux, dtype=bool), wavelength, rv)
    depth = 1 - moved
    centroids = (depth * wavelength).sum(1) / depth.sum(1)
    # Linear interpolation of a line sampled at 1.25 pixels σ moves its centroid by far less than 0.1 pixel.
    np.testing.assert_allclose(centroids, rest, atol=0.004)
    # The source of the first pixels lies below the grid for the negative RV (and of the last for the
    # positive one): 60 km/s at 5,000 Å is 1.0 Å, 25 pixels.
    off = np.rint(5_000.0 * np.abs(rv) / SPEED_OF_LIGHT_KMS / 0.04).astype(int)
    assert not valid[0, : off[0] - 1].any() and valid[0, off[0] + 1 :].all()
    assert not valid[1, -(off[1] - 1) :].any() and valid[1, : -(off[1] + 1)].all()


def test_default_weights_starve_the_decoder_output_and_he_normal_weights_do_not(probe_script):
    default, he = probe_script.signal_through_decoder("default"), probe_script.signal_through_decoder("he")
    # PyTorch's default weights cut a unit-variance signal by ≈ 3 per layer (ten layers: ≈ 3⁻¹⁰ ≈ 2e-5);
    # variance-preserving He weights keep it of order one. Both bounds hold by orders of magnitude.
    assert default[-1] < 1e-3
    assert all(0.3 < value < 3.0 for value in he)
