"""``python -m streams.cli …`` runs the ``newsetl`` command (used to start background workers)."""

from streams.cli.main import main

main()
