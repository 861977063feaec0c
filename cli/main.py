"""The `personagraph` command: a click group that loads each subcommand only when it runs.

Subcommands live in their own modules and are imported lazily, so `personagraph --help`
and light commands start without importing torch.
"""
from __future__ import annotations

import importlib
import warnings

import click

from personagraph import __version__
from personagraph.errors import PersonaGraphError

#: command name -> "module:attribute" of the click command that implements it.
COMMANDS: dict[str, str] = {
    "neo4j": "personagraph.cli.neo4j_commands:neo4j",
    "similar": "personagraph.cli.store_commands:similar",
    "query": "personagraph.cli.store_commands:query",
    "status": "personagraph.cli.status_commands:status",
    "sync": "personagraph.cli.status_commands:sync",
    "sample": "personagraph.cli.data_commands:sample",
    "stats": "personagraph.cli.data_commands:stats",
    "convert": "personagraph.cli.convert_commands:convert",
    "train": "personagraph.cli.train_commands:train",
    "evaluate": "personagraph.cli.evaluate_commands:evaluate",
    "report": "personagraph.cli.report_commands:report",
    "explain": "personagraph.cli.profile_commands:explain",
    "recommend": "personagraph.cli.profile_commands:recommend",
    "audience": "personagraph.cli.profile_commands:audience",
    "segments": "personagraph.cli.profile_commands:segments",
    "update": "personagraph.cli.live_commands:update",
    "profile": "personagraph.cli.live_commands:profile",
    "forget": "personagraph.cli.privacy_commands:forget",
    "pseudonym": "personagraph.cli.privacy_commands:pseudonym",
    "finetune-encoder": "personagraph.cli.encoder_commands:finetune_encoder",
}


class PersonaGraphGroup(click.Group):
    """Lazy subcommands, and one-line errors (no traceback) for failures the user can act on."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        return getattr(importlib.import_module(module_name), attribute)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except PersonaGraphError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=PersonaGraphGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="personagraph")
def cli() -> None:
    """PersonaGraph: user profiles from shop logs, via a heterogeneous graph,
    language-model text embeddings and a GNN, stored in Neo4j."""
    # torch_geometric scripts a module with torch.jit.script on import, which torch deprecates;
    # that is for torch_geometric to change, and no user of ours can act on it.
    warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated", category=FutureWarning,
                            module=r"torch\.jit\._script")


def main() -> None:
    cli(prog_name="personagraph")
