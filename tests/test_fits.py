"""HARPS 1-D FITS products: ADP write → read round-trip, DRS s1d, metadata and foreign files."""

import numpy as np
import pytest
from astropy.io import fits

from specae.io.fits import HarpsSpectrum, read_spectrum, read_truth, write_adp
from specae.spectra.grid import Grid, full_resolution_wavelength
from specae.synth.survey import SyntheticConfig, SyntheticSurvey

META = dict(object="SYN000003", mjd=53921.16, date_obs="2006-07-05T03:52:40.071", exptime=302.0, snr=23.35,
            berv=-8.69, arcfile="SYN.2006-07-05T03:52:40.071.fits", prog_id="000.X-0000(A)", instrument="HARPS",
            spec_res=115000.0, gain=1.4, read_noise=4.9, airmass=1.077)


@pytest.fixture(scope="module")
def synthetic_spectrum():
    survey = SyntheticSurvey(SyntheticConfig(n_objects=4, n_spectra=8, seed=1), Grid(1))
    flux = survey.render([3])[0].numpy()
    wavelength = full_resolution_wavelength()
    return HarpsSpectrum(wavelength, flux, np.full_like(flux, np.nan), dict(META)), survey.labels[3]


def test_adp_write_read_round_trip_is_exact(tmp_path, synthetic_spectrum):
    spectrum, labels = synthetic_spectrum
    truth = {name: float(labels[name]) for name in ("teff", "logg", "feh", "rv", "vsini")}
    path = tmp_path / "ADP.synthetic.fits"
    write_adp(path, spectrum, truth=truth)
    back = read_spectrum(path)
    assert back.product == "ADP"
    assert back.wavelength.dtype == np.float64 and back.flux.dtype == np.float32
    assert back.wavelength.dtype.isnative and back.flux.dtype.isnative
    np.testing.assert_array_equal(back.wavelength, spectrum.wavelength)
    np.testing.assert_array_equal(back.flux, spectrum.flux)
    np.testing.assert_array_equal(back.error, spectrum.error)  # NaN where the product has no errors
    assert back.meta == spectrum.meta
    assert read_truth(path) == truth
    np.testing.assert_array_equal(back.on_grid(), spectrum.flux)
    with fits.open(path) as hdus:  # the ESO layout: one row, vector columns, standard units
        assert hdus["SPECTRUM"].columns["WAVE"].unit == "Angstrom" and len(hdus["SPECTRUM"].data) == 1
        assert "HIERARCH SIM TEFF" in hdus[0].header and "TEFF" not in hdus[0].header


def test_s1d_image_is_read_with_its_linear_wavelength_solution(tmp_path):
    n, start = 313_114, 3781.19
    flux = np.linspace(100.0, 200.0, n).astype(">f4")
    header = fits.Header({"INSTRUME": "HARPS", "OBJECT": "GJ581", "CRVAL1": start, "CDELT1": 0.01, "CRPIX1": 1.0,
                          "HIERARCH ESO DRS BERV": -23.54, "HIERARCH ESO DRS SPE EXT SN50": 40.9})
    path = tmp_path / "HARPS.s1d_A.fits"
    fits.PrimaryHDU(flux, header=header).writeto(path)
    spectrum = read_spectrum(path)
    assert spectrum.product == "s1d" and spectrum.flux.dtype.isnative
    assert spectrum.wavelength[0] == pytest.approx(start)
    assert spectrum.wavelength[-1] == pytest.approx(start + 0.01 * (n - 1))
    assert spectrum.meta["berv"] == -23.54 and spectrum.meta["snr"] == 40.9 and spectrum.meta["object"] == "GJ581"
    placed = spectrum.on_grid()
    assert np.count_nonzero(placed) == 312_501  # every window pixel is kept; the grid mask excludes the CCD gap


def test_foreign_and_unsupported_products_are_refused_with_the_reason(tmp_path):
    espresso = tmp_path / "espresso.fits"
    fits.PrimaryHDU(np.ones(10, dtype="f4"), header=fits.Header({"INSTRUME": "ESPRESSO"})).writeto(espresso)
    with pytest.raises(ValueError, match="comes from ESPRESSO; only HARPS 1-D spectra"):
        read_spectrum(espresso)
    e2ds = tmp_path / "e2ds.fits"
    fits.PrimaryHDU(np.ones((72, 4096), dtype="f4"), header=fits.Header({"INSTRUME": "HARPS"})).writeto(e2ds)
    with pytest.raises(ValueError, match="neither a HARPS ADP 1-D product .* e2ds files need deblazing"):
        read_spectrum(e2ds)


@pytest.mark.parametrize(("start", "count"), [(3_780.0, 312_501), (3_800.0, 311_001)])
def test_pixels_in_window_counts_the_native_pixels_of_3785_to_6910_angstrom(start, count):
    """An ADP product starting near 3781 Å covers the whole window (312,501 pixels of 0.01 Å); one starting
    at 3800 Å misses its first 1,500."""
    wavelength = start + 0.01 * np.arange(int(round((6_915.0 - start) / 0.01)) + 1)
    spectrum = HarpsSpectrum(wavelength, np.ones(wavelength.size, np.float32), np.ones(wavelength.size, np.float32))
    assert spectrum.pixels_in_window() == count
