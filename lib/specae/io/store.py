"""An on-disk spectra store: shards of grid-placed flux read with positioned reads, labels tables and a manifest.

Layout of a store folder::

    manifest.json         format, grid (factor, window's first fine pixel and length), pixels, shards (file,
                          rows, labels file), rejects files
    shard-00000.npy       (rows, n_pixels) float32 raw flux on the analysis grid; rows read with os.preadv
    labels-00000.ecsv     one row per spectrum of a shard: source file, shard, row, index, header metadata
    rejects-00000.ecsv    one row per refused input file of a commit: source file and the reason

``ingest`` reads a folder of FITS files with all cores. Every input ends either in the store or in
the rejects tables, never both and never twice; a product id (ARCFILE) is stored once, later copies
are rejected naming the file that holds it. Each commit writes new files only, then rewrites the
manifest atomically; files that no manifest lists (an interrupted commit) are ignored and overwritten,
so an interrupted ingest resumes where it stopped and the cost of a commit does not grow with the store.
Temporary files a killed ingest left behind are removed when the next one starts (one ingest per store).
"""

from __future__ import annotations

import io
import json
import multiprocessing
import os
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from astropy.table import Table, vstack

from specae._files import atomic_write
from specae.io.fits import ProductError, read_spectrum
from specae.spectra.grid import N_PADDED_PIXELS, Grid
from specae.spectra.normalisation import DEFAULT_MEDIAN_THRESHOLD_ADU, MedianVariant, median_normalise
from specae.spectra.spectra_set import SpectraSet

STORE_FORMAT = 1
MANIFEST = "manifest.json"
_TEXT_COLUMNS = ("object", "date_obs", "arcfile", "prog_id", "product")  # missing → ""
_NUMBER_COLUMNS = ("mjd", "exptime", "snr", "berv", "airmass")  # missing → NaN


@dataclass(frozen=True)
class IngestReport:
    """Counts of one ingest call: seen = stored + rejected (+ skipped, already in the store)."""

    seen: int
    stored: int
    rejected: int
    skipped: int

    def line(self) -> str:
        """The closing line the CLI prints."""
        return (f"seen {self.seen} = stored {self.stored} + rejected {self.rejected}"
                + (f" + already in store {self.skipped}" if self.skipped else ""))


class SpectrumStore:
    """Read access to a store folder: ``len``, ``labels``, ``rejects``, ``flux(indices)``, and ``normalised()``
    (the spectra normalised in memory, as a :class:`~specae.spectra.spectra_set.SpectraSet`).

    ``flux`` reads the requested rows with positioned reads into a fresh array, so a process that
    streams through the whole store keeps only the rows it holds (a memory map would keep every page it
    touched resident, and the resident size would grow with the store).
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        manifest_path = self.path / MANIFEST
        if not manifest_path.exists():
            raise FileNotFoundError(f"{self.path} is not a spectra store (no {MANIFEST}); create one with ingest")
        self.manifest = json.loads(manifest_path.read_text())
        if self.manifest.get("format") != STORE_FORMAT:
            raise ValueError(f"{manifest_path} has format {self.manifest.get('format')}, expected {STORE_FORMAT}")
        self.grid = _manifest_grid(self.manifest)
        self._files = [self.path / shard["file"] for shard in self.manifest["shards"]]
        self._data_starts: dict[int, int] = {}  # shard → byte offset of its first row, read on first use
        self._offsets = np.cumsum([0] + [shard["rows"] for shard in self.manifest["shards"]])

    def __len__(self) -> int:
        return int(self._offsets[-1])

    @property
    def labels(self) -> Table:
        """One row per stored spectrum, in store order."""
        return _read_tables(self.path, [shard["labels"] for shard in self.manifest["shards"]])

    @property
    def rejects(self) -> Table:
        """One row per refused input file, with the reason."""
        return _read_tables(self.path, self.manifest["rejects"])

    def flux(self, indices) -> np.ndarray:
        """(len(indices), n_pixels) float32 raw flux of the given spectra."""
        indices = np.atleast_1d(np.asarray(indices, dtype=np.int64))
        if indices.size and (indices.min() < 0 or indices.max() >= len(self)):
            raise IndexError(f"spectrum indices must lie in [0, {len(self)})")
        shards = np.searchsorted(self._offsets, indices, side="right") - 1
        rows = indices - self._offsets[shards]
        out = np.empty((indices.size, self.grid.n_pixels), dtype=np.float32)
        row_bytes = out.shape[1] * out.itemsize
        for shard in np.unique(shards):
            where = np.flatnonzero(shards == shard)
            start = self._data_start(int(shard))
            descriptor = os.open(self._files[shard], os.O_RDONLY)
            try:
                for i in where[np.argsort(rows[where], kind="stable")]:  # in file order
                    position = start + int(rows[i]) * row_bytes
                    if os.preadv(descriptor, [memoryview(out[i]).cast("B")], position) != row_bytes:
                        raise OSError(f"{self._files[shard]} ends before row {rows[i]}; the store is damaged")
            finally:
                os.close(descriptor)
        return out

    def normalised(self, threshold: float = DEFAULT_MEDIAN_THRESHOLD_ADU, variant: MedianVariant = "valid_pixels",
                   indices=None) -> SpectraSet:
        """Spectra ``indices`` (default: all) median-normalised into memory, with their degenerate flags and
        labels, to which an ``object_id`` column is added (:func:`object_ids`). threshold, variant: as in
        :func:`~specae.spectra.normalisation.median_normalise`. For stores that fit in memory; training
        streams larger ones batch by batch (``specae.training.feeds.StoreSource``)."""
        indices = np.arange(len(self)) if indices is None else np.atleast_1d(np.asarray(indices, dtype=np.int64))
        if indices.size == 0:
            raise ValueError(f"{self.path}: no spectra to normalise; ingest some first")
        normalised = median_normalise(torch.from_numpy(self.flux(indices)), self.grid.mask_tensor(),
                                      threshold=threshold, variant=variant)
        labels = self.labels[indices]
        labels["object_id"] = object_ids(labels)
        return SpectraSet(flux=normalised.flux, mask=normalised.mask, degenerate=normalised.degenerate.numpy(),
                          labels=labels)

    def _data_start(self, shard: int) -> int:
        """Byte offset of row 0 in shard file ``shard``, after checking its dtype and shape."""
        if shard not in self._data_starts:
            with open(self._files[shard], "rb") as handle:
                version = np.lib.format.read_magic(handle)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                shape, fortran_order, dtype = read_header(handle)
                expected = (self.manifest["shards"][shard]["rows"], self.grid.n_pixels)
                if shape != expected or fortran_order or dtype != np.float32:
                    raise ValueError(f"{self._files[shard]} holds {dtype} {shape}, expected float32 {expected}")
                self._data_starts[shard] = handle.tell()
        return self._data_starts[shard]


def object_ids(labels: Table) -> np.ndarray:
    """(n_spectra,) int64 object of each row of a store's labels: 0 … n_objects − 1, in sorted OBJECT name order."""
    _, ids = np.unique(np.asarray(labels["object"], dtype=str), return_inverse=True)
    return ids.astype(np.int64)


def ingest(
    source: str | os.PathLike,
    store: str | os.PathLike,
    grid: Grid | int = 1,
    shard_size: int = 256,
    workers: int | None = None,
    progress: Callable[[Iterable], Iterable] = iter,
) -> IngestReport:
    """Add every FITS file under ``source`` (``.fits``, ``.fits.gz``, ``.fit``, ``.fts``, any case, in subfolders
    too) to ``store`` (created if needed), or reject it with a reason.

    grid: the analysis grid the store holds (an integer is the whole grid averaged by that factor).
    workers: processes reading files (default: all cores). progress: wraps the result stream, e.g. tqdm.
    """
    source, store = Path(source), Path(store)
    if not source.is_dir():
        raise NotADirectoryError(f"{source} is not a folder of FITS files")
    files = sorted(str(p.relative_to(source)) for p in source.rglob("*") if p.is_file() and _is_fits(p))
    grid = _as_grid(grid)
    manifest = _open_manifest(store, grid)
    _remove_interrupted_writes(store)
    labels = _read_tables(store, [shard["labels"] for shard in manifest["shards"]])
    done = set(labels["source"]) | set(_read_tables(store, manifest["rejects"])["source"])
    todo = [name for name in files if name not in done]
    holders = _product_holders(labels)
    pending, stored, rejected = [], [], []
    n_stored = n_rejected = 0
    # "spawn", not fork: a forked child of a process that has run torch's thread pool can deadlock.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count(), mp_context=context) as pool:
        results = pool.map(_load, [str(source / name) for name in todo], [grid] * len(todo), chunksize=4)
        for name, (flux, meta, reason) in progress(zip(todo, results, strict=True)):
            if reason is None:
                reason = _duplicate_reason(meta["arcfile"], holders)
            if reason is not None:
                rejected.append(dict(source=name, reason=reason))
                n_rejected += 1
            else:
                if meta["arcfile"]:
                    holders[meta["arcfile"]] = name
                pending.append(flux)
                stored.append(dict(source=name, **meta))
                n_stored += 1
            if len(pending) == shard_size:
                _commit(store, manifest, pending, stored, rejected)
                pending, stored, rejected = [], [], []
        _commit(store, manifest, pending, stored, rejected)
    return IngestReport(seen=len(files), stored=n_stored, rejected=n_rejected, skipped=len(files) - len(todo))


def add_spectra(store: str | os.PathLike, flux: np.ndarray, rows: list[dict], grid: Grid | int = 1,
                shard_size: int = 256) -> None:
    """Append spectra that are already on the analysis grid, e.g. rendered synthetic ones.

    flux: (n, n_pixels) raw flux (ADU) on ``grid`` (an integer: the whole grid averaged by that factor);
    rows: one label dict per spectrum, each with a ``source`` not yet in the store (what ingest records as
    the file name) and the same keys.
    """
    store = Path(store)
    manifest = _open_manifest(store, _as_grid(grid))
    flux = np.asarray(flux, dtype=np.float32)
    if flux.ndim != 2 or flux.shape[1] != manifest["n_pixels"] or len(rows) != len(flux):
        raise ValueError(f"need flux of shape (n, {manifest['n_pixels']}) and one label row per spectrum; "
                         f"got flux {flux.shape} and {len(rows)} rows")
    sources = [str(row["source"]) for row in rows]
    known = set(_read_tables(store, [shard["labels"] for shard in manifest["shards"]])["source"])
    repeated = sorted((known & set(sources)) | {name for name, n in Counter(sources).items() if n > 1})[:3]
    if repeated:
        raise ValueError(f"sources must be new and unique; {repeated} already stored or repeated")
    _remove_interrupted_writes(store)
    for first in range(0, len(flux), shard_size):
        chunk = slice(first, first + shard_size)
        _commit(store, manifest, list(flux[chunk]), [dict(row) for row in rows[chunk]], [])


def _load(path: str, grid: Grid):
    """Worker: (flux on the grid, metadata, None) or (None, None, reason)."""
    try:
        spectrum = read_spectrum(path)
        flux = spectrum.on_grid()
        if grid != Grid():
            flux = grid.rebin_flux(torch.from_numpy(flux)).numpy()
        values = dict(spectrum.meta, product=spectrum.product)
        meta: dict[str, str | float] = {key: str(values.get(key) or "") for key in _TEXT_COLUMNS}
        meta.update({key: float(values[key]) if values.get(key) is not None else np.nan for key in _NUMBER_COLUMNS})
        return flux, meta, None
    except Exception as error:  # noqa: BLE001 (every input must end stored or rejected with its reason)
        return None, None, _reason(error)


def _reason(error: Exception) -> str:
    """One line for the rejects table, without the path (its source column names the file).

    ValueErrors describe bad input; other exceptions are unexpected, so their type is kept.
    """
    message = error.problem if isinstance(error, ProductError) else str(error)
    if not isinstance(error, ValueError):
        message = f"{type(error).__name__}: {message}"
    return " ".join(message.split())


def _product_holders(labels: Table) -> dict[str, str]:
    """Product id (ARCFILE) → source file, for the stored spectra that have one."""
    if "arcfile" not in labels.colnames:
        return {}
    holders: dict[str, str] = {}
    for source, arcfile in zip(labels["source"], labels["arcfile"], strict=True):
        if arcfile is not np.ma.masked and str(arcfile):
            holders.setdefault(str(arcfile), str(source))
    return holders


def _duplicate_reason(arcfile: str, holders: dict[str, str]) -> str | None:
    """The reject reason when the product id is already stored; None when it is new or empty (synthetic, s1d)."""
    if not arcfile or arcfile not in holders:
        return None
    return f"duplicate product id {arcfile}: already stored from {holders[arcfile]}; remove this copy"


def _commit(store: Path, manifest: dict, fluxes: list, stored: list, rejected: list) -> None:
    """Write one commit's new files (shard, its labels, rejects), then the manifest that makes them count."""
    number = manifest["commits"]
    if fluxes:
        index = len(manifest["shards"])
        first = sum(shard["rows"] for shard in manifest["shards"])
        for row, entry in enumerate(stored):
            entry.update(shard=index, row=row, index=first + row)
        shard_file, labels_file = f"shard-{index:05d}.npy", f"labels-{number:05d}.ecsv"
        shard = dict(file=shard_file, rows=len(fluxes), labels=labels_file)
        atomic_write(store / shard_file, lambda handle: np.save(handle, np.stack(fluxes)))
        _write_table(store / labels_file, Table(rows=stored))
        manifest["shards"].append(shard)
    if rejected:
        name = f"rejects-{number:05d}.ecsv"
        _write_table(store / name, Table(rows=rejected))
        manifest["rejects"].append(name)
    manifest["commits"] = number + 1
    atomic_write(store / MANIFEST, lambda handle: handle.write(json.dumps(manifest, indent=1).encode()))


def _open_manifest(store: Path, grid: Grid) -> dict:
    store.mkdir(parents=True, exist_ok=True)
    path = store / MANIFEST
    if not path.exists():
        return dict(format=STORE_FORMAT, grid_factor=grid.factor, grid_start_pixel=grid.start_pixel,
                    grid_fine_pixels=grid.fine_pixels, n_pixels=grid.n_pixels, shards=[], rejects=[], commits=0)
    manifest = json.loads(path.read_text())
    if _manifest_grid(manifest) != grid:
        raise ValueError(f"{store} holds spectra on the grid ({_manifest_grid(manifest).describe()}), "
                         f"not ({grid.describe()}); write them to another store")
    return manifest


def _as_grid(grid: Grid | int) -> Grid:
    """A grid, or the whole grid averaged by an integer factor."""
    return grid if isinstance(grid, Grid) else Grid(grid)


def _manifest_grid(manifest: dict) -> Grid:
    """The grid a store manifest records (stores written before windows hold the whole grid)."""
    return Grid(manifest["grid_factor"], manifest.get("grid_start_pixel", 0),
                manifest.get("grid_fine_pixels", N_PADDED_PIXELS))


def _remove_interrupted_writes(store: Path) -> None:
    """Delete the temporary files of writes that a killed ingest never finished (see ``atomic_write``)."""
    for leftover in store.glob(".*.tmp"):
        leftover.unlink(missing_ok=True)


def _read_tables(store: Path, names: list[str]) -> Table:
    """The listed ECSV tables stacked in order (an empty table with a ``source`` column if none)."""
    tables = [Table.read(store / name, format="ascii.ecsv") for name in names]
    return vstack(tables) if tables else Table(names=["source"], dtype=[str])


def _write_table(path: Path, table: Table) -> None:
    buffer = io.StringIO()
    table.write(buffer, format="ascii.ecsv")
    atomic_write(path, lambda handle: handle.write(buffer.getvalue().encode()))


def _is_fits(path: Path) -> bool:
    return path.name.lower().endswith((".fits", ".fits.gz", ".fit", ".fts"))
