"""Results cache: trains once, reloads bit for bit, keys on configuration and code, survives bad entries and races."""

import ast
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import specae
import specae.training.checkpoints as checkpoints
import specae.training.run_cache as cache
import specae.training.run_keys as run_keys
from specae import Preset, cache_info, cached_train, get_preset, load_synthetic, run_key, train

TINY = dict(epochs=1, n_spectra=48, n_objects=12)


def tiny(**overrides):
    return get_preset("smoke", **{**TINY, **overrides})


@pytest.fixture(scope="module", autouse=True)
def _one_thread_here(one_thread):
    """Every test of this module runs with one torch thread (see conftest.py)."""


@pytest.fixture(scope="module")
def data(one_thread):
    return load_synthetic(tiny().data)


@pytest.fixture
def trainings(monkeypatch):
    """Count the calls of specae.train made by the cache."""
    calls = []

    def counting(preset, *args, **kwargs):
        calls.append(preset)
        return train(preset, *args, **kwargs)

    monkeypatch.setattr(cache, "train", counting)
    return calls


def entries(cache_dir: Path) -> list[str]:
    return sorted(path.name for path in cache_dir.iterdir() if path.is_dir() and path.name != "data")


def assert_same_run(a, b, same_timings=True):
    """Same history (wall-clock seconds aside when ``same_timings`` is False), preset, split and weights."""
    untimed = [{k: v for k, v in h.items() if same_timings or k != "seconds"} for h in a.history]
    assert untimed == [{k: v for k, v in h.items() if same_timings or k != "seconds"} for h in b.history]
    assert a.preset == b.preset
    assert (a.split.train == b.split.train).all() and (a.split.validation == b.split.validation).all()
    state_a, state_b = a.model.state_dict(), b.model.state_dict()
    assert state_a.keys() == state_b.keys()
    for name in state_a:
        assert torch.equal(state_a[name], state_b[name]), name


def test_second_call_loads_from_cache_without_training(tmp_path, data, trainings, monkeypatch):
    preset = tiny()
    assert not cache_info(preset, "cpu", tmp_path).cached
    first = cached_train(preset, device="cpu", cache_dir=tmp_path, data=data)
    key = run_key(preset, "cpu")
    info = cache_info(preset, "cpu", tmp_path)
    assert len(trainings) == 1 and info.cached and info.key == key and "from cache" in str(info)
    assert entries(tmp_path) == [key] and first.checkpoint == tmp_path / key / "checkpoint.pt"
    done = json.loads((tmp_path / key / "done.json").read_text())
    assert done["key"] == key and Preset.from_dict(done["inputs"]["preset"]) == preset and len(done["history"]) == 1

    def no_training(*args, **kwargs):
        raise AssertionError("a cached run was trained again")

    monkeypatch.setattr(cache, "train", no_training)
    second = cached_train(preset, device="cpu", cache_dir=tmp_path)  # data=None: rendered into the data cache
    assert_same_run(first, second)
    assert torch.equal(second.data.flux, data.flux) and not second.model.training
    assert second.checkpoint == first.checkpoint and entries(tmp_path) == [key]
    # No temporary folder left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["data", key, f"{key}.lock"])


def test_a_changed_parameter_gives_a_new_key_and_a_new_run(tmp_path, data, trainings):
    base = run_key(tiny(), "cpu")
    assert run_key(tiny(), "cpu") == base == run_key(get_preset("smoke", **TINY), "cpu")  # stable
    changed = {name: run_key(tiny(**{name: value}), "cpu") for name, value in
               dict(latent_dim=4, seed=1, epochs=2, learning_rate=2e-3, data_seed=1, n_spectra=40,
                    median_snr=30.0, balanced=False, split_seed=7).items()}
    assert base not in changed.values() and len(set(changed.values())) == len(changed), changed
    cached_train(tiny(), device="cpu", cache_dir=tmp_path, data=data)
    other = cached_train(tiny(latent_dim=4), device="cpu", cache_dir=tmp_path, data=data)
    assert [p.model.latent_dim for p in trainings] == [8, 4] and other.preset.model.latent_dim == 4
    assert entries(tmp_path) == sorted([base, changed["latent_dim"]])


def test_the_training_path_is_in_the_key(tmp_path, data, trainings, monkeypatch):
    """A run of the fast path is never loaded for the plain one: their weights differ by rounding."""
    preset = tiny()
    monkeypatch.setenv("SPECAE_TRAINING_PATH", "plain")
    plain = cached_train(preset, device="cpu", cache_dir=tmp_path, data=data)
    assert run_keys.trained_with(plain)["training_path"] == {"path": "plain", "autocast": None}
    monkeypatch.setenv("SPECAE_TRAINING_PATH", "fast")
    assert not cache_info(preset, "cpu", tmp_path).cached
    fast = cached_train(preset, device="cpu", cache_dir=tmp_path, data=data)
    assert run_keys.trained_with(fast)["training_path"] == {"path": "fast", "autocast": None}
    assert len(trainings) == 2 and len(entries(tmp_path)) == 2


def test_library_environment_and_device_are_in_the_key(tmp_path, data, trainings, monkeypatch):
    preset = tiny()
    cached_train(preset, device="cpu", cache_dir=tmp_path, data=data)
    base = run_key(preset, "cpu")
    patches = [(run_keys, "training_code_hash", lambda: "edited"), (run_keys, "generator_code_hash", lambda: "edited"),
               (specae._version, "__version__", "9.9.9"), (torch, "__version__", "0.0.0"),
               (run_keys, "resolve_device", lambda device: torch.device("cuda"))]
    keys = set()
    for target, name, value in patches:
        with monkeypatch.context() as patch:
            patch.setattr(target, name, value)
            keys.add(run_key(preset, "cpu"))
            assert not cache_info(preset, "cpu", tmp_path).cached, name
    assert base not in keys and len(keys) == len(patches)
    monkeypatch.setattr(run_keys, "training_code_hash", lambda: "edited")
    cached_train(preset, device="cpu", cache_dir=tmp_path, data=data)  # the edited library trains anew
    assert len(trainings) == 2 and len(entries(tmp_path)) == 2


def test_editing_generator_or_training_source_changes_the_key(tmp_path, monkeypatch):
    copy = tmp_path / "specae"
    for name in set(run_keys.GENERATOR_FILES + run_keys.TRAINING_FILES):
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(run_keys.PACKAGE_DIR / name, copy / name)
    preset = tiny()
    base = run_key(preset, "cpu")
    monkeypatch.setattr(run_keys, "PACKAGE_DIR", copy)
    assert run_key(preset, "cpu") == base  # same bytes, same key
    keys = {base}
    for name in ("synth/survey.py", "synth/tellurics.py", "synth/data/harps_line_masks.npz", "model/autoencoder.py",
                 "training/loop.py"):
        original = (copy / name).read_bytes()
        (copy / name).write_bytes(original + b"\n# edited\n")
        keys.add(run_key(preset, "cpu"))
        (copy / name).write_bytes(original)
    assert len(keys) == 6
    (copy / "synth/population.py").unlink()
    with pytest.raises(FileNotFoundError, match=r"cannot fingerprint the code: .*population.py is missing"):
        run_key(preset, "cpu")


def test_fingerprinted_files_cover_what_training_imports():
    """Every specae module that the training loop imports, directly or not, is in the key (the I/O
    helpers and the layers' re-exporting ``__init__`` files aside)."""
    package, seen, todo = run_keys.PACKAGE_DIR, set(), ["training/loop.py"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for node in ast.walk(ast.parse((package / name).read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("specae"):
                parts = node.module.split(".")[1:]
                candidates = [parts] + [parts + [alias.name] for alias in node.names]
                todo += ["/".join(c) + ".py" for c in candidates if c and (package / ("/".join(c) + ".py")).is_file()]
    assert "synth/survey.py" in seen and "synth/line_profile.py" in seen
    # _version.py is in the key as the version itself
    helpers = {"_files.py", "_version.py", "io/store.py", "io/fits.py"}
    assert seen - set(run_keys.GENERATOR_FILES + run_keys.TRAINING_FILES) <= helpers


@pytest.mark.parametrize("damage", ["no done marker", "corrupt checkpoint", "missing split"])
def test_a_partial_or_corrupt_entry_is_replaced(tmp_path, data, trainings, damage):
    preset = tiny()
    key = run_key(preset, "cpu")
    entry = tmp_path / key
    if damage == "no done marker":
        entry.mkdir()
        (entry / "checkpoint.pt").write_bytes(b"half a checkpoint")
        reference = train(preset, tmp_path / "reference", device="cpu", progress=False, data=data)
    else:
        reference = cached_train(preset, device="cpu", cache_dir=tmp_path, data=data)
        if damage == "corrupt checkpoint":
            (entry / "checkpoint.pt").write_bytes(b"\0" * 100)
        else:
            (entry / "split.npz").unlink()
    before = len(trainings)
    unusable = rf"(?s)cache entry .*{key} is unusable \(.*\); removing it and training again"
    with pytest.warns(RuntimeWarning, match=unusable):
        result = cached_train(preset, device="cpu", cache_dir=tmp_path, data=data)
    assert len(trainings) == before + 1
    assert_same_run(result, reference, same_timings=False)  # retrained to the same weights (deterministic on CPU)
    assert cache_info(preset, "cpu", tmp_path).cached and (entry / "split.npz").is_file()
    assert not list(tmp_path.glob("*.tmp-*"))


def test_an_interrupted_run_is_resumed_then_published(tmp_path, data, trainings, monkeypatch):
    preset = tiny(epochs=2)
    key = run_key(preset, "cpu")
    save = checkpoints.save

    def killed_after_first_epoch(*args, **kwargs):
        save(*args, **kwargs)
        raise KeyboardInterrupt("simulated kill after epoch 1")

    (tmp_path / f"{key}.tmp-1-dead").mkdir()  # an older leftover without checkpoint: removed
    with monkeypatch.context() as patch:
        patch.setattr(checkpoints, "save", killed_after_first_epoch)
        with pytest.raises(KeyboardInterrupt):
            cached_train(preset, device="cpu", cache_dir=tmp_path, data=data)
    (leftover,) = tmp_path.glob(f"{key}.tmp-*")
    first_epoch = torch.load(leftover / "checkpoint.pt", weights_only=True)["history"]
    assert not cache_info(preset, "cpu", tmp_path).cached and len(first_epoch) == 1
    result = cached_train(preset, device="cpu", cache_dir=tmp_path, data=data)
    assert result.history[0] == first_epoch[0]  # epoch 1 (its timing included) was not trained again
    assert_same_run(result, train(preset, tmp_path / "in_one_go", device="cpu", progress=False, data=data),
                    same_timings=False)
    assert entries(tmp_path) == sorted([key, "in_one_go"]) and not list(tmp_path.glob("*.tmp-*"))


def test_bad_requests_name_the_problem(tmp_path, data):
    with pytest.raises(ValueError, match="epochs must be ≥ 1 to cache a run"):
        cached_train(tiny(epochs=0), device="cpu", cache_dir=tmp_path)
    wrong_size = r"data holds \(48, 1024\) spectra × pixels but preset 'smoke' describes \(40, 1024\)"
    with pytest.raises(ValueError, match=wrong_size):
        cached_train(tiny(n_spectra=40), device="cpu", cache_dir=tmp_path, data=data)
    with pytest.raises(ValueError, match="unknown device"):
        cached_train(tiny(), device="gpu", cache_dir=tmp_path, data=data)
    assert not list(tmp_path.iterdir())


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("SPECAE_CACHE", str(tmp_path / "runs"))
    assert cache.default_cache_dir() == tmp_path / "runs"
    assert cache_info(tiny(), "cpu").path.parent == tmp_path / "runs"
    monkeypatch.delenv("SPECAE_CACHE")
    repo = cache.REPO_DIR
    expected = repo / "_build" / "cache" if (repo / "_toc.yml").is_file() else Path.home() / ".cache/specae/runs"
    assert cache.default_cache_dir() == expected
    monkeypatch.setattr(cache, "REPO_DIR", tmp_path / "site-packages")  # installed: no book around the package
    assert cache.default_cache_dir() == Path.home() / ".cache" / "specae" / "runs"


_WORKER = textwrap.dedent("""
    import logging, os, sys, time
    import torch
    import specae.training.run_cache as cache
    from specae import get_preset
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    cache_dir, out, n_workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
    original = cache.train

    def counting_train(*args, **kwargs):
        with open(os.path.join(out, "trained"), "a") as handle:
            handle.write(f"{os.getpid()}\\n")
        time.sleep(1.5)  # hold the lock long enough for the other worker to queue behind it
        return original(*args, **kwargs)

    cache.train = counting_train
    open(os.path.join(out, f"ready-{os.getpid()}"), "w").close()
    deadline = time.monotonic() + 60
    while sum(name.startswith("ready-") for name in os.listdir(out)) < n_workers:  # start together
        assert time.monotonic() < deadline, "the other worker never started"
        time.sleep(0.01)
    result = cache.cached_train(get_preset("smoke", epochs=1, n_spectra=48, n_objects=12), device="cpu",
                                cache_dir=cache_dir)
    torch.save(dict(state=result.model.state_dict(), history=result.history), os.path.join(out, f"{os.getpid()}.pt"))
""")


def test_two_processes_asking_for_one_key_train_it_once(tmp_path):
    cache_dir, out = tmp_path / "cache", tmp_path / "out"
    out.mkdir()
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(run_keys.PACKAGE_DIR.parent))
    workers = [subprocess.Popen([sys.executable, "-c", _WORKER, str(cache_dir), str(out), "2"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [worker.communicate(timeout=240) for worker in workers]
    for worker, (_, stderr) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, stderr
    assert len((out / "trained").read_text().split()) == 1  # exactly one process trained
    waiting = f"waiting for another process to finish {run_key(tiny(), 'cpu')}"
    assert sum(waiting in stderr for _, stderr in outputs) == 1
    runs = [torch.load(path, weights_only=True) for path in sorted(out.glob("*.pt"))]
    assert len(runs) == 2 and runs[0]["history"] == runs[1]["history"]
    for name, tensor in runs[0]["state"].items():
        assert torch.equal(tensor, runs[1]["state"][name]), name
    key = run_key(tiny(), "cpu")
    assert entries(cache_dir) == [key] and not list(cache_dir.glob("*.tmp-*"))
    assert cache_info(tiny(), "cpu", cache_dir).cached


def test_a_run_published_second_is_discarded(tmp_path, data):
    """Without the lock (e.g. a file system that ignores it) the first published run wins, whole."""
    preset = tiny()
    key, inputs = run_key(preset, "cpu"), run_keys.key_inputs(preset, "cpu")
    runs = [train(preset, tmp_path / f"{key}.tmp-{i}", device="cpu", progress=False, data=data) for i in (1, 2)]
    assert cache._publish(runs[0], inputs, tmp_path / key)
    assert not cache._publish(runs[1], inputs, tmp_path / key)
    assert entries(tmp_path) == [key] and cache_info(preset, "cpu", tmp_path).cached


def test_rendered_spectra_are_cached_bit_for_bit_and_a_damaged_file_is_rendered_again(tmp_path, data):
    config = tiny().data
    first = specae.cached_synthetic(config, tmp_path)
    (stored,) = (tmp_path / "data").glob("*.npz")
    assert stored.name == f"{run_keys.data_fingerprint(config)[:16]}.npz"
    again = specae.cached_synthetic(config, tmp_path)
    for loaded in (first, again):
        assert torch.equal(loaded.flux, data.flux) and torch.equal(loaded.mask, data.mask)
        assert (loaded.degenerate == data.degenerate).all() and (loaded.object_ids == data.object_ids).all()
    assert list(again.labels.columns) == list(data.labels.columns)
    stored.write_bytes(stored.read_bytes()[:1000])
    with pytest.warns(RuntimeWarning, match="unusable .* rendering them again"):
        repaired = specae.cached_synthetic(config, tmp_path)
    assert torch.equal(repaired.flux, data.flux)
    other = specae.cached_synthetic(tiny(data_seed=1).data, tmp_path)
    assert len(list((tmp_path / "data").glob("*.npz"))) == 2 and not torch.equal(other.flux, data.flux)


def test_missing_runs_are_trained_side_by_side_and_then_loaded(tmp_path):
    presets = [tiny(latent_dim=2), tiny(latent_dim=3), tiny(latent_dim=2)]  # a repeat is trained once
    runs = specae.cached_train_many(presets, device="cpu", cache_dir=tmp_path, workers=2)
    assert [run.preset for run in runs] == presets and entries(tmp_path) == sorted({run_key(p, "cpu") for p in presets})
    assert all(cache_info(p, "cpu", tmp_path).cached for p in presets)
    assert_same_run(runs[0], runs[2])
    again = specae.cached_train_many(presets[:2], device="cpu", cache_dir=tmp_path)  # nothing missing: no pool
    for first, second in zip(runs[:2], again, strict=True):
        assert_same_run(first, second)
    torch.set_num_threads(2)  # a lone run trains in this process, with one thread like a pool worker
    (alone,) = specae.cached_train_many(presets[:1], device="cpu", cache_dir=tmp_path / "alone")
    assert torch.get_num_threads() == 2
    assert_same_run(alone, runs[0], same_timings=False)
