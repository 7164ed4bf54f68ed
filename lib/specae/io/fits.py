"""Read and write ESO HARPS 1-D products: phase-3 ADP spectra and DRS s1d images, with astropy.

ADP (``SCIENCE.SPECTRUM``): an empty primary HDU with the header, and a ``SPECTRUM`` binary table
of one row holding the vector columns WAVE (Å), FLUX and ERR (adu), big-endian. DRS s1d: a 1-D
primary image with λ_i = CRVAL1 + i·CDELT1. Both are air wavelengths in the barycentric frame.
Header values that the analysis uses are carried in :attr:`HarpsSpectrum.meta`.
"""

from __future__ import annotations

import gzip
import io
import os
import warnings
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np
from astropy.io import fits

from specae.spectra.grid import PIXEL_STEP_ANGSTROM, WAVELENGTH_MAX_ANGSTROM, WAVELENGTH_MIN_ANGSTROM, place_on_grid

FITS_MAGIC = b"SIMPLE  ="  # every FITS file starts with this card
GZIP_MAGIC = b"\x1f\x8b"
FITS_BLOCK_BYTES = 2880  # FITS headers and data fill whole blocks
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

    def pixels_in_window(self) -> int:
        """How many of the product's pixels lie in the analysis window (3785–6910 Å, ± half a pixel)."""
        half = PIXEL_STEP_ANGSTROM / 2
        low, high = WAVELENGTH_MIN_ANGSTROM - half, WAVELENGTH_MAX_ANGSTROM + half
        inside = (self.wavelength >= low) & (self.wavelength <= high)
        return int(inside.sum())


class ProductError(ValueError):
    """A file that is not a usable HARPS 1-D spectrum; ``problem`` is one line: what is wrong and the fix."""

    def __init__(self, path: str | os.PathLike, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path, self.problem = path, problem

    def __reduce__(self):  # picklable, e.g. across worker processes
        return type(self), (self.path, self.problem)


def read_spectrum(path: str | os.PathLike) -> HarpsSpectrum:
    """Read a HARPS ADP 1-D product or a DRS s1d, whichever ``path`` holds.

    Raises :class:`ProductError` for a file that is not FITS, is cut short or damaged, comes from
    another instrument, has another layout, or whose wavelengths do not increase strictly.
    """
    try:
        return _read_spectrum(path)
    except ProductError:
        raise
    except (ValueError, KeyError, IndexError, TypeError, OSError, ImportError, fits.VerifyError) as error:
        lines = str(error).strip().splitlines()
        first_line = lines[0][:160] if lines else ""
        raise ProductError(path, f"the file cannot be read as FITS ({type(error).__name__}: {first_line}); "
                                 "if it was downloaded, download it again") from error


def _read_spectrum(path: str | os.PathLike) -> HarpsSpectrum:
    with _open_fits(path) as hdus:
        header = hdus[0].header
        instrument = str(header.get("INSTRUME", "HARPS")).strip()
        if not instrument.upper().startswith("HARPS"):
            raise ProductError(path, f"the file comes from {instrument}; "
                                     "only HARPS 1-D spectra (ADP or DRS s1d) are read")
        if "SPECTRUM" in hdus:
            spectrum = _from_adp(hdus, path)
        elif hdus[0].data is not None and hdus[0].data.ndim == 1 and "CRVAL1" in header and "CDELT1" in header:
            spectrum = _from_s1d(hdus[0], path)
        else:
            raise ProductError(
                path, "neither a HARPS ADP 1-D product (no SPECTRUM table) nor a DRS s1d (no 1-D image with "
                f"CRVAL1, CDELT1): it holds {_describe(hdus)}; e2ds files need deblazing and order merging"
            )
    _check_wavelengths(spectrum.wavelength, path)
    return spectrum


def write_adp(path: str | os.PathLike | BinaryIO, spectrum: HarpsSpectrum, truth: dict | None = None,
              overwrite: bool = False) -> None:
    """Write ``spectrum`` in the ADP layout (primary header + one-row SPECTRUM table).

    path: a file name or a writable binary file object. truth: ground-truth labels of a synthetic
    spectrum, stored under private ``HIERARCH SIM`` keys.
    """
    content = _adp_bytes(spectrum, truth)
    if hasattr(path, "write"):
        path.write(content)
        return
    try:
        with open(path, "wb" if overwrite else "xb") as handle:
            handle.write(content)
    except FileExistsError:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it") from None


def _adp_bytes(spectrum: HarpsSpectrum, truth: dict | None) -> bytes:
    """The ADP file's bytes: the primary header, the SPECTRUM table header, its one row, the padding.

    The row is the three vectors back to back, big-endian. Building the bytes ourselves gives the file
    astropy writes, ~50× faster: astropy 8 byte-swaps vector columns element by element (~1 s a file).
    """
    n = spectrum.wavelength.size
    if spectrum.flux.shape != (n,) or spectrum.error.shape != (n,):
        raise ValueError(f"wavelength, flux and error must all have shape ({n},)")
    header = fits.PrimaryHDU().header
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
        fits.Column(name="WAVE", format=f"{n}D", unit="Angstrom"),
        fits.Column(name="FLUX", format=f"{n}E", unit="adu"),
        fits.Column(name="ERR", format=f"{n}E", unit="adu"),
    ]
    table_header = fits.BinTableHDU.from_columns(columns, nrows=1, name="SPECTRUM").header
    row = (spectrum.wavelength.astype(">f8").tobytes() + spectrum.flux.astype(">f4").tobytes()
           + spectrum.error.astype(">f4").tobytes())
    return (header.tostring().encode("ascii") + table_header.tostring().encode("ascii") + row
            + bytes(-len(row) % FITS_BLOCK_BYTES))


def read_truth(path: str | os.PathLike) -> dict:
    """Ground-truth labels written by :func:`write_adp` (lower-case names); empty for real products."""
    header = fits.getheader(path, 0)
    prefix = SIMULATION_KEY_PREFIX.removeprefix("HIERARCH ")
    return {key.removeprefix(prefix).lower(): header[key] for key in header if key.startswith(prefix)}


def _open_fits(path) -> fits.HDUList:
    """Open ``path`` with all HDU headers read; ProductError if it is not FITS, was cut short or has a
    header that cannot be parsed (reported here rather than as astropy warnings)."""
    with warnings.catch_warnings():
        for message in _DAMAGE_WARNINGS:
            warnings.filterwarnings("ignore", message=message)
        try:
            hdus = fits.open(path, memmap=False)
        except OSError as error:
            if error.errno is not None:  # missing file, no permission: an I/O problem, not the file's content
                raise
            raise ProductError(path, _not_fits_problem(path, error)) from None
        try:
            hdus.readall()
            _check_headers_parse(hdus, path)
            _check_complete(hdus, path)
        except BaseException:
            hdus.close()
            raise
    return hdus


_DAMAGE_WARNINGS = (  # astropy's warnings for damage that _check_headers_parse or _check_complete report instead
    "File may have been truncated",
    "Error validating header for HDU",
    "An exception occurred matching an HDU header",
    "The HDU will be treated as corrupted",
)


def _not_fits_problem(path, error: OSError) -> str:
    """The reject reason for a file astropy cannot open: empty, not FITS at all, or a FITS file cut short."""
    with open(path, "rb") as handle:
        start = handle.read(len(FITS_MAGIC))
    detail = " ".join(str(error).split())
    if not start:
        return "empty file; download it again"
    if start == FITS_MAGIC:
        return f"truncated or corrupt FITS file ({detail}); download it again"
    if start.startswith(GZIP_MAGIC):
        return f"truncated or corrupt gzip file ({detail}); download it again"
    return "not a FITS file (no SIMPLE card at its start); remove it from the folder or rename it"


def _check_headers_parse(hdus: fits.HDUList, path) -> None:
    """ProductError naming the first HDU whose header astropy could not parse (it keeps it as a bare,
    "corrupted" HDU without file information rather than raising)."""
    for index, hdu in enumerate(hdus):
        if not hasattr(hdu, "fileinfo"):
            raise ProductError(path, f"corrupt FITS file: the header of HDU {index} cannot be parsed "
                                     "(damaged mandatory card); download it again")


def _check_complete(hdus: fits.HDUList, path) -> None:
    """ProductError when the file on disk ends before its last HDU's data, or has a cut-off HDU after it."""
    compression = hdus.fileinfo(0)["file"].compression
    if compression == "gzip":
        size = _gzip_content_size(path)
    elif compression:  # bzip2, zip, …: the size on disk says nothing about the content
        return
    else:
        size = os.path.getsize(path)
    last = hdus.fileinfo(len(hdus) - 1)
    data_end = last["datLoc"] + hdus[-1].size
    if size < data_end:
        raise ProductError(path, f"truncated FITS file: {size:,} of the {data_end:,} bytes its headers announce; "
                                 "download it again")
    extra = size - (last["datLoc"] + last["datSpan"])
    if extra > 0:
        raise ProductError(path, f"truncated or corrupt FITS file: {extra:,} bytes after the last complete HDU; "
                                 "download it again")


def _gzip_content_size(path) -> int:
    """Bytes of a gzip file's content; ProductError when the compressed stream itself is cut short."""
    try:
        with gzip.open(path, "rb") as stream:
            return stream.seek(0, io.SEEK_END)
    except EOFError:
        raise ProductError(path, "truncated gzip file (the compressed stream ends early); download it again") from None


def _from_adp(hdus: fits.HDUList, path) -> HarpsSpectrum:
    hdu = hdus["SPECTRUM"]
    if not isinstance(hdu, fits.BinTableHDU):
        raise ProductError(path, f"the SPECTRUM HDU is a {type(hdu).__name__}, "
                                 "not the binary table of an ADP 1-D product")
    table = hdu.data
    names = {name.strip().upper(): name for name in table.columns.names}
    missing = [name for name in ("WAVE", "FLUX") if name not in names]
    if missing:
        raise ProductError(path, f"the SPECTRUM table has no {' or '.join(missing)} column (it has "
                                 f"{', '.join(table.columns.names) or 'none'}); an ADP 1-D product needs WAVE and FLUX")
    if len(table) != 1:
        raise ProductError(path, f"the SPECTRUM table has {len(table)} rows; an ADP 1-D product has one")
    wavelength = _native(table[names["WAVE"]][0], np.float64)
    flux = _native(table[names["FLUX"]][0], np.float32)
    error = _native(table[names["ERR"]][0], np.float32) if "ERR" in names else np.full_like(flux, np.nan)
    if wavelength.ndim != 1 or flux.shape != wavelength.shape:
        raise ProductError(path, f"WAVE {wavelength.shape} and FLUX {flux.shape} must be vectors of equal length")
    return HarpsSpectrum(wavelength, flux, error, _meta(hdus[0].header), product="ADP")


def _from_s1d(hdu: fits.PrimaryHDU, path) -> HarpsSpectrum:
    header = hdu.header
    flux = _native(hdu.data, np.float32)
    pixel = np.arange(flux.size, dtype=np.float64) + 1 - header.get("CRPIX1", 1.0)
    wavelength = header["CRVAL1"] + header["CDELT1"] * pixel
    return HarpsSpectrum(wavelength, flux, np.full_like(flux, np.nan), _meta(header), product="s1d")


def _check_wavelengths(wavelength: np.ndarray, path) -> None:
    """ProductError unless the wavelengths are finite and strictly increasing."""
    bad = np.count_nonzero(~np.isfinite(wavelength))
    if bad:
        raise ProductError(path, f"{bad} wavelengths are NaN or infinite; the wavelength solution is broken, "
                                 "download or reduce the product again")
    steps = np.diff(wavelength)
    if np.any(steps <= 0):
        i = int(np.argmax(steps <= 0))
        raise ProductError(path, f"wavelengths are not strictly increasing (pixel {i}: {wavelength[i]:.2f} Å, "
                                 f"pixel {i + 1}: {wavelength[i + 1]:.2f} Å); sort the spectrum by wavelength")


def _describe(hdus: fits.HDUList) -> str:
    """'PRIMARY image 72×4096, SPECTRUM table' and the like."""
    parts = []
    for i, hdu in enumerate(hdus):
        name = hdu.name or str(i)
        if isinstance(hdu, (fits.BinTableHDU, fits.TableHDU)):
            parts.append(f"{name} table")
        elif hdu.header.get("NAXIS", 0):
            shape = "×".join(str(hdu.header[f"NAXIS{axis}"]) for axis in range(hdu.header["NAXIS"], 0, -1))
            parts.append(f"{name} image {shape}")
        else:
            parts.append(f"{name} (no data)")
    return ", ".join(parts)


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
