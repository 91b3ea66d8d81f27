"""``python -m console``: the same as the ``command-center`` command."""

from .cli import main

main()
