"""`personagraph evaluate`: our profiles against honest baselines, on one evaluation protocol."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from personagraph.cli.store_commands import format_table
from personagraph.errors import PersonaGraphError

#: Default training budgets per seed (minutes), so the first command a user types on a large
#: dataset ends in reasonable time; 0 on the command line = no budget.
OURS_MINUTES = 10.0
LIGHTGCN_MINUTES = 10.0
#: ``--history-rule`` choices (evaluation/evaluation_protocol.py's rules, kept here so the CLI
#: module imports nothing heavy); ``both`` reports each.
HISTORY_RULE_CHOICES = ("excluded", "included", "both")


def _int_list(ctx: click.Context, param: click.Parameter, value: str) -> list[int]:
    try:
        ks = sorted({int(part) for part in value.split(",") if part.strip()})
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of integers") from None
    if not ks or ks[0] < 1:
        raise click.BadParameter("give cut-offs of at least 1, e.g. 10,20")
    return ks


def _name_list(ctx: click.Context, param: click.Parameter, value: str) -> list[str]:
    return list(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))


@click.command()
@click.argument("data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--k", "ks", default="10,20", show_default=True, callback=_int_list,
              help="Cut-offs K for Recall@K and NDCG@K, comma-separated.")
@click.option("--models", default="ours,popularity,itemknn,lightgcn,text", show_default=True, callback=_name_list,
              help="Models to run, comma-separated: ours (the trained profile GNN), popularity, "
                   "itemknn (cosine item-kNN), lightgcn (IDs only), text (mean text embedding).")
@click.option("--seeds", type=click.IntRange(min=1), default=1, show_default=True,
              help="Seeds per seed-dependent model (ours, lightgcn); results are mean ± std.")
@click.option("--history-rule", type=click.Choice(HISTORY_RULE_CHOICES), default=None,
              help="excluded: a user's history items are never ranked; included: all items are ranked, "
                   "history too (the text-aware sequential papers' rule; each model lowers history items by a "
                   "repeat weight chosen on validation); both: report each [default: DATA_DIR/dataset.json's "
                   "history_rule, else excluded].")
@click.option("--max-minutes", type=click.FloatRange(min=0.0), default=OURS_MINUTES, show_default=True,
              help="Wall-time budget for ours' training per seed: stop after the epoch that passes it (0 = none).")
@click.option("--lightgcn-minutes", type=click.FloatRange(min=0.0), default=LIGHTGCN_MINUTES, show_default=True,
              help="Wall-time budget for LightGCN's training per seed, grid and refit together: each run stops "
                   "after the epoch that passes its share (0 = none).")
@click.option("--spectral-dim", type=click.IntRange(min=0), default=None,
              help="Components of ours' spectral filter (0 = GNN only) [default: as `train`'s, by the shop's size].")
@click.option("--neighbour-weight", type=click.FloatRange(min=0.0), default=None,
              help="Ours' weight of a neighbour score (item-kNN's or a low-pass filter's) beside the profile "
                   "score (0 = profile vectors alone) [default: chosen on validation, as `train` chooses it].")
@click.option("--model", "encoder_model", metavar="MODEL",
              help="Text encoder for ours and text [default: the packaged all-MiniLM-L6-v2, offline].")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Keep text embeddings on disk here, to reuse across runs [default: no cache].")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of a table.")
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the JSON report to this file (rewritten after each model; "
                   '"complete": true once all have run).')
@click.option("--html", "html_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the comparison as an HTML page with a bar chart (self-contained, opens offline).")
@click.option("--save-to", "save_to", type=click.Path(exists=True, file_okay=False, path_type=Path),
              metavar="RUN_DIR", help="Also save the JSON report into this run folder (as evaluation.json, "
                                      "rewritten after each model), where `personagraph report` shows it.")
@click.option("--quiet", is_flag=True, help="No progress bars or per-model log lines.")
def evaluate(data_dir: Path, ks: list[int], models: list[str], seeds: int, history_rule: str | None,
             max_minutes: float, lightgcn_minutes: float, spectral_dim: int | None, neighbour_weight: float | None,
             encoder_model: str | None, cache_dir: Path | None, as_json: bool, out_file: Path | None,
             html_file: Path | None, save_to: Path | None, quiet: bool) -> None:
    """Measure Recall@K and NDCG@K of our profiles and of baselines on the shop in DATA_DIR.

    The protocol follows DATA_DIR/dataset.json. leave-one-out (and a shop's own logs,
    without dataset.json): each user's last positive item is the test target and the one
    before it the validation target. given-split: test pairs from test.parquet, validation
    carved at random out of the training items. Hyper-parameters are chosen on validation
    only (the grids are printed); for the test figure every model's input history is
    training + validation, folded in with the same weights, or refitted where a model has
    per-user parameters (LightGCN). All items are ranked, those the user bought excluded
    (--history-rule excluded) or not (included: the history is ranked too, each model lowering
    it by a repeat weight chosen on validation). Ours and LightGCN train within a wall-time
    budget per seed (printed at the start; the results say when it stopped a training). Wall
    time and peak memory are measured per model.
    """
    from personagraph.evaluation.evaluation_protocol import EvaluationProtocol, parse_history_rule
    from personagraph.evaluation.lightgcn_ranker import LightGCNSettings
    from personagraph.pipeline.model_evaluation import ModelEvaluation
    from personagraph.pipeline.run_folder import RunFolder
    from personagraph.report.model_comparison import write_evaluation_page
    from personagraph.report.run_report_data import EVALUATION_FILE

    run = RunFolder(save_to) if save_to is not None else None
    if run is not None and not (run.path / "config.json").is_file():
        raise PersonaGraphError(f"--save-to {save_to} is not a run folder (it has no config.json); "
                                "pass the folder `personagraph train --out` wrote")
    log = (lambda line: None) if quiet else (lambda line: click.echo(line, err=True))
    ours = ({"max_minutes": max_minutes or None} | ({"spectral_dim": spectral_dim} if spectral_dim is not None else {})
            | ({"neighbour_weight": neighbour_weight} if neighbour_weight is not None else {}))
    evaluation = ModelEvaluation(models=models, ks=ks, seeds=seeds,
                                 history_rules=parse_history_rule(history_rule) if history_rule else None,
                                 lightgcn=LightGCNSettings(time_budget_s=lightgcn_minutes * 60 or None),
                                 ours_settings=ours, encoder=encoder_model, cache_dir=cache_dir, progress=not quiet, log=log)
    for line in budget_lines(evaluation.budgets_minutes(), models):
        log(line)
    protocol = EvaluationProtocol.from_folder(data_dir, progress=not quiet)

    def save(report: dict[str, Any], complete: bool) -> dict[str, Any]:
        report = {"data_dir": str(data_dir.resolve()), "complete": complete} | report
        if out_file is not None:
            out_file.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
        if run is not None:
            run.write_json(EVALUATION_FILE, report)
        return report

    # The file is rewritten after each model, so a run stopped early keeps the finished models.
    report = save(evaluation.run(protocol, on_model=lambda so_far: save(so_far, complete=False)), complete=True)
    if html_file is not None:
        write_evaluation_page(report, html_file)
    click.echo(json.dumps(report, indent=2, default=str) if as_json else describe_report(report))


def budget_lines(budgets: dict[str, float | None], models: list[str]) -> list[str]:
    """One line per budgeted model that runs: its training budget per seed and how to lift it."""
    options = {"ours": ("--max-minutes", ""), "lightgcn": ("--lightgcn-minutes", ", grid and refit together")}
    lines = []
    for name, (option, scope) in options.items():
        if name in models and name in budgets:
            minutes = budgets[name]
            limit = f"at most {minutes:g} min of training per seed{scope}" if minutes else "no training time budget"
            lines.append(f"{name}: {limit} ({option} to change; {option} 0 = none)")
    return lines


def describe_report(report: dict[str, Any]) -> str:
    """The results: per history rule, one row per model (metrics as mean ± std over seeds, time,
    memory, what was chosen on validation), then the budgets that stopped training."""
    from personagraph.report.model_comparison import comparison_header, comparison_notes, comparison_rows

    rules = report.get("history_rules") or ["excluded"]
    lines = [comparison_header(report)]
    for rule in rules:
        view = report | {"models": [model | {"test": model["test_by_rule"][rule]} if "test_by_rule" in model
                                    else model for model in report["models"]]}
        rows = [row | {"chosen on validation": chosen_text(model, rule)}
                for row, model in zip(comparison_rows(view), report["models"])]
        lines += ["", report.get("history_rule_text", {}).get(rule, f"history {rule}"), format_table(rows)]
    lines += comparison_notes(report) + budget_notes(report)
    return "\n".join(lines)


def chosen_text(model: dict[str, Any], rule: str) -> str:
    """What a model chose on validation (first seed's run; every key it reports, as ``key=value``),
    with the repeat weight under the rule that ranks the history."""
    if not model["applicable"]:
        return "-"
    run = model["per_seed"][0]
    chosen = dict(run["chosen"]) | ({"repeat_weight": run["repeat_weight"]}
                                    if rule == "included" and "repeat_weight" in run else {})
    return ", ".join(f"{k}={v}" for k, v in chosen.items()) or "(nothing to tune)"


def budget_notes(report: dict[str, Any]) -> list[str]:
    """A line per model whose training a wall-time budget stopped in some seed."""
    budgets = report.get("budgets_minutes", {})
    notes = []
    for model in report["models"]:
        stopped = model.get("stopped_by_budget", 0)
        if stopped:
            minutes = budgets.get(model["model"].split("+")[0])
            notes.append(f"budget: {model['model']}: training stopped by its "
                         + (f"{minutes:g}-minute " if minutes else "")
                         + f"time budget in {stopped} of {model['runs']} seed(s); results may improve without it")
    return notes
