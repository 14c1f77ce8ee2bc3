"""The ``newsetl`` command line: one module per command group, wired in :mod:`streams.cli.main`."""
