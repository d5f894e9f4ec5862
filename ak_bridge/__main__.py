"""``python -m ak_bridge`` is the ``ak-bridge`` command."""

from .cli import main

main()
