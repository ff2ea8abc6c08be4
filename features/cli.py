"""Commands of the feature-store package (``avemo inspect``)."""

from __future__ import annotations

import click


def register(group: click.Group) -> None:
    """Add this package's commands to the root group."""
