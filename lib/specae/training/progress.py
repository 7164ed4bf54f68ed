"""How far a run has got: steps and epochs done, one record per finished epoch, and the loss terms
summed over the epoch under way (all of it checkpointed, so a resumed run continues where it stopped)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class EpochRecord:
    """One finished epoch (stored in ``TrainResult.history`` and checkpoints as a plain dict, :meth:`as_dict`).

    epoch: epochs done (from 1); step: optimisation steps done in all; beta: the KL weight of the epoch's
    last step, also the one its evaluations use.
    train_loss, train_reconstruction, train_kl: means over the epoch's steps of the training loss terms
    (masked L1; KL(q(z|x) ‖ N(0, I)); total = reconstruction + β·KL with each step's own β).
    train_eval_reconstruction: masked L1 of the deterministic pass (z = μ) over a fixed subset of training
    spectra as large as the validation set, measured like the validation error.
    validation_loss, validation_reconstruction, validation_kl: the deterministic pass over the validation
    spectra (a fixed subset of at most ``TrainOptions.eval_spectra``), pixel-weighted.
    seconds: wall time of the epoch, evaluations included.
    """

    epoch: int
    step: int
    beta: float
    train_loss: float
    train_reconstruction: float
    train_kl: float
    train_eval_reconstruction: float
    validation_loss: float
    validation_reconstruction: float
    validation_kl: float
    seconds: float

    def as_dict(self) -> dict:
        """The record as a plain dict, keyed by field name in field order."""
        return dataclasses.asdict(self)


@dataclass
class LossSums:
    """Training loss terms summed over the steps of the epoch under way (float64, added in step order).

    Checkpoints store them as ``epoch_sums``, the list [total, reconstruction, kl] (:meth:`as_list`).
    """

    total: float = 0.0
    reconstruction: float = 0.0
    kl: float = 0.0

    def add(self, total: float, reconstruction: float, kl: float) -> None:
        """Add one step's terms (already summed over ranks)."""
        self.total += total
        self.reconstruction += reconstruction
        self.kl += kl

    def as_list(self) -> list[float]:
        """[total, reconstruction, kl], as checkpoints store them."""
        return [self.total, self.reconstruction, self.kl]

    @classmethod
    def from_list(cls, values: Sequence[float]) -> LossSums:
        """Inverse of :meth:`as_list`."""
        total, reconstruction, kl = (float(value) for value in values)
        return cls(total=total, reconstruction=reconstruction, kl=kl)


@dataclass
class Progress:
    """Where a run stands: ``epoch`` epochs finished, ``step`` steps done in all (possibly inside the next
    epoch), the records of the finished epochs as plain dicts, and the sums of the epoch under way."""

    epoch: int = 0
    step: int = 0
    history: list[dict] = field(default_factory=list)
    sums: LossSums = field(default_factory=LossSums)

    def finish_epoch(self, record: EpochRecord) -> None:
        """Append the record of the epoch just finished and start the next one's sums from zero."""
        self.epoch = record.epoch
        self.history.append(record.as_dict())
        self.sums = LossSums()
