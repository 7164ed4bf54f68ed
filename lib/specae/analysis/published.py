"""Loaders for the authors' released §6 files, so the paper's latent analysis can be redone here.

* ``encoded_harps_unique_128d_e182_i1500000.npy``: latent means, shape (7007, 128), one row per
  row of the CSV with ``unique_subset == 'Y'`` (one spectrum of each unique object), in file order.
* ``harps_metadata_and_labels.csv``: one row per archive spectrum, indexed by ``dp_id``, with the
  columns of :data:`PUBLISHED_COLUMNS` as released; NaN (an empty field) where unknown.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.io import ascii as astropy_ascii
from astropy.table import Table

from specae.spectra.normalisation import DEFAULT_MEDIAN_THRESHOLD_ADU

PUBLISHED_COLUMNS = (
    "dp_id", "target_name", "target_name_fixed", "fixed_name_count", "median", "unique_subset",
    "spec_type", "spec_type_no", "s_ra", "s_dec", "Teff", "s_Teff", "logg", "s_logg", "[M/H]",
    "e_[M/H]", "Mass", "s_Mass", "radvel", "airmass", "snr", "vsini",
)
TEXT_COLUMNS = ("dp_id", "target_name", "target_name_fixed", "unique_subset", "spec_type")
# Our label name → the CSV column (names already ours, e.g. logg, are listed for completeness).
LABEL_COLUMNS = {
    "teff": "Teff", "logg": "logg", "feh": "[M/H]", "rv": "radvel",
    "airmass": "airmass", "snr": "snr", "vsini": "vsini", "mass": "Mass",
}
# The released checkpoint is "e182_i1500000": 1.5 M iterations of the training run (its file name).
RELEASED_CHECKPOINT_ITERATIONS = 1_500_000


def _float_column(col) -> np.ndarray:
    """A read column as float64 with NaN for missing ('' or masked) entries."""
    data = np.ma.asarray(col)
    out = np.full(len(data), np.nan)
    present = ~np.ma.getmaskarray(data)
    raw = np.asarray(data.data)
    if raw.dtype.kind in "US":
        present &= np.char.strip(raw.astype(str)) != ""
    out[present] = raw[present].astype(np.float64)
    return out


def read_published_labels(csv_path: str | Path) -> Table:
    """All rows of ``harps_metadata_and_labels.csv`` as an astropy Table.

    Numeric columns become float64 with NaN where empty; text columns become str with '' where
    empty. Raises ``ValueError`` if a column of :data:`PUBLISHED_COLUMNS` is missing.
    """
    raw = astropy_ascii.read(str(csv_path), format="csv", guess=False)
    missing = [c for c in PUBLISHED_COLUMNS if c not in raw.colnames]
    if missing:
        raise ValueError(f"{csv_path}: missing columns {missing}; found {raw.colnames}")
    table = Table()
    for name in raw.colnames:
        if name in TEXT_COLUMNS:
            col = np.ma.asarray(raw[name])
            table[name] = np.where(np.ma.getmaskarray(col), "", np.asarray(col.data).astype(str))
        else:
            table[name] = _float_column(raw[name])
    return table


def load_published_latents(npy_path: str | Path, csv_path: str | Path) -> tuple[np.ndarray, Table]:
    """The released latent means and their label rows, aligned.

    Arguments:
        npy_path: ``encoded_harps_unique_128d_e182_i1500000.npy``, shape (7007, 128).
        csv_path: ``harps_metadata_and_labels.csv``.

    Returns:
        ``mu``: float64, shape (n_unique, n_nodes); ``labels``: the CSV rows with
        ``unique_subset == 'Y'`` in file order (row i ↔ ``mu[i]``), with every original column
        plus our label names (``teff``, ``feh``, ``rv``, ``mass``: copies of ``Teff``, ``[M/H]``,
        ``radvel``, ``Mass``; ``logg``, ``airmass``, ``snr``, ``vsini`` keep their names) and a
        bool column ``median_lt_50`` (True = the §6 notebook drops the row as noise-only).
    """
    mu = np.load(npy_path, allow_pickle=False)
    if mu.ndim != 2:
        raise ValueError(f"{npy_path}: expected latent means of shape (n_spectra, n_nodes), got {mu.shape}")
    mu = mu.astype(np.float64)
    table = read_published_labels(csv_path)
    unique = np.char.strip(np.asarray(table["unique_subset"], dtype=str)) == "Y"
    if unique.sum() != mu.shape[0]:
        raise ValueError(
            f"{csv_path} has {unique.sum()} rows with unique_subset == 'Y' but {npy_path} has "
            f"{mu.shape[0]} latent rows; they must match one to one"
        )
    labels = table[unique]
    for ours, theirs in LABEL_COLUMNS.items():
        if ours not in labels.colnames:
            labels[ours] = labels[theirs]
    labels["median_lt_50"] = np.asarray(labels["median"]) < DEFAULT_MEDIAN_THRESHOLD_ADU  # NaN median → False
    return mu, labels


def published_labels(labels: Table, names=tuple(LABEL_COLUMNS)) -> dict[str, np.ndarray]:
    """Our label names → float64 arrays, shape (n,), from a :func:`load_published_latents` table
    (ready for :func:`specae.analysis.mi_table`)."""
    return {name: np.asarray(labels[LABEL_COLUMNS.get(name, name)], dtype=np.float64) for name in names}
