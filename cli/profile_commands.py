"""`personagraph explain / recommend / audience / segments`: read the stored profiles.

`recommend` and `segments` read Neo4j alone (`recommend --run` ranks from a run folder
instead). `explain` and `audience` also need the run that made the profiles, found by the
rule of :func:`load_run`, the same for every command that reads a run. These are quick
lookups: they print their answer and nothing else (no progress bars).
"""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from personagraph.cli.store_commands import connection_options, format_table, open_profile_store
from personagraph.errors import PersonaGraphError

if TYPE_CHECKING:
    from personagraph.pipeline.run import Run
    from personagraph.store.neo4j_profile_store import Neo4jProfileStore
    from personagraph.store.profile_store import ProfileStore


RUN_HELP = ("Run folder [default: the run of the profiles in Neo4j, under ./runs; where Neo4j is not read "
            "(profile, update --no-sync), the newest run folder under ./runs].")


def run_option(help_text: str = RUN_HELP) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--run RUN_DIR``, the option of every command that reads a run folder."""
    return click.option("--run", "run_dir", type=click.Path(file_okay=False, path_type=Path), help=help_text)


RUN_OPTION = run_option()
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
#: Lookups never show progress bars; the flag they once needed for that is still accepted.
QUIET_OPTION = click.option("--quiet", is_flag=True, hidden=True, expose_value=False)
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
def explain(user_id: str, top: int, run_dir: Path | None, cache_dir: Path | None, as_json: bool,
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
    from personagraph.profiles.social_mix import mix_one

    with open_profile_store(**connection) as store:
        stored = _stored_user(store, user_id)
        run = load_run(run_dir, cache_dir, store)
    explainer = ProfileExplainer(run.model, run.graph, run.space)
    user = run.user_index(user_id)
    evidence = explainer.explain(user, top)
    stored_vector = np.asarray(stored["embedding"], dtype=np.float64)
    recomputed = explainer.vector(user)
    social = run.shop.social
    friends = social.neighbours(np.array([user]), run.shop.events.num_users) if social is not None else []
    if run.space.social_weight > 0 and len(friends):  # the stored vector carries the friends' share
        recomputed = mix_one(recomputed, np.stack([explainer.vector(f) for f in friends.tolist()]),
                             run.space.social_weight)
    vector_match = float(recomputed @ stored_vector / max(np.linalg.norm(stored_vector), 1e-12))
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
    if social is not None:
        summary["social"] = {name: stored.get(name) for name in SOCIAL_PROPERTIES} | {
            "friends_weight": run.space.social_weight}
    if as_json:
        click.echo(json.dumps(summary | {"evidence": rows}, indent=2, default=str))
        return
    click.echo(f"user {user_id} · segment {stored['segment']} ({stored['segment_name']}) · "
               f"tags: {', '.join(stored['top_tags'] or [])}")
    if "social" in summary:
        click.echo(describe_social(summary["social"]))
    click.echo(f"run {run.run_id} · vector match {vector_match:.4f}\n")
    click.echo(format_table([{"rank": rank} | row for rank, row in enumerate(rows, start=1)],
                            ["rank", "type", "label", "category", "edges", "attention", "alignment", "score"]))


@click.command()
@click.argument("user_id")
@click.option("-k", "k", default=10, show_default=True, type=click.IntRange(min=1), help="How many items.")
@click.option("--include-seen", is_flag=True,
              help="Also rank items the user already viewed, clicked, carted or bought.")
@run_option("Rank from this run folder's stored vectors instead of Neo4j's (no database needed).")
@JSON_OPTION
@connection_options
def recommend(user_id: str, k: int, include_seen: bool, run_dir: Path | None, as_json: bool,
              **connection: str | None) -> None:
    """The items the model scores highest for USER_ID (cosine of the stored user and item
    vectors, via the item vector index, plus the neighbour score of the user's items where
    training chose it); items the user already touched are left out."""
    from personagraph.pipeline.recommender import Recommender

    if run_dir is not None:
        items = load_run(run_dir).recommend(user_id, k=k, include_seen=include_seen)
    else:
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
             **connection: str | None) -> None:
    """The users whose profiles are closest to TEXT, e.g. "gifts for home cooks".

    TEXT is profiled in the run's profile space as a new user who viewed the items it
    describes (titles holding all its words, and the few items nearest it by text) and,
    where the shop has searches, searched it (what `update` would store for that user);
    that profile's nearest stored users (cosine, via the vector index) are the audience.
    """
    from personagraph.pipeline.text_audience import TextAudience

    segment_key: int | str | None = int(segment) if segment is not None and segment.lstrip("-").isdigit() else segment
    with open_profile_store(**connection) as store:
        run = load_run(run_dir, cache_dir, store)
        hits = TextAudience.from_run(run).find(store, text, k=k, segment=segment_key)
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
        stored = store.segments()
    if not stored:
        raise PersonaGraphError("no segments in Neo4j — store profiles first (`personagraph train`)")
    users = max(sum(segment.size for segment in stored), 1)
    rows = [
        {"id": segment.id, "name": segment.name, "size": segment.size, "share": segment.size / users,
         "top_tags": [{"tag": tag, "weight": weight} for tag, weight in segment.top_tags]}
        for segment in stored
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(format_table([
        row | {"top_tags": [f"{t['tag']} ({t['weight']:.2f})" for t in row["top_tags"]]} for row in rows
    ]))


def _stored_user(store: "Neo4jProfileStore", user_id: str) -> dict[str, Any]:
    user = store.require_user(user_id)
    shown = {name: user.properties.get(name)
             for name in ("run_id", "segment", "segment_name", "top_tags", *SOCIAL_PROPERTIES)}
    return shown | {"embedding": user.embedding}


#: The social features a profile stores (profiles/social_features.py), shown by `explain`.
SOCIAL_PROPERTIES = ("social_links", "social_relations", "social_relation_counts", "influence", "social_community",
                     "friend_tag_agreement")


def describe_social(social: dict[str, Any]) -> str:
    """One line: links by relation, influence, circle, shared tags and the friends' weight in the vector."""
    relations = ", ".join(f"{name} {count}" for name, count in
                          zip(social.get("social_relations") or [], social.get("social_relation_counts") or []))
    parts = [f"social: {social.get('social_links') or 0} linked users" + (f" ({relations})" if relations else "")]
    if social.get("influence") is not None:
        parts.append(f"influence {social['influence']:.2f}x the average user")
    if social.get("social_community") is not None:
        parts.append(f"community {social['social_community']}")
    if social.get("friend_tag_agreement") is not None:
        parts.append(f"shares {social['friend_tag_agreement']:.0%} of top tags with friends")
    parts.append(f"friends' weight in the vector {social.get('friends_weight', 0.0):g}")
    return " · ".join(parts)


def _stored_run_id(store: "Neo4jProfileStore") -> str:
    """The run of the most recently written profiles."""
    run_id = store.active_run_id()
    if run_id is None:
        raise PersonaGraphError("no profiles in Neo4j — store profiles first (`personagraph train`)")
    return run_id


def load_run(run_dir: Path | None, cache_dir: Path | None = None, store: "ProfileStore | None" = None) -> "Run":
    """The run a lookup reads, by the rule every command follows (:func:`~personagraph.pipeline.run.find_run_dir`):
    ``--run``, else the run of the profiles in ``store``, else the newest run folder under ./runs.
    Warns when the run is not the one the stored profiles come from."""
    from personagraph.pipeline.run import Run
    from personagraph.pipeline.run_folder import trained_run_id

    stored_run_id = _stored_run_id(store) if store is not None else None
    run = Run.load(run_dir, cache_dir, active_run_id=stored_run_id)
    if stored_run_id is not None and trained_run_id(stored_run_id) != run.trained_run_id:
        click.echo(f"warning: the stored profiles come from run {stored_run_id}, the model from run "
                   f"{run.trained_run_id}; results describe that model, not the stored vectors", err=True)
    return run
