"""Real spectra: ESO HARPS FITS products, the on-disk spectra store, archive downloads and the real
sample files the test suite and the book use."""

from specae.io.fetch import FetchReport, fetch_products, read_product_ids
from specae.io.fits import HarpsSpectrum, ProductError, read_spectrum, read_truth, write_adp
from specae.io.store import IngestReport, SpectrumStore, ingest

__all__ = ["FetchReport", "HarpsSpectrum", "IngestReport", "ProductError", "SpectrumStore", "fetch_products",
           "ingest", "read_product_ids", "read_spectrum", "read_truth", "write_adp"]
