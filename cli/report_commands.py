"""`personagraph report`: a trained run as one HTML page that opens offline."""
from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("run_dir", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--run", "run_option", type=click.Path(file_okay=False, path_type=Path),
              help="The run folder, as the other commands take it (the same as RUN_DIR).")
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path),
              help="The HTML file to write [default: report.html in the run folder].")
@click.option("--max-points", type=click.IntRange(min=1), default=5000, show_default=True,
              help="Users drawn on the profile map at most (a sample stratified by segment).")
def report(run_dir: Path | None, run_option: Path | None, out_file: Path | None, max_points: int) -> None:
    """Write an HTML report on the run in RUN_DIR [default: the newest run folder under ./runs].

    It holds the run summary (counts, encoder, chosen settings, stage times and memory), the
    training curves with the chosen epoch, the spectral validation grid, a map of the user
    profiles by segment, segment sizes and top tags, tag frequency, activity distributions
    and, when `personagraph evaluate --save-to RUN_DIR` saved one, the model comparison.
    The page is self-contained: it needs no network to open. No Neo4j is read.
    """
    from personagraph.pipeline.run import find_run_dir
    from personagraph.report.run_report import write_run_report

    if run_dir is not None and run_option is not None and run_dir != run_option:
        raise click.UsageError("give the run folder once: as RUN_DIR or as --run")
    run_dir = find_run_dir(run_dir or run_option)
    written = write_run_report(run_dir, out_file or run_dir / "report.html", max_map_points=max_points)
    click.echo(f"report written to {written}")
