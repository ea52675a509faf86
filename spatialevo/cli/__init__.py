"""Command-line interface (``spatialevo --help``)."""
