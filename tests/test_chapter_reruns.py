"""A reader's rerun never ends in a traceback.

Every chapter is executed under the smoke preset (24 stars: 18 for training, 6 for validation) with parameter
sets chosen to hit the edges of the ranges its parameters cell documents (its defaults run in
tests/test_smoke_book.py). Each run must finish, glue every key that the chapter's text (and the intro's
scorecard) pastes, with a value its format can print and no "nan", and give the verdicts that the data force:
*not testable* where the runs cannot support a claim. Models train into one run cache shared by all sets, so a
configuration trains once.
"""

from __future__ import annotations

import json
import re

import pytest
from chapter_pastes import CHAPTERS, ROOT, check_pastes, execute

from specae.book.parameters import MAX_SEED
from specae.training.reference_runs import reference_runs

COMMITTED = reference_runs()
COMMITTED_STATES = [run.manifest.get("run_state", {}).get("state") for run in COMMITTED]

# (chapter, parameters, glue key → the text it must print, a regular expression) — the edges each set hits are
# named beside it.
RERUNS = [
    ("01_data", {"seed": MAX_SEED}, {}),  # the largest documented seed
    ("02_model", {"preset": "paper"}, {"preset_pixels": "327,680"}),  # the released architecture (01 takes 22 s on it)
    # one epoch (too short for the convergence criterion), a code collapsed by β, a seed without a committed run:
    # the committed runs' states and this one's, collapsed
    ("03_training", {"epochs": 1, "beta": 100.0, "seed": 5},
     {"n_runs": str(len(COMMITTED) + 1), "n_converged": str(COMMITTED_STATES.count("converged")),
      "n_collapsed": str(COMMITTED_STATES.count("collapsed") + 1)}),
    ("03_training", {"latent_dim": 1, "beta": 0.0, "balanced": False}, {}),  # one node, deterministic, uniform draws
    # one size, the main one (C1 compares two or more), and one seed; the smoke book's sizes (up to 32) are above
    # the 18 training stars already
    # and a budget scaling without the 1× run
    ("04_bottleneck", {"latent_sizes": [8], "seeds": [3], "budgets": [2]}, {"c1_verdict": "not testable"}),
    # bins wider than the velocity span, no size above the main one (C4), β that collapses the code, a MAD threshold
    # no node passes, one seed
    ("05_disentanglement", {"rv_bin_width": 1000.0, "latent_sizes": [2], "seeds": [1], "betas": [100.0],
                            "mad_threshold": 10.0},
     {"c4_verdict": "not testable", "c6_verdict": "not testable", "collapsed_betas": "β = 100, seed 1",
      "window_reading": r"The first seed's RV node has no velocity window to read: \d of the \d bins of 1000 over the "
                        r"stars' RV \(km/s\), which spans .*, hold ≥ 3 points, fewer than 3; narrow bin_width\."}),
    # bins far narrower than the stars allow, every β of the β study collapsed or not
    ("05_disentanglement", {"rv_bin_width": 0.5, "latent_sizes": [16, 32], "betas": [1e-6, 10.0]},
     {"c6_verdict": "not testable", "window_reading": r".* widen bin_width, lower min_count or use more points\."}),
    ("06_train_validation", {"seeds": [4], "budgets": [1]}, {}),  # one seed, without any committed run; one budget
    ("07_real_spectra", {"latent_dim": 1, "beta": 100.0}, {}),  # one collapsed node
    # a one-node variant, velocities a millionth of the survey's (no window in 1 km/s bins: the rule has nothing to
    # read), the largest seed for the narrower survey's runs, another for the variant's, and the 1× budget alone
    ("08_velocity", {"latent_sizes": [1], "seeds": [7], "rv_scales": [1e-6], "spread_seeds": [MAX_SEED],
                     "budgets": [1]}, {"spread_answer": "inconclusive"}),
]


# Reruns in the book half of `make test` (tests/test_chapter_reruns_book_half.py), beside the smoke book, so that
# the two halves that run side by side take about as long.
BOOK_HALF = {"06_train_validation", "07_real_spectra", "08_velocity"}


def rerun_ids(reruns) -> list[str]:
    return [f"{c}-{json.dumps(p, separators=(',', ':'))}" for c, p, _ in reruns]


def check_rerun(chapter_outputs, chapter: str, parameters: dict, expected: dict[str, str]) -> None:
    """Execute ``chapter`` on the smoke preset with ``parameters``; every paste prints, and each expected key's
    text matches its pattern."""
    notebook = execute(chapter, {"preset": "smoke", **parameters}, chapter_outputs / f"{chapter}.ipynb")
    printed = check_pastes(chapter, notebook)
    for key, pattern in expected.items():
        assert re.fullmatch(pattern, printed[key]), f"{key}: {printed[key]!r}"


LIBRARY_HALF = [rerun for rerun in RERUNS if rerun[0] not in BOOK_HALF]


@pytest.mark.slow
@pytest.mark.parametrize("chapter, parameters, expected", LIBRARY_HALF, ids=rerun_ids(LIBRARY_HALF))
def test_a_rerun_at_the_edge_of_the_documented_ranges_finishes(chapter_outputs, chapter, parameters, expected):
    check_rerun(chapter_outputs, chapter, parameters, expected)


def test_every_chapter_has_edge_sets_and_each_set_names_only_its_parameters():
    from specae.book.provenance import notebook_parameters

    assert {chapter for chapter, _, _ in RERUNS} == set(CHAPTERS)
    for chapter, parameters, _ in RERUNS:
        assert set(parameters) <= set(notebook_parameters(ROOT / "chapters" / f"{chapter}.ipynb")), chapter
