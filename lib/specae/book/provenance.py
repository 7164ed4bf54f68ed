"""Citable figures: stable IDs, provenance embedded in exported PNG and PDF files, a manifest, citations.

``export_figure(figure, record, folder)`` writes ``<id>.png`` and ``<id>.pdf`` with the record (JSON)
in their metadata (PNG text chunk ``specae-provenance``; PDF document-information ``/Subject``) and
adds it to ``folder/index.json``. A record (:func:`figure_record`) holds the figure's ID, title,
caption, chapter, parameters, preset, configuration hash, data fingerprint, code fingerprint, git
commit (and whether the tree was dirty), package versions and the date. ``verify(folder)`` recomputes
what a record depends on and reports each figure as current or stale, with the reasons.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from specae._files import LIBRARY_PATHS, PACKAGE_DIR, REPO_DIR, atomic_write, git_state, hash_files

MANIFEST = "index.json"
PNG_KEY = "specae-provenance"
PACKAGES = ("specae", "torch", "numpy", "astropy", "matplotlib", "scikit-learn", "jupyter-book")
FIGURE_ID = re.compile(r"fig-[a-z0-9]+(?:-[a-z0-9]+)*")
PAPER_CITATION = ("Sedaghat N., Romaniello M., Carrick J. E., Pineau F.-X., 2021, MNRAS, 501, 6026, "
                  "doi:10.1093/mnras/staa3540")


def figures_dir() -> Path:
    """Where chapters export their figures: ``$SPECAE_FIGURES`` when set (a test's or a rerun's own folder),
    else ``figures/`` of the repository."""
    return Path(os.environ.get("SPECAE_FIGURES") or REPO_DIR / "figures")


def code_fingerprint() -> str:
    """SHA-256 over the names and bytes of the package's Python files and data (what makes a figure)."""
    return hash_files(sorted(str(path.relative_to(PACKAGE_DIR)) for path in PACKAGE_DIR.rglob("*")
                             if path.is_file() and path.suffix in (".py", ".npz")), PACKAGE_DIR)


def package_versions() -> dict:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def dependency_fingerprint(parameters: dict, preset=None) -> dict:
    """What a figure depends on, recomputable later: configuration hash, data fingerprint, code fingerprint."""
    from specae.training.run_keys import data_fingerprint

    return {
        "parameters": json.loads(json.dumps(parameters, sort_keys=True, default=list)),
        "config_hash": preset.config_hash() if preset is not None else None,
        "data_fingerprint": data_fingerprint(preset) if preset is not None else None,
        "code_fingerprint": code_fingerprint(),
    }


def figure_record(figure_id: str, title: str, caption: str, chapter: str, parameters: dict, preset=None) -> dict:
    """The provenance of one figure (JSON-safe).

    preset: the :class:`~specae.training.presets.Preset` it was made with (None for figures of no run).
    """
    if not FIGURE_ID.fullmatch(figure_id):
        raise ValueError(f"figure id {figure_id!r} must look like 'fig-recon-vs-bottleneck' (lower case, hyphens)")
    return {
        "id": figure_id, "title": title, "caption": caption, "chapter": chapter,
        "preset": preset.name if preset is not None else None,
        **dependency_fingerprint(parameters, preset),
        "git": git_state(paths=LIBRARY_PATHS), "packages": package_versions(),
        "date": _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat(),
    }


def export_figure(figure, record: dict, folder: str | Path | None = None) -> dict[str, Path]:
    """Write ``<id>.png`` and ``<id>.pdf`` with ``record`` embedded, and add it to the manifest (in ``folder``,
    default :func:`figures_dir`)."""
    folder = figures_dir() if folder is None else Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(record, sort_keys=True)
    paths = {"png": folder / f"{record['id']}.png", "pdf": folder / f"{record['id']}.pdf"}
    atomic_write(paths["png"], lambda handle: figure.savefig(
        handle, format="png", dpi=200, metadata={"Title": record["title"], PNG_KEY: text}))
    atomic_write(paths["pdf"], lambda handle: figure.savefig(
        handle, format="pdf", metadata={"Title": record["title"], "Subject": text, "Creator": "specae"}))
    manifest = read_manifest(folder)
    manifest[record["id"]] = dict(record, files={kind: path.name for kind, path in paths.items()})
    manifest_bytes = json.dumps(manifest, indent=1, sort_keys=True).encode()
    atomic_write(folder / MANIFEST, lambda handle: handle.write(manifest_bytes))
    return paths


def read_manifest(folder: str | Path) -> dict:
    path = Path(folder) / MANIFEST
    return json.loads(path.read_text()) if path.exists() else {}


def read_embedded(path: str | Path) -> dict:
    """The provenance record embedded in an exported PNG or PDF."""
    path = Path(path)
    if path.suffix == ".png":
        from PIL import Image, PngImagePlugin

        with Image.open(path) as image:
            if not isinstance(image, PngImagePlugin.PngImageFile):
                raise ValueError(f"{path} is not a PNG image ({image.format})")
            text = image.text.get(PNG_KEY)
    elif path.suffix == ".pdf":
        from pypdf import PdfReader
        from pypdf.errors import PyPdfError

        try:
            info = PdfReader(path).metadata
            text = info.get("/Subject") if info is not None else None
        except PyPdfError as error:
            raise ValueError(f"{path} is not a readable PDF ({type(error).__name__}: {error})") from error
    else:
        raise ValueError(f"{path}: only .png and .pdf figures carry provenance")
    if not text:
        raise ValueError(f"{path} carries no specae provenance; export it with specae.book.provenance.export_figure")
    return json.loads(text)


@dataclass(frozen=True)
class FigureStatus:
    """One exported figure: current, or stale with the reasons (code, parameters, data, files)."""

    figure_id: str
    reasons: tuple[str, ...]

    @property
    def current(self) -> bool:
        return not self.reasons

    def __str__(self) -> str:
        return f"{self.figure_id}: " + ("current" if self.current else "stale (" + "; ".join(self.reasons) + ")")


def verify(folder: str | Path | None = None,
           chapter_parameters: dict[str, dict] | None = None) -> list[FigureStatus]:
    """Recompute what each exported figure in ``folder`` (default :func:`figures_dir`) depends on and compare with
    its record.

    chapter_parameters: chapter → the parameters it runs with now (default: each chapter notebook's
    ``parameters`` cell, read from ``chapters/``); a figure made with other values is stale.
    """
    from specae.training.presets import preset_from_parameters

    folder = figures_dir() if folder is None else Path(folder)
    statuses = []
    for figure_id, record in sorted(read_manifest(folder).items()):
        reasons = []
        for name in record.get("files", {}).values():
            try:
                if read_embedded(folder / name)["id"] != figure_id:
                    reasons.append(f"{name} holds another figure")
            except (OSError, ValueError) as error:
                reasons.append(f"{name} unreadable ({type(error).__name__})")
        if record["code_fingerprint"] != code_fingerprint():
            reasons.append("code changed")
        if record["git"].get("dirty"):
            reasons.append("drawn from uncommitted library code: no commit holds the code that drew it")
        now = (chapter_parameters or {}).get(record["chapter"])
        notebook = REPO_DIR / "chapters" / f"{record['chapter']}.ipynb"
        if now is None and not notebook.exists():
            reasons.append(f"its chapter {record['chapter']} is no longer in the book (no {notebook.name})")
            statuses.append(FigureStatus(figure_id, tuple(reasons)))
            continue
        if now is None:
            now = notebook_parameters(notebook)
        changed = sorted(k for k in set(now) | set(record["parameters"]) if now.get(k) != record["parameters"].get(k))
        if changed:
            reasons.append("parameters changed: " + ", ".join(changed))
        if record.get("preset"):
            preset = preset_from_parameters(record["preset"], **_preset_overrides(record["parameters"]))
            current = dependency_fingerprint(record["parameters"], preset)
            if current["config_hash"] != record["config_hash"]:
                reasons.append("configuration changed")
            if current["data_fingerprint"] != record["data_fingerprint"]:
                reasons.append("data changed")
        statuses.append(FigureStatus(figure_id, tuple(reasons)))
    return statuses


def _preset_overrides(parameters: dict) -> dict:
    from specae.training.presets import OVERRIDES

    return {key: value for key, value in parameters.items() if key in OVERRIDES}


def notebook_parameters(path: str | Path) -> dict:
    """The simple ``name = literal`` assignments of a notebook's ``parameters`` cell."""
    import ast

    import nbformat

    notebook = nbformat.read(str(path), as_version=4)
    cell = next((c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])), None)
    if cell is None:
        return {}
    values = {}
    for node in ast.parse(cell.source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            values[node.targets[0].id] = ast.literal_eval(node.value)
    return values


def citation(record: dict, repository: str = "The HARPS autoencoder companion") -> dict[str, str]:
    """BibTeX and plain-text citations of a figure, from its record (the original paper cited beside it)."""
    year = record["date"][:4]
    commit = (record["git"] or {}).get("commit") or "unversioned"
    key = f"specae-{record['id']}-{commit[:7]}"
    note = f"Figure {record['id']} ({record['chapter']}), commit {commit[:12]}, preset {record['preset']}"
    bibtex = (f"@misc{{{key},\n  title = {{{record['title']}}},\n  author = {{{{specae developers}}}},\n"
              f"  howpublished = {{{repository}}},\n  year = {{{year}}},\n  note = {{{note}}}\n}}")
    plain = f"specae developers ({year}). {record['title']}. {repository}, {note}. Reproducing {PAPER_CITATION}."
    return {"bibtex": bibtex, "plain": plain}


def provenance_line(record: dict) -> str:
    """One line under a figure: its ID, commit (and whether the tree was dirty), preset, hashes and date."""
    git = record.get("git") or {}
    commit = (git.get("commit") or "no git")[:10] + (" (uncommitted library changes)" if git.get("dirty") else "")
    hashes = ""
    if record.get("config_hash"):
        hashes = f" · configuration {record['config_hash'][:10]} · data {record['data_fingerprint'][:10]}"
    return (f"`{record['id']}` · commit {commit} · preset {record['preset']}{hashes} · "
            f"specae {record['packages'].get('specae')} · {record['date'][:10]}")


def figure_entry(figure_id: str, registry: str | Path = REPO_DIR / "chapters" / "figures.yml") -> dict:
    """The chapter, title and caption of ``figure_id`` from the book's figure registry."""
    import yaml

    entries = yaml.safe_load(Path(registry).read_text()) or {}
    if figure_id not in entries:
        raise KeyError(f"figure {figure_id!r} is not in {registry}; add its chapter, title and caption there")
    return entries[figure_id]


def publish(figure, figure_id: str, parameters: dict, preset=None, folder: str | Path | None = None,
            registry: str | Path = REPO_DIR / "chapters" / "figures.yml", close: bool = True) -> dict:
    """Export ``figure`` with its provenance and glue it for the book: ``<name>`` (the figure, for a
    ``glue:figure`` directive) and ``<name>_provenance`` (Markdown: the provenance line and a
    "Cite this figure" dropdown), where ``<name>`` is the ID with underscores. Title, caption and
    chapter come from ``registry``. close: close the figure afterwards, so that the chapter shows it
    once, through its numbered ``glue:figure``. Returns the record."""
    from IPython.display import Markdown
    from myst_nb import glue

    entry = figure_entry(figure_id, registry)
    record = figure_record(figure_id, entry["title"], entry["caption"], entry["chapter"], parameters, preset)
    export_figure(figure, record, folder)
    cite = citation(record)
    name = figure_id.replace("-", "_")
    glue(name, figure, display=False)
    glue(f"{name}_provenance", Markdown(
        f"<small>{provenance_line(record)}</small>\n\n"
        f"```{{dropdown}} Cite this figure\n{cite['plain']}\n\n"
        f"    {cite['bibtex'].replace(chr(10), chr(10) + '    ')}\n\n"
        f"Please cite the original paper too: {{cite:t}}`sedaghat2021`.\n```\n"), display=False)
    if close:
        import matplotlib.pyplot as plt

        plt.close(figure)
    return record


def publish_unavailable(figure_id: str, reason: str,
                        registry: str | Path = REPO_DIR / "chapters" / "figures.yml") -> None:
    """Glue, in place of a figure the data cannot support, one sentence saying why (``<name>``, so that the
    chapter's ``glue:figure`` shows the sentence above the caption) and an empty provenance (``<name>_provenance``):
    nothing was drawn, so nothing is exported or cited."""
    from IPython.display import Markdown
    from myst_nb import glue

    figure_entry(figure_id, registry)  # the ID must still be a registered figure
    name = figure_id.replace("-", "_")
    glue(name, Markdown(f"*Not drawn: {reason}.*"), display=False)
    glue(f"{name}_provenance", Markdown(f"<small>`{figure_id}` · not drawn for these parameters</small>"),
         display=False)
