"""Checkpoints of a training run: written atomically after every epoch (and every ``checkpoint_every``
steps), the one before kept as a fallback, refused when made by another configuration or version.

A checkpoint (format :data:`CHECKPOINT_FORMAT`) is a ``torch.save``'d dict: format, specae_version,
torch_version, preset (``Preset.to_dict()``), config_hash, epoch (finished), step (done in all), history
(one plain dict per finished epoch, see :class:`~specae.training.progress.EpochRecord`), epoch_sums
([total, reconstruction, kl] summed over the epoch under way), model and optimizer (state dicts),
data_summary (n_spectra, n_degenerate, n_train, n_validation) and training_path (``TrainOptions.record()``;
missing in checkpoints from before it, which were trained on the plain path in float32).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch

from specae._files import atomic_write
from specae._version import __version__
from specae.model.autoencoder import SpectrumAutoencoder
from specae.model.factory import build_model
from specae.spectra.spectra_set import SpectraSet
from specae.training import distributed
from specae.training.devices import resolve_device
from specae.training.feeds import BatchSource
from specae.training.presets import Preset
from specae.training.progress import LossSums, Progress
from specae.training.split import Split

CHECKPOINT_NAME = "checkpoint.pt"
PREVIOUS_CHECKPOINT_NAME = "checkpoint.prev.pt"  # the one before, kept in case the latest is damaged
CHECKPOINT_FORMAT = 1


def save(path: Path, preset: Preset, model: SpectrumAutoencoder, optimizer: torch.optim.Optimizer,
         progress: Progress, *, ranks: distributed.Ranks, split: Split, data: SpectraSet | BatchSource,
         training_path: dict) -> None:
    """Rank 0 writes the checkpoint atomically (see specae._files), keeping the one before as checkpoint.prev.pt;
    every rank waits until it is written."""
    if ranks.is_main:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            os.replace(path, path.with_name(PREVIOUS_CHECKPOINT_NAME))
        state = dict(
            format=CHECKPOINT_FORMAT, specae_version=__version__, torch_version=str(torch.__version__),
            preset=preset.to_dict(), config_hash=preset.config_hash(), epoch=progress.epoch, step=progress.step,
            history=progress.history, epoch_sums=progress.sums.as_list(), model=model.state_dict(),
            optimizer=optimizer.state_dict(),
            data_summary=dict(n_spectra=len(data), n_degenerate=int(data.degenerate.sum()),
                              n_train=len(split.train), n_validation=len(split.validation)),
            training_path=training_path,
        )
        atomic_write(path, lambda handle: torch.save(state, handle))
    ranks.barrier()


def exists(out_dir: Path) -> bool:
    """Whether ``out_dir`` holds a checkpoint to resume (the latest or the one before)."""
    return (out_dir / CHECKPOINT_NAME).exists() or (out_dir / PREVIOUS_CHECKPOINT_NAME).exists()


def resume(out_dir: Path, preset: Preset, model: SpectrumAutoencoder, optimizer: torch.optim.Optimizer,
           device: torch.device, training_path: dict) -> Progress:
    """Load the checkpoint in ``out_dir`` (the one before when the latest is unreadable) onto ``device``, into
    ``model`` and ``optimizer``, once checked that ``preset`` (epochs aside), this version and ``training_path``
    made it; return its progress (old checkpoints without ``epoch_sums`` resume with zero sums)."""
    path, state = _latest_readable(out_dir / CHECKPOINT_NAME, out_dir / PREVIOUS_CHECKPOINT_NAME, device)
    _check_compatible(path, state, preset)
    theirs = state.get("training_path", {"path": "plain", "autocast": None})
    if theirs != training_path:
        raise ValueError(f"{path} was trained on the {theirs['path']} path with autocast {theirs['autocast']}, and "
                         f"this run asks for the {training_path['path']} path with autocast "
                         f"{training_path['autocast']}; resume it with TrainOptions.from_record({theirs}) (or "
                         "SPECAE_TRAINING_PATH), or start a new out_dir")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    return Progress(epoch=state["epoch"], step=state["step"], history=state["history"],
                    sums=LossSums.from_list(state.get("epoch_sums", [0.0, 0.0, 0.0])))


def load_checkpoint(path: str | os.PathLike, device: str = "cpu") -> tuple[Preset, SpectrumAutoencoder, dict]:
    """Rebuild the preset and the model (eval mode) from a checkpoint alone; also return its contents."""
    torch_device = resolve_device(device)
    state = torch.load(Path(path), map_location=torch_device, weights_only=True)
    if state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a specae checkpoint of format {CHECKPOINT_FORMAT}")
    _check_version(path, state, "load it with that version, or retrain")
    preset = Preset.from_dict(state["preset"])
    model = build_model(preset.model, preset.data.grid).to(torch_device)
    model.load_state_dict(state["model"])
    model.eval()
    return preset, model, state


def _latest_readable(latest: Path, previous: Path, device: torch.device) -> tuple[Path, dict]:
    """The latest checkpoint and its path, or the one before when the latest is missing or unreadable (with a
    warning)."""
    try:
        return latest, torch.load(latest, map_location=device, weights_only=True)
    except Exception as error:
        if not previous.exists():
            raise ValueError(f"{latest} is unreadable ({type(error).__name__}) and there is no {previous.name} to "
                             "fall back to; delete the folder to start again") from error
        warnings.warn(f"{latest} is unreadable ({type(error).__name__}); resuming from {previous.name}",
                      RuntimeWarning, stacklevel=5)
        return previous, torch.load(previous, map_location=device, weights_only=True)


def _check_compatible(path: Path, state: dict, preset: Preset) -> None:
    """Refuse a checkpoint made with a different configuration (epochs aside) or specae version, or one that
    holds more epochs than ``preset`` asks for."""
    _check_version(path, state, "resume with that version or start a new out_dir")
    ours = preset.to_dict()
    theirs = Preset.from_dict(state["preset"]).with_overrides(epochs=preset.train.epochs).to_dict()
    if ours != theirs:
        differing = sorted(f"{section}.{key}" for section in ("data", "model", "train") for key in ours[section]
                           if ours[section][key] != theirs[section][key])
        values = "; ".join(f"{name}: checkpoint {_field(theirs, name)!r}, requested {_field(ours, name)!r}"
                           for name in differing)
        raise ValueError(f"{path} was made with a different configuration (differs in {differing}: {values}); "
                         "use another out_dir or the checkpoint's own configuration")
    if state["epoch"] > preset.train.epochs:
        raise ValueError(f"{path} already holds {state['epoch']} epochs, more than the {preset.train.epochs} requested")


def _check_version(path: str | os.PathLike, state: dict, advice: str) -> None:
    """Refuse a checkpoint written by another specae version; ``advice`` ends the message."""
    if state.get("specae_version") != __version__:
        raise ValueError(f"{path} was written by specae {state.get('specae_version')}, this is specae {__version__}; "
                         f"{advice}")


def _field(config: dict, name: str):
    """The value of ``name`` ("section.key") in a ``Preset.to_dict()``."""
    section, key = name.split(".")
    return config[section][key]

