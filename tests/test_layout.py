"""The package layout: few top-level modules, layers that import only the layers below them, every
module importable on its own, and no constant defined twice."""

import ast
import re
import subprocess
import sys
import textwrap
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lib" / "specae"
# Each layer may import the shared top-level modules and the layers before it, never one after it.
LAYERS = ("spectra", "synth", "model", "io", "training", "analysis", "book")
SHARED = ("constants", "seeding", "_files", "_version")
MAX_TOP_LEVEL_MODULES = 8
# Numbers that two modules define under different names because they mean different things.
COINCIDENCES = {
    0.02: "C1's training-noise slack, the paper's MAD threshold for informative nodes and the convergence "
          "criterion's 2 % limit on the final epoch",
    0.2: "the generator's fraction of ionised lines and the study schedule's held last fifth of the steps",
    0.01: "the convergence criterion's 1 % limit on a late gain, the lattice's 0.01 Å pixel, C6's 0.01 km/s "
          "traversal resolution and the 0.01-nat KL of an active unit",
    0.5: "C5's 0.5-nat floor on a label node's MI and the capability probe's half of the label's spread",
    1.0: "the generator's microturbulence (km/s), the RV-spread windows' 1 km/s bins and the learned velocity's "
         "1 km/s RMSE target",
    3.0: "the CCF fit's ±3σ wings and the RV-spread prediction's 3.0 km/s half-width",
    20.0: "the lowest altitude of an observation (degrees) and the CCF fit's ±20 km/s around the dip",
    50.0: "the median normalisation's threshold (ADU) and the velocity target's S/N ≥ 50",
    0.1: "C3's 10 % train/validation tolerance and the KL (nats) below which a β-VAE's code counts as collapsed",
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _module_level_imports(path: Path) -> set[str]:
    """specae modules that ``path`` needs at import time (module level, not inside functions).

    ``from specae.x import y`` needs the module ``specae.x.y`` when that is a module, else the names
    of ``specae.x`` (a package's ``__init__`` runs first in any case, so it is not an edge by itself)."""
    modules, found = set(_modules()), set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "specae":
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in modules else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "specae")
    return found & modules


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "specae"


def test_few_top_level_modules_and_the_rest_in_layer_packages():
    top = sorted(path.name for path in PACKAGE.glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, f"{len(top)} top-level modules: {top}; move some into a layer"
    packages = sorted(path.name for path in PACKAGE.iterdir() if (path / "__init__.py").is_file())
    assert packages == sorted(LAYERS), f"layer packages {packages}, expected {sorted(LAYERS)}"
    assert {path.stem for path in PACKAGE.glob("*.py")} - {"__init__", "__main__"} == set(SHARED)


def test_layers_import_only_the_layers_before_them():
    allowed = {layer: {*LAYERS[: index + 1], *SHARED} for index, layer in enumerate(LAYERS)}
    allowed.update({shared: set() for shared in SHARED})
    violations = []
    for module, path in _modules().items():
        layer = _layer(module)
        if layer in ("specae", "__main__"):
            continue  # the package's public API and the command line sit above every layer
        for imported in _module_level_imports(path):
            target = _layer(imported)
            if target != layer and target not in allowed[layer]:
                violations.append(f"{module} imports {imported} ({target} is not below {layer})")
    assert not violations, "\n".join(violations)


def test_module_level_imports_have_no_cycle():
    graph = {module: _module_level_imports(path) - {module} for module, path in _modules().items()}
    state: dict[str, int] = {}

    def visit(module: str, trail: list[str]) -> None:
        if state.get(module) == 2:
            return
        if state.get(module) == 1:
            cycle = trail[trail.index(module):] + [module]
            pytest.fail("import cycle: " + " → ".join(cycle))
        state[module] = 1
        for imported in sorted(graph.get(module, ())):
            visit(imported, [*trail, module])
        state[module] = 2

    for module in graph:
        visit(module, [])


def test_every_module_imports_alone_in_a_fresh_interpreter():
    """One child process per module, forked from a parent that has imported the third-party libraries but no
    specae module, so each import starts from an empty specae namespace (as `python -c "import X"` would)."""
    script = textwrap.dedent("""
        import os, sys, traceback
        import astropy.io.fits, astropy.table, matplotlib, numpy, pandas, scipy.stats, sklearn, torch  # noqa: F401
        import matplotlib.pyplot, scipy.optimize, scipy.signal, scipy.sparse  # noqa: F401  (the slow ones: each
        import sklearn.decomposition, sklearn.ensemble, sklearn.linear_model  # noqa: F401  child skips them)
        assert not any(name.split(".")[0] == "specae" for name in sys.modules)
        failed = []
        for name in sys.argv[1:]:
            pid = os.fork()
            if pid == 0:
                try:
                    __import__(name)
                except BaseException:
                    traceback.print_exc()
                    os._exit(1)
                os._exit(0)
            _, status = os.waitpid(pid, 0)
            if status:
                failed.append(name)
        print("FAILED:", " ".join(failed))
        sys.exit(1 if failed else 0)
    """)
    modules = [module for module in _modules() if not module.endswith("__main__")] + ["specae.__main__"]
    result = subprocess.run([sys.executable, "-c", script, *modules], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr[-4000:]


def test_no_two_modules_define_the_same_constant():
    """A module-level constant (UPPER_CASE name bound to a literal) is defined once: the same name with the same
    value in two modules, or the same distinctive number (a float, or an integer ≥ 1,000) under two names, is a
    copy that can drift. Numbers that only coincide are listed in COINCIDENCES with the reason."""
    by_name, by_number = defaultdict(set), defaultdict(set)
    for module, path in _modules().items():
        for node in ast.parse(path.read_text()).body:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
                node, ast.AnnAssign) and node.value is not None else []
            for target in targets:
                if not (isinstance(target, ast.Name) and target.id.lstrip("_").isupper()):
                    continue
                try:
                    value = ast.literal_eval(node.value)
                except ValueError:
                    continue  # computed from other names, so not a copy
                by_name[(target.id.lstrip("_"), repr(value))].add(module)
                distinctive = isinstance(value, float) or (type(value) is int and abs(value) >= 1_000)
                if distinctive and value not in COINCIDENCES:
                    by_number[value].add(f"{module}.{target.id}")
    copies = [f"{name} = {value} in {sorted(modules)}" for (name, value), modules in by_name.items()
              if len(modules) > 1]
    copies += [f"{value} defined as {sorted(names)}" for value, names in by_number.items()
               if len({name.rsplit('.', 1)[0] for name in names}) > 1]
    assert not copies, "define each once and import it:\n" + "\n".join(copies)


def test_the_readme_layout_table_lists_every_module():
    """Each row of README's *Layout* table names files by path; a bare name shares its row's first folder."""
    section = ROOT.joinpath("README.md").read_text().split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    listed = set()
    for row in section.splitlines():
        names = re.findall(r"`([\w/.]+\.py)`", row.split("|")[1] if row.startswith("|") else "")
        folder = next((name.rsplit("/", 1)[0] for name in names if "/" in name), "")
        for name in names:
            path = name if "/" in name else f"{folder}/{name}"
            listed.add(path.removeprefix("lib/specae/"))
    modules = {str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
               if path.name != "__init__.py" or path.parent == PACKAGE}
    assert not modules - listed, f"README's layout table misses {sorted(modules - listed)}"
    stale = {path for path in listed if not (PACKAGE / path).is_file() and not (ROOT / path).is_file()}
    assert not stale, f"README's layout table lists files that do not exist: {sorted(stale)}"
