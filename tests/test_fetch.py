"""Fetching archive products by id from a local HTTP server on 127.0.0.1: resumable and checksummed."""

import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from astropy.io import fits

from specae.__main__ import main
from specae.io.fetch import CHECKSUMS, fetch_products, read_product_ids
from specae.io.fits import HarpsSpectrum, write_adp

IDS = ["ADP.2014-09-16T11:04:45.123", "ADP.2017-01-02T03:04:05.678"]


class ArchiveHandler(BaseHTTPRequestHandler):
    """Serves ``files`` at /file/<id>, honours ``Range: bytes=N-``, and records each request."""

    files: dict = {}
    requests: list = []

    def do_GET(self):
        product_id = self.path.rsplit("/", 1)[-1]
        requested_range = self.headers.get("Range")
        self.requests.append((product_id, requested_range))
        data = self.files.get(product_id)
        if data is None:
            self.send_error(404)
            return
        start = int(requested_range.removeprefix("bytes=").rstrip("-")) if requested_range else 0
        if start >= len(data):
            self.send_response(416)
            self.end_headers()
            return
        self.send_response(206 if requested_range else 200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        self.wfile.write(data[start:])

    def log_message(self, *args):
        pass


@pytest.fixture
def archive():
    """(url template, handler class) of a local archive serving two small ADP products with FITS checksums."""
    ArchiveHandler.files, ArchiveHandler.requests = {}, []
    for i, product_id in enumerate(IDS):
        wavelength = 5000.0 + 0.01 * np.arange(2000)
        spectrum = HarpsSpectrum(wavelength, np.full(2000, 100.0 + i, np.float32), np.ones(2000, np.float32),
                                 dict(object=f"STAR{i}"))
        buffer = io.BytesIO()
        write_adp(buffer, spectrum)
        buffer.seek(0)
        with fits.open(buffer) as hdus:
            checked = io.BytesIO()
            hdus.writeto(checked, checksum=True)
        ArchiveHandler.files[product_id] = checked.getvalue()
    server = ThreadingHTTPServer(("127.0.0.1", 0), ArchiveHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/file/{{product_id}}", ArchiveHandler
    server.shutdown()
    server.server_close()


def test_fetch_downloads_verifies_and_keeps(archive, tmp_path):
    url, handler = archive
    report = fetch_products(IDS, tmp_path, url_template=url)
    assert report.downloaded == IDS and not report.failed
    for product_id in IDS:
        assert (tmp_path / f"{product_id}.fits").read_bytes() == handler.files[product_id]
    assert len((tmp_path / CHECKSUMS).read_text().splitlines()) == 2
    handler.requests.clear()
    again = fetch_products(IDS, tmp_path, url_template=url)
    assert again.kept == IDS and handler.requests == []  # nothing downloaded twice
    assert again.line() == "requested 2 = downloaded 0 + kept 2 + failed 0"


def test_a_file_corrupted_on_disk_is_fetched_again(archive, tmp_path):
    url, handler = archive
    fetch_products(IDS, tmp_path, url_template=url)
    target = tmp_path / f"{IDS[0]}.fits"
    data = bytearray(target.read_bytes())
    data[-100] ^= 0xFF
    target.write_bytes(bytes(data))
    report = fetch_products(IDS, tmp_path, url_template=url)
    assert report.downloaded == [IDS[0]] and report.kept == [IDS[1]]
    assert target.read_bytes() == handler.files[IDS[0]]


def test_a_partial_download_resumes_with_a_range_request(archive, tmp_path):
    url, handler = archive
    (tmp_path / f"{IDS[0]}.fits.part").write_bytes(handler.files[IDS[0]][:5000])
    report = fetch_products(IDS[:1], tmp_path, url_template=url)
    assert report.downloaded == IDS[:1]
    assert handler.requests == [(IDS[0], "bytes=5000-")]
    assert (tmp_path / f"{IDS[0]}.fits").read_bytes() == handler.files[IDS[0]]


def test_failures_are_reported_per_product_and_nothing_bad_is_kept(archive, tmp_path):
    url, handler = archive
    handler.files["ADP.2020-01-01T00:00:00.000"] = b"<html>maintenance</html>"
    corrupt = bytearray(handler.files[IDS[1]])
    corrupt[-100] ^= 0xFF  # flips a data byte: the DATASUM card no longer verifies
    handler.files[IDS[1]] = bytes(corrupt)
    ids = ["ADP.1999-01-01T00:00:00.000", "ADP.2020-01-01T00:00:00.000", IDS[1]]
    report = fetch_products(ids, tmp_path, url_template=url)
    assert report.downloaded == [] and set(report.failed) == set(ids)
    assert "HTTP 404" in report.failed[ids[0]]
    assert "not a FITS file" in report.failed[ids[1]]
    assert "corrupt FITS" in report.failed[ids[2]]
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_product_id_files_and_the_command(archive, tmp_path, capsys):
    url, _ = archive
    listing = tmp_path / "ids.txt"
    listing.write_text(f"# HARPS sample\n{IDS[0]}\n\n{IDS[1]}  # second\n{IDS[0]}\n")
    assert read_product_ids(listing) == IDS
    assert main(["fetch", "--ids", str(listing), "--out", str(tmp_path / "raw"), "--url-template", url]) == 0
    assert capsys.readouterr().out.strip().endswith("requested 2 = downloaded 2 + kept 0 + failed 0")
    listing.write_text("ADP.2014-09-16\n")
    with pytest.raises(ValueError, match=r"ids.txt:1: 'ADP.2014-09-16' is not an ESO product id"):
        read_product_ids(listing)
