"""Normalised spectra held in memory with their labels: what training and the analysis read."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from astropy.table import Table


@dataclass
class SpectraSet:
    """Normalised spectra and their metadata.

    flux: (n_spectra, n_pix) float32 normalised flux; mask: (n_spectra, n_pix) bool valid pixels.
    degenerate: (n_spectra,) bool, spectra whose median failed the threshold (flux and mask all zero).
    labels: astropy Table, one row per spectrum (true factors for synthetic data).
    """

    flux: torch.Tensor
    mask: torch.Tensor
    degenerate: np.ndarray
    labels: Table

    def __len__(self) -> int:
        return self.flux.shape[0]

    @property
    def object_ids(self) -> np.ndarray:
        """(n_spectra,) object identifier of each spectrum."""
        return np.asarray(self.labels["object_id"])

    @property
    def n_pixels(self) -> int:
        return self.flux.shape[1]

    def batch(self, indices: np.ndarray, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """(batch, 1, L) normalised flux and (batch, L) mask of spectra ``indices`` on ``device``."""
        index = torch.as_tensor(indices, dtype=torch.long)
        return self.flux[index].unsqueeze(1).to(device), self.mask[index].to(device)
