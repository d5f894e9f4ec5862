"""``python -m ak_bridge`` is the ``ak-bridge`` command."""

from ak_bridge.cli import main

main()
