"""Download ESO archive products by id (e.g. ``ADP.2014-09-16T11:04:45.123``), resumable and checksummed.

Each product goes to ``DIR/<id>.fits`` through a ``.part`` file that a rerun continues with an HTTP
Range request; a finished file is checked (it must be FITS, and its FITS CHECKSUM/DATASUM cards, when
present, must verify) and its SHA-256 recorded in ``DIR/SHA256SUMS``, so later runs detect a file
corrupted on disk and fetch it again. Public products need no login; proprietary ones answer 401.
"""

from __future__ import annotations

import os
import re
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from astropy.io import fits
from astropy.utils.exceptions import AstropyUserWarning

from specae._files import atomic_write, sha256_file

ESO_DOWNLOAD_URL = "https://dataportal.eso.org/dataPortal/file/{product_id}"
CHECKSUMS = "SHA256SUMS"
PRODUCT_ID = re.compile(r"^(ADP|HARPS|ESPRESSO)\.\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}$")
_CHUNK_BYTES = 1 << 20


@dataclass
class FetchReport:
    """downloaded / kept (already valid) / failed (id → reason)."""

    downloaded: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def line(self) -> str:
        """The closing line the CLI prints."""
        total = len(self.downloaded) + len(self.kept) + len(self.failed)
        return (f"requested {total} = downloaded {len(self.downloaded)} + kept {len(self.kept)} "
                f"+ failed {len(self.failed)}")


def read_product_ids(path: str | os.PathLike) -> list[str]:
    """Product ids from a text file: one per line, blank lines and ``#`` comments ignored, duplicates dropped."""
    ids = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        if not PRODUCT_ID.match(text):
            raise ValueError(f"{path}:{number}: {text!r} is not an ESO product id like ADP.2014-09-16T11:04:45.123")
        if text not in ids:
            ids.append(text)
    return ids


def fetch_products(ids: list[str], out: str | os.PathLike, url_template: str = ESO_DOWNLOAD_URL,
                   timeout_s: float = 120.0) -> FetchReport:
    """Download every product in ``ids`` into ``out``; failures are reported per id, never raised."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sums = _read_sums(out / CHECKSUMS)
    report = FetchReport()
    for product_id in ids:
        target = out / f"{product_id}.fits"
        if target.exists() and sums.get(target.name) == sha256_file(target):
            report.kept.append(product_id)
            continue
        try:
            _download(url_template.format(product_id=product_id), target, timeout_s)
            _check_fits(target)
        except (OSError, ValueError) as error:
            report.failed[product_id] = f"{type(error).__name__}: {error}"
            continue
        sums[target.name] = sha256_file(target)
        _write_sums(out / CHECKSUMS, sums)
        report.downloaded.append(product_id)
    return report


def _download(url: str, target: Path, timeout_s: float) -> None:
    """Fetch ``url`` into ``target`` via ``target.part``, continuing a partial download when the server allows."""
    part = target.with_name(target.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout_s)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:  # the partial file is already complete
            os.replace(part, target)
            return
        hint = " (proprietary: log in to the ESO archive)" if error.code == 401 else ""
        raise OSError(f"HTTP {error.code} for {url}{hint}") from None
    with response:
        resumed = offset and response.status == 206
        with open(part, "ab" if resumed else "wb") as handle:
            while chunk := response.read(_CHUNK_BYTES):
                handle.write(chunk)
    os.replace(part, target)


def _check_fits(path: Path) -> None:
    """A FITS file (optionally gzipped) whose CHECKSUM/DATASUM cards, if any, verify."""
    with open(path, "rb") as handle:
        magic = handle.read(6)
    if magic[:2] == b"\x1f\x9d":
        raise ValueError(f"{path.name} is Unix-compressed (.Z); decompress it with `uncompress` before reading")
    if magic != b"SIMPLE" and magic[:2] != b"\x1f\x8b":
        path.unlink()
        raise ValueError("the server's answer is not a FITS file (an error page?); nothing was kept")
    with warnings.catch_warnings():
        warnings.simplefilter("error", AstropyUserWarning)  # astropy warns on a checksum mismatch
        try:
            with fits.open(path, checksum=True) as hdus:
                hdus.verify("exception")
        except (AstropyUserWarning, OSError, fits.VerifyError) as error:
            path.unlink()
            raise ValueError(f"corrupt FITS ({error}); it will be fetched again on the next run") from None


def _read_sums(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    return {name: digest for digest, name in (line.split(maxsplit=1) for line in path.read_text().splitlines() if line)}


def _write_sums(path: Path, sums: dict[str, str]) -> None:
    text = "".join(f"{digest}  {name}\n" for name, digest in sorted(sums.items()))
    atomic_write(path, lambda handle: handle.write(text.encode()))

