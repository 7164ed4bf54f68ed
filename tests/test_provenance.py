"""Citable figures: provenance embedded in PNG and PDF, the manifest, staleness, citations."""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest
from pybtex.database import parse_file, parse_string

import specae.training.run_keys
from specae import get_preset
from specae.__main__ import main
from specae.book import provenance

ROOT = Path(__file__).resolve().parents[1]
PARAMETERS = {"preset": "smoke", "seed": 0, "latent_dim": 8}


@pytest.fixture
def exported(tmp_path, monkeypatch):
    """A figure exported from committed library code (whatever the state of this checkout's lib/)."""
    monkeypatch.setattr(provenance, "git_state", lambda paths=(): {"commit": "a" * 40, "dirty": False})
    figure, ax = plt.subplots()
    ax.plot([1, 2, 3], [3, 1, 2])
    record = provenance.figure_record("fig-test-line", "A test line", "Three points.", "04_bottleneck", PARAMETERS,
                                      get_preset("smoke", latent_dim=8))
    paths = provenance.export_figure(figure, record, tmp_path)
    plt.close(figure)
    return tmp_path, record, paths


def test_provenance_round_trips_through_png_pdf_and_manifest(exported):
    folder, record, paths = exported
    assert provenance.read_embedded(paths["png"]) == record
    assert provenance.read_embedded(paths["pdf"]) == record
    manifest = json.loads((folder / "index.json").read_text())
    assert manifest["fig-test-line"]["files"] == {"png": "fig-test-line.png", "pdf": "fig-test-line.pdf"}
    assert record["config_hash"] == get_preset("smoke", latent_dim=8).config_hash()
    for key in ("title", "caption", "chapter", "parameters", "preset", "data_fingerprint", "git", "packages", "date"):
        assert record[key] is not None, key
    assert set(record["git"]) == {"commit", "dirty"} and record["packages"]["torch"]


def test_verify_marks_a_figure_stale_when_parameters_code_or_data_change(exported, monkeypatch):
    folder, record, paths = exported
    same = {"04_bottleneck": dict(PARAMETERS)}
    assert [s.current for s in provenance.verify(folder, same)] == [True]
    (status,) = provenance.verify(folder, {"04_bottleneck": dict(PARAMETERS, latent_dim=4)})
    assert not status.current and status.reasons == ("parameters changed: latent_dim",)
    monkeypatch.setattr(specae.training.run_keys, "generator_code_hash", lambda: "edited generator")
    assert provenance.verify(folder, same)[0].reasons == ("data changed",)
    monkeypatch.setattr(provenance, "code_fingerprint", lambda: "edited code")
    assert "code changed" in provenance.verify(folder, same)[0].reasons
    monkeypatch.undo()
    paths["pdf"].write_bytes(b"%PDF-1.4 broken")
    assert "fig-test-line.pdf unreadable" in str(provenance.verify(folder, same)[0])


def test_cli_reports_current_and_stale_figures(exported, capsys, monkeypatch):
    folder, _, _ = exported
    monkeypatch.setattr(provenance, "notebook_parameters", lambda path: dict(PARAMETERS))
    assert main(["figures", "verify", "--folder", str(folder)]) == 0
    assert "fig-test-line: current" in capsys.readouterr().out
    monkeypatch.setattr(provenance, "notebook_parameters", lambda path: dict(PARAMETERS, seed=1))
    assert main(["figures", "verify", "--folder", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "fig-test-line: stale (parameters changed: seed)" in out and "1 figures: 0 current, 1 stale" in out


def test_a_figure_of_a_chapter_no_longer_in_the_book_is_stale_not_an_error(exported, capsys, monkeypatch):
    folder, _, _ = exported
    monkeypatch.setattr(provenance, "REPO_DIR", folder)  # a book without chapters/04_bottleneck.ipynb
    (status,) = provenance.verify(folder)
    assert status.reasons == ("its chapter 04_bottleneck is no longer in the book (no 04_bottleneck.ipynb)",)
    assert main(["figures", "verify", "--folder", str(folder)]) == 1
    assert "fig-test-line: stale (its chapter 04_bottleneck is no longer in the book" in capsys.readouterr().out


def test_bad_ids_and_files_without_provenance_are_refused(tmp_path):
    with pytest.raises(ValueError, match="must look like 'fig-recon-vs-bottleneck'"):
        provenance.figure_record("Figure 3", "t", "c", "04_bottleneck", {})
    figure, _ = plt.subplots()
    figure.savefig(tmp_path / "plain.png")
    plt.close(figure)
    with pytest.raises(ValueError, match="carries no specae provenance"):
        provenance.read_embedded(tmp_path / "plain.png")


def test_every_book_figure_is_registered_once():
    import re

    import yaml

    registry = yaml.safe_load((ROOT / "chapters" / "figures.yml").read_text())
    named = []
    for notebook in sorted((ROOT / "chapters").glob("*.ipynb")):
        named += re.findall(r":name: (fig-[a-z0-9-]+)", notebook.read_text())
    assert sorted(named) == sorted(registry) and len(named) == len(set(named))
    assert all(provenance.FIGURE_ID.fullmatch(figure_id) for figure_id in registry)


def test_bibtex_parses_and_keys_are_unique(exported):
    _, record, _ = exported
    bibliography = parse_file(str(ROOT / "references.bib"))
    keys = list(bibliography.entries)
    assert len(keys) == len({k.lower() for k in keys})
    assert {"sedaghat2021", "paszke2019", "astropy2022", "jupyterbook", "papermill", "nbval"} <= set(keys)
    cite = provenance.citation(record)
    (entry,) = parse_string(cite["bibtex"], "bibtex").entries.values()
    assert entry.fields["title"] == "A test line" and "fig-test-line" in entry.fields["note"]
    assert "MNRAS, 501, 6026" in cite["plain"] and "fig-test-line" in cite["plain"]


def test_publish_exports_and_builds_the_provenance_block(tmp_path, capsys):
    figure, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    registry = tmp_path / "figures.yml"
    registry.write_text("fig-test-publish:\n  chapter: 05_disentanglement\n  title: A published line\n"
                        "  caption: Two points.\n")
    record = provenance.publish(figure, "fig-test-publish", PARAMETERS, get_preset("smoke", latent_dim=8),
                                folder=tmp_path, registry=registry)
    assert not plt.fignum_exists(figure.number)  # closed: the chapter shows it once, through its glue:figure
    assert provenance.read_embedded(tmp_path / "fig-test-publish.pdf") == record
    assert record["title"] == "A published line" and record["chapter"] == "05_disentanglement"
    with pytest.raises(KeyError, match="'fig-missing' is not in"):
        provenance.publish(figure, "fig-missing", PARAMETERS, folder=tmp_path, registry=registry)
    line = provenance.provenance_line(record)
    assert line.startswith("`fig-test-publish` · commit ") and f"configuration {record['config_hash'][:10]}" in line


def test_publish_can_leave_the_figure_open(tmp_path):
    figure, ax = plt.subplots()
    registry = tmp_path / "figures.yml"
    registry.write_text("fig-test-open:\n  chapter: 01_data\n  title: An open figure\n  caption: Still open.\n")
    provenance.publish(figure, "fig-test-open", PARAMETERS, folder=tmp_path, registry=registry, close=False)
    assert plt.fignum_exists(figure.number)
    plt.close(figure)


def test_the_dirty_flag_reads_the_library_only(tmp_path):
    """A repository whose lib/ is committed is clean for provenance however its notebooks changed; an edit in lib/
    makes it dirty."""
    import subprocess

    from specae._files import git_state

    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "code.py").write_text("x = 1\n")
    (tmp_path / "chapter.ipynb").write_text("{}\n")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "start")
    (tmp_path / "chapter.ipynb").write_text('{"executed": true}\n')
    assert git_state(tmp_path, ("lib",))["dirty"] is False and git_state(tmp_path)["dirty"] is True
    (tmp_path / "lib" / "code.py").write_text("x = 2\n")
    assert git_state(tmp_path, ("lib",))["dirty"] is True


def test_a_figure_drawn_from_uncommitted_library_code_is_flagged(tmp_path, monkeypatch):
    monkeypatch.setattr(provenance, "git_state", lambda paths=(): {"commit": "a" * 40, "dirty": True})
    figure, ax = plt.subplots()
    ax.plot([1, 2], [2, 1])
    record = provenance.figure_record("fig-test-dirty", "Dirty", "Two points.", "04_bottleneck", PARAMETERS,
                                      get_preset("smoke", latent_dim=8))
    provenance.export_figure(figure, record, tmp_path)
    plt.close(figure)
    (status,) = provenance.verify(tmp_path, chapter_parameters={"04_bottleneck": PARAMETERS})
    assert "drawn from uncommitted library code: no commit holds the code that drew it" in status.reasons
    assert "(uncommitted library changes)" in provenance.provenance_line(record)
