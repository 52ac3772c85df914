"""``python -m sioadapter.cli``: the ``sioadapter`` command."""

from .main import main

main()
