"""Command-line interface (``spatialevo --help``): every argument parser of the package.

One module per subcommand — :mod:`~spatialevo.cli.scene`, :mod:`~spatialevo.cli.generate`,
:mod:`~spatialevo.cli.pose`, :mod:`~spatialevo.cli.evolve`, :mod:`~spatialevo.cli.eval`,
:mod:`~spatialevo.cli.demo` — each with ``add_parser(sub)`` and the function the subcommand runs;
:mod:`~spatialevo.cli.main` builds the top-level parser from them.
"""
