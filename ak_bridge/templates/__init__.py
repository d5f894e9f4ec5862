"""Where the shipped configuration templates are: inside the wheel, or the checkout's config/.

A wheel carries a copy of ``config/`` here (``setup.py`` puts it in at build time); an
editable install or a checkout reads ``config/`` itself, the one copy in git.
"""

from __future__ import annotations

from pathlib import Path


def shipped_config() -> Path:
    """The configuration directory that ships with this install."""
    packaged = Path(__file__).resolve().parent / "config"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "config"
