"""The nbval sanitiser masks what varies between runs and keeps the rounded numbers we compare."""

import json
import re
from pathlib import Path

from nbval.plugin import get_sanitize_patterns

PATTERNS = get_sanitize_patterns((Path(__file__).parent / "nbval_sanitize.cfg").read_text())


def sanitise(text: str) -> str:
    for regex, replacement in PATTERNS:
        text = re.sub(regex, replacement, text)
    return text


def test_varying_parts_are_masked():
    assert sanitise("train quick:  45%|####5     | 276/612 [00:30<00:37,  9.05step/s]\nok") == "<PROGRESS>\nok"
    assert sanitise("saved to /tmp/specae-03-abc/checkpoint.pt") == "saved to <PATH>"
    assert sanitise("<Figure size 900x340 with 3 Axes>") == "<Figure>"
    assert sanitise("loss 0.022105589123") == "loss <FLOAT>"


def test_rounded_numbers_are_still_compared():
    assert sanitise("validation 0.0670 after 12 epochs") == "validation 0.0670 after 12 epochs"
    assert sanitise("0.0670") != sanitise("0.0671")


def test_rules_leave_long_single_line_outputs_alone():
    text = "A1b2C3d4+/" * 20_000  # one long line (as a stored base64 payload is); no rule may rewrite it
    assert sanitise(text) == text


def test_png_payloads_are_masked_whole_and_nothing_after_them():
    image = "iVBORw0KGgo" + "A1b2C3d4+/" * 20_000 + "=="
    assert sanitise(image) == "<PNG>"
    assert sanitise(image + '", "text/plain": "0.0670"') == '<PNG>", "text/plain": "0.0670"'


def test_figure_provenance_and_citations_are_masked():
    line = "<small>`fig-rv-window` · commit 44a9650c73 (uncommitted changes) · preset quick · 2026-11-27</small>"
    assert sanitise(line) == "<small><PROVENANCE></small>"
    cite = "```{dropdown} Cite this figure\nspecae developers (2026). Title.\n\n    @misc{key,\n    }\n```\nafter"
    assert sanitise("before\n" + cite) == "before\n<CITATION>\nafter"


def test_the_chapters_were_executed_with_other_kernels_than_the_notebook_check_runs():
    """make test re-runs the committed chapters under the capabilities its Makefile sets: for that to compare two
    instruction sets, the committed outputs must come from another one (build_book.py records which)."""
    root = Path(__file__).parents[1]
    checked = re.search(r"^OTHER_KERNELS :=.*ATEN_CPU_CAPABILITY=(\w+)", (root / "Makefile").read_text(), re.M)
    assert checked, "the Makefile's OTHER_KERNELS must cap torch's kernels (ATEN_CPU_CAPABILITY=...)"
    for chapter in sorted((root / "chapters").glob("*.ipynb")):
        executed = json.loads(chapter.read_text())["metadata"].get("specae", {}).get("executed_with")
        assert executed, f"{chapter.name} records no kernels: execute it with `make chapters CHAPTERS={chapter.stem}`"
        assert executed["torch"].lower() != checked[1].lower() and not executed["ATEN_CPU_CAPABILITY"], (
            f"{chapter.name} was executed with {executed}, the kernels the notebook check runs: execute the chapters "
            "with AVX-512 kernels, or cap the check (OTHER_KERNELS in the Makefile) at another instruction set")
