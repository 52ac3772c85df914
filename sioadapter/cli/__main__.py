"""``python -m sioadapter.cli``: the ``sioadapter`` command."""

from . import main

main()
