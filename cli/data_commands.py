"""`personagraph sample` (write the bundled sample shop) and `personagraph stats` (look at a shop's graph)."""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from personagraph.shop.timestamp_window import TimestampWindow

ON_ERROR_HELP = ("What to do with bad rows: 'fail' stops and lists them; 'skip' leaves them out "
                 "and writes them to the --rejected file.")


def timestamp_window_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--not-before`` / ``--not-after``: events outside them are bad rows (one place for every command)."""
    command = click.option(
        "--not-after", metavar="TIME",
        help="Latest event time accepted, ISO 8601 or epoch seconds [default: one day after now].")(command)
    return click.option(
        "--not-before", metavar="TIME",
        help="Earliest event time accepted, ISO 8601 or epoch seconds [default: 1990-01-01].")(command)


def timestamp_window(not_before: str | None, not_after: str | None) -> "TimestampWindow":
    """The window the options of :func:`timestamp_window_options` give."""
    from personagraph.shop.timestamp_window import TimestampWindow

    return TimestampWindow.from_options(not_before, not_after)


@click.command()
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write items.<format> and events.<format> to (created if missing).")
@click.option("--users", default=3000, show_default=True, type=click.IntRange(min=1), help="Number of users.")
@click.option("--items", default=1000, show_default=True, type=click.IntRange(min=1), help="Number of items.")
@click.option("--seed", default=0, show_default=True, type=int, help="Random seed; the same seed writes the same files.")
@click.option("--format", "fmt", default="csv", show_default=True, type=click.Choice(["csv", "parquet", "jsonl"]),
              help="File format of both tables.")
@click.option("--lang", default="en", show_default=True, type=click.Choice(["en", "zh"]),
              help="Language of titles, descriptions, categories, brands and queries (zh: Chinese).")
@click.option("--social/--no-social", default=True, show_default=True,
              help="Also write social.<format>: users who follow, befriend, share with and invite each other, "
                   "more often among users with a shared interest.")
def sample(out_dir: Path, users: int, items: int, seed: int, fmt: str, lang: str, social: bool) -> None:
    """Generate a realistic small shop with planted user interests.

    Items with titles, brands, prices and descriptions in a category tree, in English
    or Chinese (--lang zh); users whose searches, views, carts and purchases over six
    months follow one to three interests, and (--social) links between users who often
    share them. Deterministic for a seed. Example:

        personagraph sample --out data/sample
    """
    from personagraph.datasets.sample_shop import generate_sample_shop

    result = generate_sample_shop(out_dir, users=users, items=items, seed=seed, fmt=fmt, lang=lang, progress=True,
                                  social=social)
    events = result.shop.events
    click.echo(f"Wrote {len(result.shop.catalog)} items, {len(events)} events of {events.num_users} users "
               f"and {len(events.query_texts)} distinct queries:")
    for path in result.files:
        click.echo(f"  {path} ({path.stat().st_size / 1e6:.2f} MB)")


@click.command()
@click.argument("data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as JSON instead of tables.")
@click.option("--on-error", type=click.Choice(["fail", "skip"]), default="fail", show_default=True, help=ON_ERROR_HELP)
@click.option("--rejected", "rejected_path", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("rejected.csv"), show_default=True, help="Where --on-error skip writes the bad rows.")
@timestamp_window_options
def stats(data_dir: Path, as_json: bool, on_error: str, rejected_path: Path, not_before: str | None,
          not_after: str | None) -> None:
    """Read the shop in DATA_DIR, build its graph and print its statistics.

    DATA_DIR holds items and events as CSV, Parquet or JSON Lines. Prints node and edge
    counts per type, degree distributions (min / median / mean / p90 / max) and
    connected components, after how many rows of each file were read, accepted and rejected.
    """
    from personagraph.graph.graph_stats import graph_stats
    from personagraph.graph.hetero_graph_builder import build_hetero_graph
    from personagraph.shop.shop_reader import read_shop_files, write_rejected

    window = timestamp_window(not_before, not_after)
    reading = read_shop_files(data_dir, on_error, timestamp_window=window)  # type: ignore[arg-type]
    if reading.rejected:
        write_rejected(reading.rejected, rejected_path)
        click.echo(f"Skipped {len(reading.rejected)} bad row(s); wrote them to {rejected_path}", err=True)
    result = graph_stats(build_hetero_graph(reading.shop))
    if as_json:
        click.echo(json.dumps({**result, "input": reading.counts()}, indent=2))
    else:
        click.echo(f"Input\n{reading.describe()}\n\n{format_stats(result)}")


def format_stats(result: dict) -> str:
    """The output of ``graph_stats`` as three plain-text tables."""
    def spread(distribution: dict[str, float]) -> list[str]:
        return [_number(distribution[key]) for key in ("min", "median", "mean", "p90", "max")]

    nodes = _table(["node type", "nodes", "deg min", "median", "mean", "p90", "max"],
                   [[node_type, _number(count), *spread(result["degree"][node_type])]
                    for node_type, count in result["nodes"].items()])
    edges = _table(["edge type", "edges", "events", "src deg median", "mean", "max", "dst deg median", "mean", "max"],
                   [[name, _number(info["edges"]), _number(info["events"]),
                     *[spread(info["source_degree"])[i] for i in (1, 2, 4)],
                     *[spread(info["target_degree"])[i] for i in (1, 2, 4)]]
                    for name, info in result["edge_types"].items()])
    components = result["components"]
    return (f"Nodes\n{nodes}\n\nEdges (forward types; reverse types mirror them)\n{edges}\n\n"
            f"Connected components: {components['count']} (largest: {components['largest']} nodes, "
            f"isolated nodes: {components['isolated_nodes']})")


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.2f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = [header, ["-" * width for width in widths], *rows]
    return "\n".join(
        "  ".join(cell.ljust(width) if i == 0 else cell.rjust(width) for i, (cell, width) in enumerate(zip(line, widths)))
        for line in lines
    )
