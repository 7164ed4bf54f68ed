"""Small helpers every chapter uses: glue a claim's scorecard row for ``intro.md``."""

from __future__ import annotations

from dataclasses import asdict

from specae.analysis.claims import ClaimCheck


def glue_claim(check: ClaimCheck) -> None:
    """Glue ``<c>_paper``, ``<c>_ours``, ``<c>_tolerance`` and ``<c>_verdict`` (``c`` = "c1" …) for the book."""
    from myst_nb import glue

    for field, value in asdict(check).items():
        if field not in ("claim", "holds"):
            glue(f"{check.claim.lower()}_{field}", value, display=False)
    glue(f"{check.claim.lower()}_verdict", check.verdict, display=False)
