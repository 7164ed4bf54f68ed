"""Read and write ESO HARPS 1-D products: phase-3 ADP spectra and DRS s1d images, with astropy.

ADP (``SCIENCE.SPECTRUM``): an empty primary HDU with the header, and a ``SPECTRUM`` binary table
of one row holding the vector columns WAVE (Å), FLUX and ERR (adu), big-endian. DRS s1d: a 1-D
primary image with λ_i = CRVAL1 + i·CDELT1. Both are air wavelengths in the barycentric frame.
Header values that the analysis uses are carried in :attr:`HarpsSpectrum.meta`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
from astropy.io import fits

from .grid import place_on_grid

SIMULATION_KEY_PREFIX = "HIERARCH SIM "  # private keys for synthetic truth, never standard keywords
_META_KEYWORDS = {  # meta name → header keywords tried in order
    "object": ("OBJECT",),
    "mjd": ("MJD-OBS",),
    "date_obs": ("DATE-OBS",),
    "exptime": ("EXPTIME",),
    "snr": ("SNR", "HIERARCH ESO DRS SPE EXT SN50"),
    "berv": ("HIERARCH ESO DRS BERV",),
    "arcfile": ("ARCFILE",),
    "prog_id": ("PROG_ID", "HIERARCH ESO OBS PROG ID"),
    "instrument": ("INSTRUME",),
    "spec_res": ("SPEC_RES",),
    "gain": ("GAIN", "HIERARCH ESO DRS CCD CONAD"),
    "read_noise": ("DETRON", "HIERARCH ESO DRS CCD SIGDET"),
}


@dataclass
class HarpsSpectrum:
    """One 1-D HARPS spectrum.

    wavelength: (n,) float64 air wavelength in Å (barycentric); flux, error: (n,) float32 in adu
    (error is NaN where the product has none); meta: header values (object, mjd, snr, airmass, berv, …);
    product: "ADP" or "s1d".
    """

    wavelength: np.ndarray
    flux: np.ndarray
    error: np.ndarray
    meta: dict = field(default_factory=dict)
    product: str = "ADP"

    def on_grid(self) -> np.ndarray:
        """(327,680,) float32 flux on the padded analysis grid, matched by wavelength value."""
        return place_on_grid(self.wavelength, self.flux)


def read_spectrum(path: str | os.PathLike) -> HarpsSpectrum:
    """Read a HARPS ADP 1-D product or a DRS s1d, whichever ``path`` holds."""
    with fits.open(path, memmap=False) as hdus:
        header = hdus[0].header
        instrument = str(header.get("INSTRUME", "HARPS")).strip()
        if not instrument.upper().startswith("HARPS"):
            raise ValueError(f"{path} comes from {instrument}; only HARPS 1-D spectra (ADP or DRS s1d) are read")
        if "SPECTRUM" in hdus:
            return _from_adp(hdus, path)
        if hdus[0].data is not None and hdus[0].data.ndim == 1 and "CRVAL1" in header:
            return _from_s1d(hdus[0], path)
        found = ", ".join(f"{hdu.name or i}:{type(hdu).__name__}" for i, hdu in enumerate(hdus))
        raise ValueError(
            f"{path} is neither a HARPS ADP 1-D product (no SPECTRUM table) nor a DRS s1d (no 1-D primary "
            f"image with CRVAL1); it holds {found}. e2ds files need deblazing and order merging first"
        )


def write_adp(path: str | os.PathLike, spectrum: HarpsSpectrum, truth: dict | None = None,
              overwrite: bool = False) -> None:
    """Write ``spectrum`` in the ADP layout (primary header + one-row SPECTRUM table).

    truth: ground-truth labels of a synthetic spectrum, stored under private ``HIERARCH SIM`` keys.
    """
    n = spectrum.wavelength.size
    if spectrum.flux.shape != (n,) or spectrum.error.shape != (n,):
        raise ValueError(f"wavelength, flux and error must all have shape ({n},)")
    primary = fits.PrimaryHDU()
    header = primary.header
    header["PRODCATG"] = "SCIENCE.SPECTRUM"
    header["SPECSYS"] = "BARYCENT"
    for name, value in spectrum.meta.items():
        keyword = _META_KEYWORDS.get(name, (None,))[0]
        if name == "airmass":
            header["HIERARCH ESO TEL AIRM START"] = header["HIERARCH ESO TEL AIRM END"] = value
        elif keyword is not None and value is not None:
            header[keyword] = value
    for name, value in (truth or {}).items():
        header[f"{SIMULATION_KEY_PREFIX}{name.upper()}"] = value
    columns = [
        fits.Column(name="WAVE", format=f"{n}D", unit="Angstrom", array=spectrum.wavelength[None, :].astype(">f8")),
        fits.Column(name="FLUX", format=f"{n}E", unit="adu", array=spectrum.flux[None, :].astype(">f4")),
        fits.Column(name="ERR", format=f"{n}E", unit="adu", array=spectrum.error[None, :].astype(">f4")),
    ]
    table = fits.BinTableHDU.from_columns(columns, name="SPECTRUM")
    fits.HDUList([primary, table]).writeto(path, overwrite=overwrite)


def read_truth(path: str | os.PathLike) -> dict:
    """Ground-truth labels written by :func:`write_adp` (lower-case names); empty for real products."""
    header = fits.getheader(path, 0)
    prefix = SIMULATION_KEY_PREFIX.removeprefix("HIERARCH ")
    return {key.removeprefix(prefix).lower(): header[key] for key in header if key.startswith(prefix)}


def _from_adp(hdus: fits.HDUList, path) -> HarpsSpectrum:
    table = hdus["SPECTRUM"].data
    names = {name.strip().upper(): name for name in table.columns.names}
    missing = [name for name in ("WAVE", "FLUX") if name not in names]
    if missing or len(table) != 1:
        raise ValueError(f"{path}: the SPECTRUM table must have one row with WAVE and FLUX columns "
                         f"(missing {missing}, {len(table)} rows)")
    wavelength = _native(table[names["WAVE"]][0], np.float64)
    flux = _native(table[names["FLUX"]][0], np.float32)
    error = _native(table[names["ERR"]][0], np.float32) if "ERR" in names else np.full_like(flux, np.nan)
    return HarpsSpectrum(wavelength, flux, error, _meta(hdus[0].header), product="ADP")


def _from_s1d(hdu: fits.PrimaryHDU, path) -> HarpsSpectrum:
    header = hdu.header
    flux = _native(hdu.data, np.float32)
    pixel = np.arange(flux.size, dtype=np.float64) + 1 - header.get("CRPIX1", 1.0)
    wavelength = header["CRVAL1"] + header["CDELT1"] * pixel
    return HarpsSpectrum(wavelength, flux, np.full_like(flux, np.nan), _meta(header), product="s1d")


def _meta(header: fits.Header) -> dict:
    meta = {}
    for name, keywords in _META_KEYWORDS.items():
        meta[name] = next((header[k] for k in keywords if k in header), None)
    start, end = header.get("HIERARCH ESO TEL AIRM START"), header.get("HIERARCH ESO TEL AIRM END")
    meta["airmass"] = (start + end) / 2 if start is not None and end is not None else header.get("AIRMASS")
    if isinstance(meta["object"], str):
        meta["object"] = meta["object"].strip()
    return meta


def _native(values, dtype) -> np.ndarray:
    """A native-byte-order copy (FITS data are big-endian; torch needs native)."""
    return np.ascontiguousarray(values, dtype=np.dtype(dtype).newbyteorder("="))
