"""The declared dependencies match the imports: ``[project] dependencies`` holds what ``import specae`` and its
layers import, the ``book`` extra what only ``specae.book`` imports, the ``test`` extra what the tests and the
test command use; nothing declared goes unused, and every lower bound is the exact pin of requirements.txt."""

import ast
import re
import sys
import tomllib
from functools import cache
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lib" / "specae"
BOOK = PACKAGE / "book"
DECLARED = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)>=(?P<version>[A-Za-z0-9.]+)$")
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[A-Za-z0-9.]+)$")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@cache
def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def declared(group: str) -> dict[str, str]:
    """Normalised distribution name → lower bound, for "core" or an extra's name."""
    entries = project()["dependencies"] if group == "core" else project()["optional-dependencies"][group]
    bad = [entry for entry in entries if not DECLARED.match(entry)]
    assert not bad, f"pyproject.toml ({group}): write each dependency as name>=pinned-version, not {bad}"
    return {normalise(m["name"]): m["version"] for m in map(DECLARED.match, entries)}


def pins() -> dict[str, str]:
    lines = (line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines())
    return {normalise(m["name"]): m["version"] for m in map(PIN.match, lines) if m}


def imported_modules(path: Path) -> set[str]:
    """Top-level names of the absolute imports anywhere in ``path``, function-level ones included, apart from the
    project's own (``specae`` and the tests' helper modules, e.g. ``chapter_pastes``)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names - {"specae"} - {helper.stem for helper in (ROOT / "tests").glob("*.py")}


@cache
def module_distributions() -> dict[str, list[str]]:
    return metadata.packages_distributions()


def distributions_imported_by(paths) -> dict[str, dict[str, set[str]]]:
    """Normalised distribution → {module → files importing it} for the third-party imports in ``paths``.
    A module that no installed distribution provides fails here, naming the file."""
    found: dict[str, dict[str, set[str]]] = {}
    unknown = []
    for path in paths:
        where = str(path.relative_to(ROOT))
        for module in imported_modules(path) - set(sys.stdlib_module_names):
            providers = module_distributions().get(module)
            if not providers:
                unknown.append(f"{where} imports {module!r}")
                continue
            for distribution in {normalise(d) for d in providers}:
                found.setdefault(distribution, {}).setdefault(module, set()).add(where)
    assert not unknown, ("no installed distribution provides these modules; run `make setup` or fix the import: "
                         + "; ".join(unknown))
    return found


def library_files(book: bool) -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if (BOOK in p.parents) == book)


def describe(usage: dict[str, set[str]]) -> str:
    return ", ".join(f"{module!r} in {', '.join(sorted(files))}" for module, files in sorted(usage.items()))


def test_every_distribution_the_layers_import_is_a_core_dependency():
    core = declared("core")
    missing = {d: u for d, u in distributions_imported_by(library_files(book=False)).items() if d not in core}
    assert not missing, "\n".join(
        f"{d} is imported ({describe(u)}) but not in [project] dependencies of pyproject.toml: "
        f"add \"{d}>={pins().get(d, '<pinned version>')}\" there (and pin it in requirements.txt)"
        for d, u in sorted(missing.items()))


def test_every_distribution_only_the_book_imports_is_in_the_book_extra():
    allowed = declared("core") | declared("book")
    layers = distributions_imported_by(library_files(book=False))
    missing = {d: u for d, u in distributions_imported_by(library_files(book=True)).items() if d not in allowed}
    assert not missing, "\n".join(
        f"{d} is imported by specae.book ({describe(u)}) but not declared: add \"{d}>={pins().get(d, '<pin>')}\" "
        f"to {'[project] dependencies' if d in layers else '[project.optional-dependencies] book'} in "
        "pyproject.toml (and pin it in requirements.txt)"
        for d, u in sorted(missing.items()))


def test_every_distribution_the_tests_import_is_declared():
    allowed = declared("core") | declared("book") | declared("test")
    tests = sorted((ROOT / "tests").glob("*.py"))
    missing = {d: u for d, u in distributions_imported_by(tests).items() if d not in allowed}
    assert not missing, "\n".join(
        f"{d} is imported by the tests ({describe(u)}) but not declared: add \"{d}>={pins().get(d, '<pin>')}\" "
        "to [project.optional-dependencies] test in pyproject.toml (and pin it in requirements.txt)"
        for d, u in sorted(missing.items()))


def test_core_and_book_declare_nothing_their_code_does_not_import():
    layers = distributions_imported_by(library_files(book=False))
    book = distributions_imported_by(library_files(book=True))
    stale = [f"{d} is in [project] dependencies but no module outside specae/book imports it: "
             + ("move it to the book extra" if d in book else "remove it")
             for d in sorted(set(declared("core")) - set(layers))]
    stale += [f"{d} is in the book extra but specae/book does not import it: remove it"
              for d in sorted(set(declared("book")) - set(book))]
    stale += [f"{d} is in the book extra and in [project] dependencies: remove it from the book extra"
              for d in sorted(set(declared("book")) & set(declared("core")))]
    assert not stale, "\n".join(stale)


def makefile_recipes() -> dict[str, list[str]]:
    """Each Makefile target's recipe lines."""
    recipes, target = {}, None
    for line in (ROOT / "Makefile").read_text().splitlines():
        if line.startswith("\t") and target:
            recipes[target].append(line.strip())
        else:
            match = re.match(r"([A-Za-z][\w-]*):(?!=)", line)
            target = match[1] if match else None
            if target:
                recipes[target] = []
    return recipes


def makefile_test_commands() -> str:
    """The recipe lines of the Makefile's ``test`` target and of the targets it runs through ``$(MAKE)``."""
    recipes = makefile_recipes()
    lines = list(recipes["test"])
    for line in recipes["test"]:
        if line.startswith("$(MAKE)"):
            lines += [sub for word in line.split() if word in recipes for sub in recipes[word]]
    return "\n".join(lines)


def test_the_test_extra_declares_only_what_the_tests_or_the_test_command_use():
    """Used: imported by tests/*.py, run as ``-m module`` by ``make test``, or a pytest plugin whose
    ``--name`` option ``make test`` passes."""
    tests = distributions_imported_by(sorted((ROOT / "tests").glob("*.py")))
    commands = makefile_test_commands()
    run = {normalise(d) for module in re.findall(r"-m ([A-Za-z_][A-Za-z0-9_]*)", commands)
           for d in module_distributions().get(module, [])}
    plugins = {normalise(ep.dist.name) for ep in metadata.entry_points(group="pytest11")
               if re.search(rf"--{re.escape(ep.name)}\b", commands)}
    stale = sorted(set(declared("test")) - set(tests) - run - plugins)
    assert not stale, (f"the test extra of pyproject.toml declares {stale}, which no test imports and make test "
                       "neither runs (-m) nor loads as a pytest plugin (--name): remove them")


def test_every_lower_bound_is_the_pin_in_requirements():
    pinned = pins()
    wrong = [f"{d}>={bound} ({group}): requirements.txt pins {pinned.get(d, 'nothing')}; "
             f"declare {d}>={pinned[d]}" if d in pinned else f"{d} ({group}) is not pinned in requirements.txt: pin it"
             for group in ("core", *project()["optional-dependencies"])
             for d, bound in declared(group).items() if pinned.get(d) != bound]
    assert not wrong, "\n".join(wrong)
