"""``python -m sioadapter``: the ``sioadapter`` command (see :mod:`sioadapter.cli`)."""

from .cli import main

main()
