"""``python -m mhdeaths``: the same as the ``mhdeaths`` command."""

from mhdeaths.cli.app import main

main()
