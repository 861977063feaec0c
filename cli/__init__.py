"""Command-line interface (click)."""
from personagraph.cli.main import cli, main

__all__ = ["cli", "main"]
