"""Service commands of backprop-quiz (demo, serve, worker, db, users, tokens)."""

import click


def register(main: click.Group) -> None:
    """Add the service commands to the CLI group."""
