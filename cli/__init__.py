"""The ``zoo`` command line: thin Typer commands over the :mod:`zoo` library."""
