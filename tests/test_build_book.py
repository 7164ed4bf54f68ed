"""The book build executes chapters side by side and reports each one that fails, by name."""

from pathlib import Path

import nbformat
import pytest


@pytest.fixture(scope="module")
def build_book(load_script):
    return load_script("build_book")  # registered by name: the pool's workers find execute_chapter there


def chapter(path: Path, body: str) -> Path:
    """A notebook with a parameters cell (``value = 1``) and one cell of ``body``."""
    parameters = nbformat.v4.new_code_cell("value = 1")
    parameters.metadata["tags"] = ["parameters"]
    notebook = nbformat.v4.new_notebook(cells=[parameters, nbformat.v4.new_code_cell(body)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    return path


@pytest.mark.slow
def test_chapters_run_side_by_side_and_each_failure_is_named(build_book, tmp_path):
    good = chapter(tmp_path / "good.ipynb", "print(value * 2)")
    bad = chapter(tmp_path / "bad.ipynb", "raise ValueError('the chapter broke')")
    errors = build_book.execute_chapters([good, bad], {"value": 21}, timeout=120, jobs=2)
    assert len(errors) == 1 and errors[0].startswith("bad.ipynb: ") and "the chapter broke" in errors[0]
    executed = nbformat.read(good, as_version=4)
    injected = next(cell for cell in executed.cells if "injected-parameters" in cell.metadata.get("tags", []))
    assert "remove-cell" in injected.metadata["tags"]  # the HTML omits it
    assert executed.cells[-1].outputs[0]["text"] == "42\n"  # the injected value, not the default


def test_chapters_are_not_executed_in_place_from_uncommitted_library_code(build_book, monkeypatch, capsys):
    """make chapters refuses while lib/ has uncommitted changes, so that no committed figure's provenance names a
    commit that does not hold the code that drew it."""
    asked = []

    def state(paths=()):
        asked.append(paths)
        return {"commit": "0" * 40, "dirty": True}

    monkeypatch.setattr(build_book, "git_state", state)
    monkeypatch.setattr(build_book, "execute_in_place", lambda *args: pytest.fail("a chapter was executed"))
    assert build_book.main(["--in-place"]) == 2
    assert asked == [("lib",)] and "lib/ has uncommitted changes; commit them first" in capsys.readouterr().err
