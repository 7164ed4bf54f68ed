"""Spectra on the analysis grid: the HARPS wavelength grid and its CCD-gap mask, median normalisation,
the in-memory set of normalised spectra, and quality measures that need no model."""

from specae.spectra.grid import Grid, place_on_grid
from specae.spectra.normalisation import NormalisedSpectra, median_normalise, normalised_with_nan
from specae.spectra.quality import der_snr
from specae.spectra.spectra_set import SpectraSet

__all__ = ["Grid", "NormalisedSpectra", "SpectraSet", "der_snr", "median_normalise", "normalised_with_nan",
           "place_on_grid"]
