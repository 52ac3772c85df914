"""``python -m sioadapter``: the ``sioadapter`` command (see :mod:`sioadapter.cli`)."""

from .cli.main import main

main()
