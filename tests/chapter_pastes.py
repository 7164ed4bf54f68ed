"""What a chapter's text pastes (glue keys and their formats) and what an executed chapter glued, printed as
jupyter-book prints it; and a chapter executed with parameters. Shared by the smoke-book and rerun tests."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
from myst_nb.core.variables import format_plain_text

ROOT = Path(__file__).resolve().parents[1]
GLUE_REFERENCE = re.compile(r"\{glue(?::text|:md|:figure|:any|:math)?\}`([^`]+)`"  # a role: {glue:text}`key:spec`
                            r"|```\{glue:(?:figure|md|math|any)\} (\S+)")  # a directive: ```{glue:figure} key

CHAPTERS = sorted(path.stem for path in (ROOT / "chapters").glob("*.ipynb"))


def referenced_keys(chapter: str) -> dict[str, str]:
    """Glue key → format spec ("" for none) of every key the chapter's markdown pastes, and the keys the intro
    pastes from it."""
    sources = [cell.source for cell in nbformat.read(ROOT / "chapters" / f"{chapter}.ipynb", 4).cells
               if cell.cell_type == "markdown"]
    prefix = f"chapters/{chapter}.ipynb::"
    intro_roles = (match[0] for match in GLUE_REFERENCE.findall((ROOT / "intro.md").read_text()))
    intro = [text.split(prefix, 1)[1] for text in intro_roles if text.startswith(prefix)]
    keys = {}
    for text in [m[0] or m[1] for source in sources for m in GLUE_REFERENCE.findall(source)] + intro:
        key, _, spec = text.partition(":")
        keys[key] = keys.get(key) or spec
    return keys


def glued(notebook: nbformat.NotebookNode) -> dict[str, dict]:
    """Glue key → its mime bundle (mime type → data), from an executed notebook's outputs."""
    values = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            record = output.get("metadata", {}).get("scrapbook", {})
            if record.get("name"):
                prefix = record.get("mime_prefix", "")
                values[record["name"]] = {mime.removeprefix(prefix): data for mime, data in output["data"].items()}
    return values


def printed(bundle: dict, spec: str = "") -> str:
    """What jupyter-book prints for a glued bundle with format ``spec`` (raises where its build would warn)."""
    if "image/png" in bundle or "text/markdown" in bundle:
        return bundle.get("text/markdown", "")
    return format_plain_text(bundle["text/plain"], spec)


def check_pastes(chapter: str, notebook: nbformat.NotebookNode) -> dict[str, str]:
    """Assert every key the text pastes is glued and prints with its format, without "nan"; return key → text."""
    values, texts = glued(notebook), {}
    for key, spec in referenced_keys(chapter).items():
        assert key in values, f"{chapter} does not glue {key!r}, which its text pastes"
        texts[key] = printed(values[key], spec)
        assert "nan" not in re.findall(r"[a-z]+", texts[key]), f"{chapter} prints {key} as {texts[key]!r}"
    return {key: printed(bundle) for key, bundle in values.items()} | texts


def execute(chapter: str, parameters: dict, out: Path) -> nbformat.NotebookNode:
    import papermill

    papermill.execute_notebook(ROOT / "chapters" / f"{chapter}.ipynb", out, parameters=parameters,
                               kernel_name="python3", cwd=ROOT / "chapters", log_output=False, progress_bar=False)
    return nbformat.read(out, 4)
