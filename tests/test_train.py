"""Training: bit-for-bit resume, learning, checkpoints, devices and bad input."""

import contextlib
import copy
import dataclasses

import numpy as np
import pytest
import torch

from specae import (
    SpectrumAutoencoder,
    get_preset,
    load_checkpoint,
    load_synthetic,
    masked_l1_kl_loss,
    resolve_device,
    train,
)
from specae.spectra.spectra_set import SpectraSet
from specae.training.options import TrainOptions
from specae.training.progress import EpochRecord
from specae.training.schedules import beta_schedule


@pytest.fixture(scope="module")
def smoke_data():
    return load_synthetic(get_preset("smoke").data)


def test_two_plus_two_epochs_equal_four_bit_for_bit(tmp_path, smoke_data):
    four = train(get_preset("smoke", epochs=4), tmp_path / "four", device="cpu", progress=False, data=smoke_data)
    train(get_preset("smoke", epochs=2), tmp_path / "split", device="cpu", progress=False, data=smoke_data)
    resumed = train(get_preset("smoke", epochs=4), tmp_path / "split", device="cpu", progress=False, data=smoke_data)
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3, 4]
    for name, tensor in four.model.state_dict().items():
        assert torch.equal(tensor, resumed.model.state_dict()[name]), name
    assert resumed.history[-1]["validation_loss"] == four.history[-1]["validation_loss"]


def test_training_reduces_the_reconstruction_error(tmp_path, smoke_data):
    result = train(get_preset("smoke", epochs=8, beta=0.0), tmp_path, device="cpu", progress=False, data=smoke_data)
    first, last = result.history[0], result.history[-1]
    assert last["validation_reconstruction"] < 0.5 * first["validation_reconstruction"]
    assert last["train_reconstruction"] < first["train_reconstruction"]


def test_checkpoint_rebuilds_the_model_from_itself(tmp_path, smoke_data):
    result = train(get_preset("smoke"), tmp_path, device="cpu", progress=False, data=smoke_data)
    preset, model, state = load_checkpoint(result.checkpoint)
    assert preset == result.preset and state["epoch"] == 2 and state["config_hash"] == preset.config_hash()
    x = smoke_data.flux[:3].unsqueeze(1)
    with torch.no_grad():
        assert torch.equal(model(x).reconstruction, result.model(x).reconstruction)
    assert not list(tmp_path.glob(".*.tmp"))  # the atomic write left no temporary file


def test_each_epoch_is_recorded_and_evaluated_with_the_beta_of_its_last_step(tmp_path, smoke_data):
    """smoke: 6 steps an epoch, β rising linearly over steps 0 → 6, so epoch 1 ends on step 5 at β = 5/6 · 1e-3."""
    preset = get_preset("smoke")
    result = train(preset, tmp_path, device="cpu", progress=False, data=smoke_data)
    assert torch.load(result.checkpoint, weights_only=True)["history"] == result.history
    assert all(list(h) == [field.name for field in dataclasses.fields(EpochRecord)] for h in result.history)
    cfg = preset.train
    assert [h["beta"] for h in result.history] == [beta_schedule(step - 1, cfg.beta, cfg.beta_warmup_start,
                                                                 cfg.beta_warmup_end) for step in (6, 12)]
    assert result.history[0]["beta"] == pytest.approx(5 / 6 * 1e-3, rel=1e-12)
    for h in result.history:
        assert h["validation_loss"] == pytest.approx(h["validation_reconstruction"] + h["beta"] * h["validation_kl"],
                                                     rel=1e-12)


def test_resume_refuses_another_configuration_and_overwrites_nothing(tmp_path, smoke_data):
    train(get_preset("smoke"), tmp_path, device="cpu", progress=False, data=smoke_data)
    refusal = r"differs in \['model.latent_dim'\]: model.latent_dim: checkpoint 8, requested 4"
    with pytest.raises(ValueError, match=refusal):
        train(get_preset("smoke", latent_dim=4), tmp_path, device="cpu", progress=False, data=smoke_data)
    with pytest.raises(FileExistsError, match="pass resume=True"):
        train(get_preset("smoke"), tmp_path, device="cpu", resume=False, progress=False, data=smoke_data)


def test_degenerate_spectra_are_left_out_and_counted(tmp_path, smoke_data):
    degenerate = smoke_data.degenerate.copy()
    degenerate[:10] = True
    data = SpectraSet(flux=smoke_data.flux, mask=smoke_data.mask, degenerate=degenerate, labels=smoke_data.labels)
    result = train(get_preset("smoke", epochs=1), tmp_path, device="cpu", progress=False, data=data)
    used = np.concatenate([result.split.train, result.split.validation])
    assert used.min() >= 10 and len(used) == len(smoke_data) - 10
    summary = torch.load(result.checkpoint, weights_only=True)["data_summary"]
    assert summary == dict(n_spectra=96, n_degenerate=10, n_train=len(result.split.train),
                           n_validation=len(result.split.validation))


def test_bad_input_names_the_problem(tmp_path, smoke_data):
    with pytest.raises(ValueError, match=r"unknown device 'gpu'; choose one of"):
        resolve_device("gpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda:0")
    assert resolve_device("cpu") == torch.device("cpu")
    empty = SpectraSet(flux=smoke_data.flux[:0], mask=smoke_data.mask[:0], degenerate=smoke_data.degenerate[:0],
                       labels=smoke_data.labels[:0])
    with pytest.raises(ValueError, match="the dataset is empty"):
        train(get_preset("smoke"), tmp_path, device="cpu", progress=False, data=empty)
    all_bad = SpectraSet(flux=smoke_data.flux, mask=smoke_data.mask, degenerate=np.ones(96, bool),
                         labels=smoke_data.labels)
    with pytest.raises(ValueError, match="all 96 spectra are degenerate"):
        train(get_preset("smoke"), tmp_path, device="cpu", progress=False, data=all_bad)
    quick_sized = SpectraSet(flux=torch.zeros(4, 8192), mask=torch.ones(4, 8192, dtype=torch.bool),
                             degenerate=np.zeros(4, bool), labels=smoke_data.labels[:4])
    with pytest.raises(ValueError, match="8192 pixels but this grid .factor 320. has 1024"):
        train(get_preset("smoke"), tmp_path, device="cpu", progress=False, data=quick_sized)


def test_unknown_schedules_and_negative_clipping_are_refused():
    with pytest.raises(ValueError, match="lr_schedule must be one of"):
        get_preset("smoke", lr_schedule="linear")
    with pytest.raises(ValueError, match="grad_clip must be ≥ 0"):
        get_preset("smoke", grad_clip=-1.0)


def test_cosine_schedule_and_clipping_train_reproducibly(tmp_path, smoke_data):
    preset = get_preset("smoke", epochs=3, lr_schedule="cosine", lr_warmup_steps=3, grad_clip=0.5)
    first = train(preset, tmp_path / "a", device="cpu", progress=False, data=smoke_data)
    again = train(preset, tmp_path / "b", device="cpu", progress=False, data=smoke_data)
    plain = train(get_preset("smoke", epochs=3), tmp_path / "c", device="cpu", progress=False, data=smoke_data)
    assert first.history == [dict(h, seconds=s["seconds"]) for h, s in zip(again.history, first.history, strict=True)]
    assert first.history[-1]["validation_loss"] != plain.history[-1]["validation_loss"]


def test_a_run_stopped_inside_an_epoch_resumes_bit_for_bit(tmp_path, smoke_data):
    """Checkpoints every 4 steps, stopped at step 7 of 12 (inside epoch 2), resumed: same weights and history."""
    preset = get_preset("smoke")
    whole = train(preset, tmp_path / "whole", device="cpu", progress=False, data=smoke_data)
    stopped = train(preset, tmp_path / "parts", device="cpu", progress=False, data=smoke_data,
                    options=TrainOptions(checkpoint_every=4, stop_at_step=7))
    assert stopped.steps == 7 and [h["epoch"] for h in stopped.history] == [1]
    state = torch.load(stopped.checkpoint, weights_only=True)
    assert (state["epoch"], state["step"]) == (1, 7) and state["epoch_sums"][0] > 0
    resumed = train(preset, tmp_path / "parts", device="cpu", progress=False, data=smoke_data,
                    options=TrainOptions(checkpoint_every=4))
    for name, tensor in whole.model.state_dict().items():
        assert torch.equal(tensor, resumed.model.state_dict()[name]), name
    assert [{k: v for k, v in h.items() if k != "seconds"} for h in resumed.history] == \
           [{k: v for k, v in h.items() if k != "seconds"} for h in whole.history]


def test_bf16_on_the_fast_path_trains_and_records_it(tmp_path, smoke_data):
    """bf16 autocast (forced, so that a CPU without BF16 emulates it) changes the arithmetic, not the function:
    float32 master weights, a loss near the plain path's after one epoch, its record in the result and the
    checkpoint, and a returned model that computes as the release does."""
    preset = get_preset("smoke", epochs=1)
    plain = train(preset, tmp_path / "plain", device="cpu", progress=False, data=smoke_data,
                  options=TrainOptions(path="plain"))
    fast = train(preset, tmp_path / "fast", device="cpu", progress=False, data=smoke_data,
                 options=TrainOptions(path="fast", precision="bf16"))
    assert (plain.training_path, fast.training_path) == ({"path": "plain", "autocast": None},
                                                         {"path": "fast", "autocast": "bfloat16"})
    assert torch.load(fast.checkpoint, weights_only=True)["training_path"] == fast.training_path
    assert not torch.equal(plain.model.encoder[0].weight, fast.model.encoder[0].weight)
    assert all(tensor.dtype == torch.float32 for tensor in fast.model.state_dict().values())  # fp32 master weights
    assert not fast.model.fast_layers
    # 12 steps from the same weights: bf16 rounding (2⁻⁸ relative) moves the validation L1 by far less than 10 %
    assert fast.history[0]["validation_reconstruction"] == pytest.approx(
        plain.history[0]["validation_reconstruction"], rel=0.1)


def test_a_run_resumes_only_on_the_path_it_started_on(tmp_path, smoke_data):
    preset = get_preset("smoke")
    train(preset, tmp_path, device="cpu", progress=False, data=smoke_data,
          options=TrainOptions(path="plain", stop_at_step=3))
    with pytest.raises(ValueError, match="trained on the plain path with autocast None, and this run asks for the "
                                         "fast path with autocast bfloat16"):
        train(preset, tmp_path, device="cpu", progress=False, data=smoke_data,
              options=TrainOptions(path="fast", precision="bf16"))


def test_the_fast_path_reads_only_memory_it_wrote(tmp_path, smoke_data, monkeypatch):
    """The fast path turns off torch's NaN fill of new tensors; with the fill left on, a kernel that read memory
    it had not written would see NaN. The run ends with the same weights either way, bit for bit."""
    import specae.training.loop as loop

    preset = get_preset("smoke")
    unfilled = train(preset, tmp_path / "unfilled", device="cpu", progress=False, data=smoke_data,
                     options=TrainOptions(path="fast"))
    monkeypatch.setattr(loop, "reuse_memory", contextlib.nullcontext)
    filled = train(preset, tmp_path / "filled", device="cpu", progress=False, data=smoke_data,
                   options=TrainOptions(path="fast"))
    for name, tensor in unfilled.model.state_dict().items():
        assert torch.equal(tensor, filled.model.state_dict()[name]), name


def test_the_fast_path_without_glibc_says_so_in_one_line(monkeypatch):
    from specae.training import allocator

    monkeypatch.setattr(allocator.platform, "libc_ver", lambda: ("", ""))
    allocator.tune_allocator.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="not glibc: the fast training path runs without its allocator"), \
                allocator.reuse_memory():
            pass
    finally:
        allocator.tune_allocator.cache_clear()


def test_the_default_path_is_fast_unless_the_environment_says_plain(monkeypatch):
    monkeypatch.delenv("SPECAE_TRAINING_PATH", raising=False)
    assert TrainOptions().path == "fast"
    monkeypatch.setenv("SPECAE_TRAINING_PATH", "plain")
    assert TrainOptions().path == "plain" and TrainOptions(path="fast").path == "fast"
    monkeypatch.setenv("SPECAE_TRAINING_PATH", "quick")
    with pytest.raises(ValueError, match=r"SPECAE_TRAINING_PATH='quick' is not a training path; set it to one of "
                                         r"\('fast', 'plain'\) or unset it"):
        TrainOptions()


def test_a_record_gives_back_the_options_that_compute_as_it_says():
    cpu = torch.device("cpu")
    for options in (TrainOptions(path="plain"), TrainOptions(path="fast"), TrainOptions(precision="bf16")):
        again = TrainOptions.from_record(options.record(cpu), stop_at_step=3)
        assert (again.path, again.autocast_dtype(cpu), again.stop_at_step) == (
            options.path, options.autocast_dtype(cpu), 3)
    assert TrainOptions.from_record(None) == TrainOptions(path="plain", precision="fp32")  # runs from before it
    with pytest.raises(ValueError, match="unknown autocast type 'float16'"):
        TrainOptions.from_record({"path": "fast", "autocast": "float16"})


@pytest.mark.parametrize("options, message", [
    (dict(precision="fp16"), "precision must be one of"),
    (dict(path="quick"), "path must be one of"),
    (dict(checkpoint_every=-1), "checkpoint_every must be an integer ≥ 0"),
    (dict(stop_at_step=2.5), "stop_at_step must be an integer ≥ 0 or None"),
    (dict(eval_spectra=-1), "eval_spectra must be an integer ≥ 0"),
])
def test_bad_options_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        TrainOptions(**options)


def test_large_validation_sets_are_evaluated_on_a_fixed_subset():
    from specae.training.loop import _evaluation_sets
    from specae.training.split import Split

    split = Split(train=np.arange(0, 5000), validation=np.arange(5000, 9000))
    preset = get_preset("smoke")
    validation, probe = _evaluation_sets(split, preset, limit=300)
    assert len(validation) == len(probe) == 300 and np.isin(validation, split.validation).all()
    assert np.isin(probe, split.train).all() and np.all(np.diff(validation) > 0)
    assert np.array_equal(validation, _evaluation_sets(split, preset, limit=300)[0])  # the same every epoch
    assert np.array_equal(_evaluation_sets(split, preset, limit=0)[0], split.validation)
    assert np.array_equal(_evaluation_sets(split, preset, limit=4000)[0], split.validation)


@pytest.mark.slow
def test_compiled_training_steps_match_eager_ones(tmp_path, smoke_data, monkeypatch):
    """torch.compile (inductor, ≈ 30 s to compile here) computes the same step. From identical weights, one batch
    and one ε, the loss terms agree within 1e-5 and the gradient within 1e-4 (relative): fused kernels may only
    reorder float32 sums over 16 × 8,192 terms, whose rounding error is of order √n · 2⁻²⁴ ≈ 2e-5 (observed: equal).
    Whole runs are not compared: over many steps such differences can grow near a plateau, by an amount that
    depends on the CPU's kernels. A run through ``train(compile=True)`` finishes and saves the model without the
    compiler's wrapper prefixes.

    Inductor gets its own cache folder: its shared one (/tmp/torchinductor_<user>) reuses kernels built for
    another instruction set (ATEN_CPU_CAPABILITY), which here gave a loss of 1e33 instead of 0.73."""
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))
    preset = get_preset("smoke", epochs=1)
    torch.manual_seed(0)
    eager = SpectrumAutoencoder(preset.model).train()
    compiled_model = copy.deepcopy(eager)
    flux, mask = smoke_data.batch(np.arange(16), torch.device("cpu"))
    noise = torch.randn(16, preset.model.latent_dim, generator=torch.Generator().manual_seed(1))
    terms = {}
    for name, step in (("eager", eager), ("compiled", torch.compile(compiled_model))):
        terms[name] = masked_l1_kl_loss(step(flux, noise=noise), flux, mask, beta=1e-3)
        terms[name].total.backward()
    for field in ("total", "reconstruction", "kl"):
        assert getattr(terms["compiled"], field).item() == pytest.approx(getattr(terms["eager"], field).item(),
                                                                        rel=1e-5), field
    gradient = {name: torch.cat([p.grad.flatten() for p in model.parameters()])
                for name, model in (("eager", eager), ("compiled", compiled_model))}
    assert torch.linalg.norm(gradient["compiled"] - gradient["eager"]) <= 1e-4 * torch.linalg.norm(gradient["eager"])
    run = train(preset, tmp_path / "compiled", device="cpu", progress=False, data=smoke_data,
                options=TrainOptions(compile=True))
    assert np.isfinite(run.history[0]["validation_reconstruction"])
    assert list(run.model.state_dict()) == list(eager.state_dict())  # no wrapper prefixes saved
