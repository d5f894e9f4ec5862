"""The pure core: the Form AK model, the Agreement's rules, lifecycle, routing, retry, errors.

No I/O, no clock, no framework: import-linter keeps it so (setup.cfg)."""
