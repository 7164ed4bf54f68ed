"""Chapter 08 rerun at the edges of its parameters, as tests/test_chapter_reruns.py reruns the others; it runs in
the book half of `make test` (the Makefile's BOOK_TESTS), beside the smoke book."""

import pytest
from test_chapter_reruns import BOOK_HALF, RERUNS, check_rerun, rerun_ids

VELOCITY = [rerun for rerun in RERUNS if rerun[0] in BOOK_HALF]


@pytest.mark.slow
@pytest.mark.parametrize("chapter, parameters, expected", VELOCITY, ids=rerun_ids(VELOCITY))
def test_a_velocity_rerun_at_the_edge_of_the_documented_ranges_finishes(chapter_outputs, chapter, parameters,
                                                                        expected):
    check_rerun(chapter_outputs, chapter, parameters, expected)
