"""What only the book's chapters use: papermill parameter checks, citable figures with provenance,
the chapters' figures, and the scorecard's display."""
