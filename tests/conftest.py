"""Fixtures shared by several test modules."""

import importlib.util
import os
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, settings

# Property tests draw the same examples on every run and machine ("repeatable"); search wider by hand with
# HYPOTHESIS_PROFILE=explore (and add any failing case it finds as an @example).
settings.register_profile("repeatable", max_examples=40, derandomize=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("explore", max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a whole module (restored afterwards): tiny runs lose time to thread contention,
    and runs compared bit for bit with a single-threaded child process must use one thread too."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def load_script():
    """Import ``scripts/<name>.py`` as module ``name`` (registered in ``sys.modules``, so that process pools
    find its functions by name); the modules are unregistered after the test module."""
    loaded = []

    def load(name: str):
        path = Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        loaded.append(name)
        spec.loader.exec_module(module)
        return module

    yield load
    for name in loaded:
        sys.modules.pop(name, None)


@pytest.fixture(scope="module")
def chapter_outputs(tmp_path_factory):
    """A folder of the module's own for the chapters it executes: their run cache (``SPECAE_CACHE``), so that each
    model trains once for the whole module, and their exported figures (``SPECAE_FIGURES``)."""
    folder = tmp_path_factory.mktemp("chapters")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SPECAE_CACHE", str(folder / "cache"))
        patch.setenv("SPECAE_FIGURES", str(folder / "figures"))
        yield folder
