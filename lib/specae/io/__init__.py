"""Real spectra: ESO HARPS FITS products, the on-disk spectra store, archive downloads and the real
sample files the test suite and the book use."""

from specae.io.fetch import FetchReport, fetch_products, read_product_ids
from specae.io.fits import HarpsSpectrum, ProductError, read_spectrum, read_truth, write_adp
from specae.io.real_samples import (
    HARPS_ADP_SAMPLE,
    HARPS_S1D_SAMPLE,
    SAMPLE_CCF,
    drs_radial_velocity,
    fetch_samples,
    sample_path,
    samples_dir,
)
from specae.io.store import IngestReport, SpectrumStore, ingest, object_ids

__all__ = ["FetchReport", "HARPS_ADP_SAMPLE", "HARPS_S1D_SAMPLE", "HarpsSpectrum", "IngestReport", "ProductError",
           "SAMPLE_CCF", "SpectrumStore", "drs_radial_velocity", "fetch_products", "fetch_samples", "ingest",
           "object_ids", "read_product_ids", "read_spectrum", "read_truth", "sample_path", "samples_dir", "write_adp"]
