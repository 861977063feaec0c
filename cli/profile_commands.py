"""`personagraph explain / recommend / audience / segments`: read the stored profiles.

`recommend` and `segments` read Neo4j alone. `explain` and `audience` also need the model
that made the profiles: by default the run folder under ``./runs`` whose run id the stored
profiles carry (where `personagraph train` puts it), or the folder given with ``--run``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from personagraph.cli.store_commands import connection_options, format_table, open_profile_store
from personagraph.errors import PersonaGraphError

if TYPE_CHECKING:
    from personagraph.store.neo4j_profile_store import Neo4jProfileStore
    from personagraph.pipeline.trained_run import TrainedRun

RUN_OPTION = click.option(
    "--run", "run_dir", type=click.Path(file_okay=False, path_type=Path),
    help="Run folder of the model [default: the folder under ./runs whose run id the stored profiles carry].",
)
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
QUIET_OPTION = click.option("--quiet", is_flag=True, help="No progress bars while the run is loaded.")
CACHE_OPTION = click.option(
    "--cache-dir", type=click.Path(file_okay=False, path_type=Path),
    help="Embedding cache the run filled [default: .embedding-cache beside the run folder, as for train].",
)


@click.command()
@click.argument("user_id")
@click.option("-n", "--top", default=10, show_default=True, type=click.IntRange(min=1),
              help="How many items and queries to show.")
@RUN_OPTION
@CACHE_OPTION
@JSON_OPTION
@QUIET_OPTION
@connection_options
def explain(user_id: str, top: int, run_dir: Path | None, cache_dir: Path | None, as_json: bool, quiet: bool,
            **connection: str | None) -> None:
    """The items and queries that most shaped USER_ID's profile vector.

    The model pools a user's edges with attention and then a linear output layer, so
    the profile splits exactly into one part per edge. Each item or query gets its
    share of the profile (score; shares of all of a user's edges sum to 1) = attention
    (how much the model listened to the edge: its type, recency and count) x alignment
    (the cosine between what the edge says and the final profile). vector_match is the
    cosine between the recomputed and the stored profile (1 when the run matches).
    """
    import numpy as np

    from personagraph.profiles.profile_explainer import ProfileExplainer
    from personagraph.profiles.profile_space import ProfileSpace

    with open_profile_store(**connection) as store:
        stored = _stored_user(store, user_id)
    run = _load_run(run_dir, cache_dir, stored["run_id"], quiet)
    explainer = ProfileExplainer(run.model, run.graph, ProfileSpace.load(run.folder.profile_space))
    user = run.user_index(user_id)
    evidence = explainer.explain(user, top)
    stored_vector = np.asarray(stored["embedding"], dtype=np.float64)
    vector_match = float(explainer.vector(user) @ stored_vector / max(np.linalg.norm(stored_vector), 1e-12))
    catalog, queries = run.shop.catalog, run.shop.events.query_texts
    rows = [
        {
            "type": e.node_type,
            "id": catalog.item_ids[e.index] if e.node_type == "item" else queries[e.index],
            "label": catalog.titles[e.index] if e.node_type == "item" else queries[e.index],
            "category": catalog.categories[e.index] if e.node_type == "item" else None,
            "edges": list(e.edges),
            "attention": e.attention,
            "alignment": e.alignment,
            "score": e.score,
        }
        for e in evidence
    ]
    summary = {"user": user_id, "run_id": run.run_id, "segment": stored["segment"],
               "segment_name": stored["segment_name"], "top_tags": stored["top_tags"],
               "vector_match": vector_match}
    if as_json:
        click.echo(json.dumps(summary | {"evidence": rows}, indent=2, default=str))
        return
    click.echo(f"user {user_id} · segment {stored['segment']} ({stored['segment_name']}) · "
               f"tags: {', '.join(stored['top_tags'] or [])}")
    click.echo(f"run {run.run_id} · vector match {vector_match:.4f}\n")
    click.echo(format_table([{"rank": rank} | row for rank, row in enumerate(rows, start=1)],
                            ["rank", "type", "label", "category", "edges", "attention", "alignment", "score"]))


@click.command()
@click.argument("user_id")
@click.option("-k", "k", default=10, show_default=True, type=click.IntRange(min=1), help="How many items.")
@click.option("--include-seen", is_flag=True,
              help="Also rank items the user already viewed, clicked, carted or bought.")
@JSON_OPTION
@connection_options
def recommend(user_id: str, k: int, include_seen: bool, as_json: bool, **connection: str | None) -> None:
    """The items the model scores highest for USER_ID (cosine of the stored user and item
    vectors, via the item vector index); items the user already touched are left out."""
    from personagraph.pipeline.recommender import Recommender

    with open_profile_store(**connection) as store:
        items = Recommender(store).recommend(user_id, k=k, include_seen=include_seen)
    rows = [{"rank": rank} | item._asdict() for rank, item in enumerate(items, start=1)]
    click.echo(json.dumps([item._asdict() for item in items], indent=2) if as_json else format_table(rows))


@click.command()
@click.argument("text")
@click.option("-k", "k", default=100, show_default=True, type=click.IntRange(min=1), help="How many users.")
@click.option("--segment", help="Only users of this segment: its id (a number) or its name.")
@RUN_OPTION
@CACHE_OPTION
@JSON_OPTION
@QUIET_OPTION
@connection_options
def audience(text: str, k: int, segment: str | None, run_dir: Path | None, cache_dir: Path | None, as_json: bool,
             quiet: bool, **connection: str | None) -> None:
    """The users whose profiles are closest to TEXT, e.g. "gifts for home cooks".

    TEXT goes through the run's text encoder and model as if a new user had searched
    it and done nothing else; that profile's nearest stored users (cosine, via the vector
    index) are the audience. A text that is a known search query uses that query's node,
    which also knows the items the query led to.
    """
    from personagraph.pipeline.text_audience import TextAudience

    segment_key: int | str | None = int(segment) if segment is not None and segment.lstrip("-").isdigit() else segment
    with open_profile_store(**connection) as store:
        run = _load_run(run_dir, cache_dir, _stored_run_id(store), quiet)
        finder = TextAudience(run.model, run.encoder, run.graph, run.shop.events.query_texts)
        hits = finder.find(store, text, k=k, segment=segment_key)
    if as_json:
        click.echo(json.dumps([hit._asdict() for hit in hits], indent=2, default=str))
        return
    click.echo(format_table([
        {"rank": rank, "user": hit.id, "score": hit.score, "segment": hit.properties.get("segment"),
         "segment_name": hit.properties.get("segment_name"), "top_tags": hit.properties.get("top_tags")}
        for rank, hit in enumerate(hits, start=1)
    ]))


@click.command()
@JSON_OPTION
@connection_options
def segments(as_json: bool, **connection: str | None) -> None:
    """The user segments of the stored profiles: id, name, size, share of users and top tags
    (each tag's mean weight among the members)."""
    with open_profile_store(**connection) as store:
        rows = store.run_cypher(
            "MATCH (s:Segment) WITH collect(s) AS all, sum(s.size) AS users UNWIND all AS s "
            "RETURN s.id AS id, s.name AS name, s.size AS size, toFloat(s.size) / users AS share, "
            "[i IN range(0, size(s.top_tags) - 1) | {tag: s.top_tags[i], weight: s.top_tag_weights[i]}] AS top_tags "
            "ORDER BY id"
        )
    if not rows:
        raise PersonaGraphError("no segments in Neo4j — store profiles first (`personagraph train`)")
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(format_table([
        row | {"top_tags": [f"{t['tag']} ({t['weight']:.2f})" for t in row["top_tags"]]} for row in rows
    ]))


def _stored_user(store: "Neo4jProfileStore", user_id: str) -> dict[str, Any]:
    rows = store.run_cypher(
        "MATCH (u:User {id: $id}) WHERE u.embedding IS NOT NULL "
        "RETURN u.run_id AS run_id, u.segment AS segment, u.segment_name AS segment_name, "
        "u.top_tags AS top_tags, u.embedding AS embedding",
        {"id": user_id},
    )
    if not rows:
        raise PersonaGraphError(
            f"no user {user_id!r} in Neo4j — check the id, or store profiles first (`personagraph train`)"
        )
    return rows[0]


def _stored_run_id(store: "Neo4jProfileStore") -> str:
    """The run of the most recently written profiles."""
    rows = store.run_cypher(
        "MATCH (u:User) WHERE u.run_id IS NOT NULL RETURN u.run_id AS run_id ORDER BY u.updated_at DESC LIMIT 1"
    )
    if not rows:
        raise PersonaGraphError("no profiles in Neo4j — store profiles first (`personagraph train`)")
    return rows[0]["run_id"]


def _load_run(run_dir: Path | None, cache_dir: Path | None, stored_run_id: str, quiet: bool) -> "TrainedRun":
    """The run in ``run_dir``, else the one that wrote the stored profiles; warns when they differ."""
    from personagraph.pipeline.trained_run import TrainedRun, find_run_folder

    folder = run_dir if run_dir is not None else find_run_folder(stored_run_id).path
    run = TrainedRun.load(folder, cache_dir, progress=not quiet)
    if run.run_id != stored_run_id:
        click.echo(f"warning: the stored profiles come from run {stored_run_id}, the model from run "
                   f"{run.run_id}; results describe that model, not the stored vectors", err=True)
    return run
