"""Build the book, or execute the chapters in place.

Default mode (``make book``):
  1. copy the book sources into a staging folder (default ``_build/stage``);
  2. write the staged ``_config.yml`` with notebook execution off;
  3. execute every chapter notebook in the stage with papermill, in place, injecting the
     ``preset`` and ``device`` parameters, and hide the injected cell from the HTML;
  4. render the stage with ``jupyter-book build -W``; the HTML lands in ``_build/html``.

``--in-place`` mode (``make chapters``) executes ``chapters/*.ipynb`` in the source tree with their
default parameters (no injected cell), so that the executed outputs can be committed and checked
by ``pytest --nbval``; the reference runs' analyses they compute are recorded in ``runs/analyses/``.

Any failure exits non-zero.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat
import papermill
import yaml
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from specae._files import LIBRARY_PATHS, git_state
from specae.analysis.analysis_cache import COMMITTED_DIR, RECORD_ENV
from specae.training.devices import cpu_kernels

ROOT = Path(__file__).resolve().parents[1]
BOOK_FILES = ("_config.yml", "_toc.yml", "references.bib")
KERNEL = "python3"
CELL_TIMEOUT_S = 3600  # a chapter cell that trains may take long; paper-scale runs pass --cell-timeout 0


def toc_docnames(toc_path: Path) -> list[str]:
    """Every document named in a jb-book ``_toc.yml`` (root first), without extensions."""
    toc = yaml.safe_load(toc_path.read_text())
    names = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                names.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    walk(toc.get("chapters"))
    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    return names


def stage_sources(stage: Path) -> None:
    """Replace ``stage`` with a fresh copy of the book sources."""
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    for name in BOOK_FILES:
        shutil.copy2(ROOT / name, stage / name)
    for doc in toc_docnames(ROOT / "_toc.yml"):
        page = ROOT / f"{doc}.md"
        if page.exists():
            (stage / page.relative_to(ROOT)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(page, stage / page.relative_to(ROOT))
    shutil.copytree(
        ROOT / "chapters",
        stage / "chapters",
        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"),
    )


def disable_execution(config_path: Path) -> None:
    """Set ``execute.execute_notebooks: off`` in a book config (papermill has run already)."""
    config = yaml.safe_load(config_path.read_text())
    config.setdefault("execute", {})["execute_notebooks"] = "off"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))


def toc_notebooks(book: Path) -> list[Path]:
    """The notebooks listed in ``book/_toc.yml``, in TOC order."""
    paths = (book / f"{doc}.ipynb" for doc in toc_docnames(book / "_toc.yml"))
    return [path for path in paths if path.exists()]


def run_papermill(notebook: Path, parameters: dict, timeout: int | None) -> None:
    """Execute ``notebook`` in place with papermill, in the notebook's own folder."""
    print(f"executing {notebook} with {parameters}", flush=True)
    papermill.execute_notebook(
        notebook,
        notebook,
        parameters=parameters,
        kernel_name=KERNEL,
        cwd=notebook.parent,
        execution_timeout=timeout,
        log_output=False,
        progress_bar=False,
    )


def execute_chapter(notebook: Path, parameters: dict, timeout: int | None) -> str | None:
    """Execute one staged chapter and hide its injected cell; the error's text if it failed (a worker's
    exceptions need not survive pickling back to the parent)."""
    try:
        run_papermill(notebook, parameters, timeout)
    except (papermill.PapermillExecutionError, CellExecutionError) as error:
        return f"{notebook.name}: {error}"
    hide_injected_parameters(notebook)
    return None


def execute_chapters(notebooks: list[Path], parameters: dict, timeout: int | None, jobs: int) -> list[str]:
    """Execute ``notebooks`` ``jobs`` at a time; the errors of those that failed.

    Unless ``OMP_NUM_THREADS`` is set, each kernel gets an equal share of the CPU's threads: on a 2-core machine
    two chapters side by side on one thread each keep both cores busy, where two threads each would contend.
    """
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // jobs)))
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(execute_chapter, notebook, parameters, timeout) for notebook in notebooks]
        return [error for future in futures if (error := future.result())]


def hide_injected_parameters(notebook: Path) -> None:
    """Tag papermill's ``injected-parameters`` cell ``remove-cell`` so the HTML omits it."""
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
    nbformat.write(nb, notebook)


def build_html(stage: Path) -> Path:
    """Render the staged book with jupyter-book; return the path of ``index.html``."""
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    command = [str(jupyter_book), "build", str(stage), "--all", "-W", "--keep-going",
               "--path-output", "."]
    subprocess.run(command, cwd=ROOT, check=True)
    return ROOT / "_build" / "html" / "index.html"


def execute_in_place(notebook: Path, timeout: int | None) -> None:
    """Execute ``notebook`` with its default parameters and save the outputs in place.

    nbclient is used directly (not papermill) so that no timing or papermill metadata ends up in
    the committed notebook. The CPU kernels that computed the outputs are recorded in its metadata
    (``specae.executed_with``): the strict notebook check must run on other ones.
    """
    print(f"executing {notebook} in place", flush=True)
    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name=KERNEL, record_timing=False,
                            resources={"metadata": {"path": str(notebook.parent)}})
    client.execute()
    nb.metadata["specae"] = {"executed_with": cpu_kernels()}
    nbformat.write(nb, notebook)


def record_analyses(prune: bool) -> None:
    """The chapters executed in place record the reference runs' analyses they compute or read into the committed
    analyses (``runs/analyses/``, :mod:`specae.analysis.analysis_cache`); executing them all first removes the
    recorded ones, so that none is kept that no chapter reads any more."""
    os.environ[RECORD_ENV] = "1"  # the kernels inherit it
    if prune:
        for entry in COMMITTED_DIR.glob("*.pkl"):
            entry.unlink()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="study", help="chapter preset (default: study)")
    parser.add_argument("--device", default="auto", help="torch device (default: auto)")
    parser.add_argument("--stage", type=Path, default=ROOT / "_build" / "stage",
                        help="staging folder (default: _build/stage)")
    parser.add_argument("--cell-timeout", type=int, default=CELL_TIMEOUT_S,
                        help=f"seconds allowed per cell, 0 for no limit (default: {CELL_TIMEOUT_S})")
    parser.add_argument("--jobs", type=int, default=2,
                        help="chapters executed side by side, sharing the CPU's threads (default: 2)")
    parser.add_argument("--skip-execute", action="store_true",
                        help="render the staged notebooks as they are, without papermill")
    parser.add_argument("--in-place", action="store_true",
                        help="only execute chapters/*.ipynb in place with default parameters")
    parser.add_argument("--only", nargs="+", default=None, metavar="NAME",
                        help="with --in-place: these chapters only, by file stem (e.g. 01_data)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.getLogger("papermill").setLevel(logging.WARNING)
    timeout = args.cell_timeout or None
    if args.in_place:
        if git_state(paths=LIBRARY_PATHS)["dirty"]:
            print("error: lib/ has uncommitted changes; commit them first, so that the provenance of every figure "
                  "the chapters draw names a commit that holds the code that drew it", file=sys.stderr)
            return 2
        notebooks = sorted((ROOT / "chapters").glob("*.ipynb"))
        unknown = sorted(set(args.only or []) - {notebook.stem for notebook in notebooks})
        if unknown:
            print(f"error: no chapter named {unknown}; chapters are {[n.stem for n in notebooks]}", file=sys.stderr)
            return 2
        record_analyses(prune=args.only is None)
        for notebook in notebooks:
            if args.only is None or notebook.stem in args.only:
                execute_in_place(notebook, timeout)
        return 0

    stage = args.stage.resolve()
    stage_sources(stage)
    disable_execution(stage / "_config.yml")
    if not args.skip_execute:
        errors = execute_chapters(toc_notebooks(stage), {"preset": args.preset, "device": args.device}, timeout,
                                  max(1, args.jobs))
        if errors:
            print("error: " + "\n".join(errors), file=sys.stderr)
            return 1
    index = build_html(stage)
    if not index.exists():
        print(f"error: {index} was not produced", file=sys.stderr)
        return 1
    print(index)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (subprocess.CalledProcessError, papermill.PapermillExecutionError,
            CellExecutionError) as error:
        sys.exit(f"error: {error}")
