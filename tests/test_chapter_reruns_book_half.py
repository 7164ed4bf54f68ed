"""The last chapters rerun at the edges of their parameters, as tests/test_chapter_reruns.py reruns the others; they
run in the book half of `make test` (the Makefile's BOOK_TESTS), beside the smoke book."""

import pytest
from test_chapter_reruns import BOOK_HALF, RERUNS, check_rerun, rerun_ids

BESIDE_THE_BOOK = [rerun for rerun in RERUNS if rerun[0] in BOOK_HALF]


@pytest.mark.slow
@pytest.mark.parametrize("chapter, parameters, expected", BESIDE_THE_BOOK, ids=rerun_ids(BESIDE_THE_BOOK))
def test_a_rerun_beside_the_book_at_the_edge_of_the_documented_ranges_finishes(chapter_outputs, chapter, parameters,
                                                                               expected):
    check_rerun(chapter_outputs, chapter, parameters, expected)
