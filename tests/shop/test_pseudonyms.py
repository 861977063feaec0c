"""Pseudonyms (keyed hash, private key file), search-text redaction and the shop recoding both rely on."""
from __future__ import annotations

import stat

import numpy as np
import pytest

from personagraph.errors import PersonaGraphError
from personagraph.shop.pseudonyms import Pseudonymiser
from personagraph.shop.query_redaction import redact_query_pii
from personagraph.shop.rejected_row import RejectedRow
from personagraph.shop.shop_privacy import ShopPrivacy
from personagraph.shop.shop_reader import shop_from_rows
from personagraph.shop.user_recoding import without_users
from personagraph.shop.validation_problem import ValidationProblem

ITEMS = [{"item_id": "i1", "title": "drill"}, {"item_id": "i2", "title": "saw"}]
EVENTS = [
    {"user_id": "zoe", "event": "view", "timestamp": "10", "item_id": "i1"},
    {"user_id": "amy", "event": "search", "timestamp": "20", "query": "Mail me at Amy.B@Example.com"},
    {"user_id": "amy", "event": "view", "timestamp": "5", "item_id": "i2"},
    {"user_id": "bob", "event": "search", "timestamp": "30", "query": "call +44 20 7946 0958"},
    {"user_id": "bob", "event": "search", "timestamp": "31", "query": "mail me at bob@example.org"},
]


def test_pseudonyms_are_stable_per_key_and_differ_between_keys(tmp_path):
    key = tmp_path / "state" / "pseudonym.key"
    first = Pseudonymiser.from_key_file(key)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    again = Pseudonymiser.from_key_file(key)  # read back, not replaced
    assert first("alice") == again(" alice ") and first("alice").startswith("p_") and len(first("alice")) == 34
    assert first("alice") != first("alicf") and first.key_id == again.key_id
    other = Pseudonymiser.from_key_file(tmp_path / "other.key")
    assert other("alice") != first("alice") and other.key_id != first.key_id
    assert "alice" not in first("alice") and first.key_id not in key.read_text()


def test_a_damaged_key_file_is_refused(tmp_path):
    key = tmp_path / "pseudonym.key"
    key.write_text("not hex\n")
    with pytest.raises(PersonaGraphError, match="does not hold a pseudonym key"):
        Pseudonymiser.from_key_file(key)


def test_pseudonymising_a_shop_renames_users_and_keeps_their_events(tmp_path):
    shop = shop_from_rows(ITEMS, EVENTS)
    pseudonymiser = Pseudonymiser(b"k" * 32)
    renamed = ShopPrivacy(pseudonymiser, redact_queries=False).shop(shop)
    events = renamed.events
    assert events.user_ids == sorted(pseudonymiser(u) for u in ("amy", "bob", "zoe"))
    assert np.all(np.diff(events.user) >= 0)  # sorted by user, as the readers sort

    def history(log, user_id):
        mine = log.user == log.user_ids.index(user_id)
        return list(zip(log.kind[mine].tolist(), log.timestamp[mine].tolist(), log.item[mine].tolist()))

    for user_id in ("amy", "bob", "zoe"):
        assert history(events, pseudonymiser(user_id)) == history(shop.events, user_id)


def test_rejected_rows_keep_no_raw_id():
    pseudonymiser = Pseudonymiser(b"k" * 32)
    rows = pseudonymiser.rejected([
        RejectedRow({"user_id": " amy ", "event": "fly"}, ValidationProblem("events.csv", "2", "event", "unknown")),
        RejectedRow({"user_id": "amy", "other_user_id": "bob", "relation": "friend"},
                    ValidationProblem("social.csv", "2", "other_user_id", "unknown user 'bob' (no events)")),
        RejectedRow({"user_id": "2025", "event": "amy"}, ValidationProblem("events.csv", "3", "row", "has 3 fields")),
    ])
    assert rows[0].values == {"user_id": pseudonymiser("amy"), "event": "fly"}
    assert rows[1].values["other_user_id"] == pseudonymiser("bob") and "bob" not in rows[1].problem.reason
    assert rows[2].values == {} and rows[2].problem.reason == "has 3 fields"


@pytest.mark.parametrize(("text", "redacted"), [
    ("mail me at amy.b@example.com", "mail me at <email>"),
    ("call +44 20 7946 0958 today", "call <phone> today"),
    ("(555) 123-4567", "<phone>"),
    ("0612345678", "<phone>"),
    ("rtx 4090 24gb", "rtx 4090 24gb"),
    ("1999-2005 bmw parts", "1999-2005 bmw parts"),
    ("size 10 12", "size 10 12"),
])
def test_redaction_replaces_contact_details_only(text, redacted):
    assert redact_query_pii(text) == redacted


def test_redacted_queries_that_become_equal_are_one_query():
    shop = ShopPrivacy().shop(shop_from_rows(ITEMS, EVENTS))
    assert shop.events.query_texts == ["call <phone>", "mail me at <email>"]
    assert len(shop.events) == len(EVENTS)
    texts = [shop.events.query_texts[q] for q in shop.events.query[shop.events.query >= 0]]
    assert sorted(texts) == ["call <phone>", "mail me at <email>", "mail me at <email>"]


def test_rejected_query_text_is_redacted_too():
    row = RejectedRow({"user_id": "amy", "query": "amy@example.com", "event": "fly"},
                      ValidationProblem("events.csv", "2", "event", "unknown"))
    assert ShopPrivacy().rejected([row])[0].values["query"] == "<email>"
    assert ShopPrivacy(redact_queries=False).rejected([row])[0].values["query"] == "amy@example.com"


def test_without_users_drops_their_events_and_keeps_the_others_in_order():
    shop = shop_from_rows(ITEMS, EVENTS)
    kept = without_users(shop, {"amy"})
    assert kept.events.user_ids == ["bob", "zoe"] and kept.events.query_texts == shop.events.query_texts
    assert len(kept.events) == 3
    bob = shop.events.user == shop.events.user_ids.index("bob")
    np.testing.assert_array_equal(kept.events.query[kept.events.user == 0], shop.events.query[bob])


def test_a_run_refuses_another_pseudonym_setting(tmp_path):
    pseudonymiser = Pseudonymiser(b"k" * 32)
    config = {"privacy": ShopPrivacy(pseudonymiser).to_config()}
    assert ShopPrivacy.of_run(config, pseudonymiser, "run").pseudonymiser is pseudonymiser
    with pytest.raises(PersonaGraphError, match="pass --pseudonymise"):
        ShopPrivacy.of_run(config, None, "run")
    with pytest.raises(PersonaGraphError, match="another key"):
        ShopPrivacy.of_run(config, Pseudonymiser(b"x" * 32), "run")
    with pytest.raises(PersonaGraphError, match="stores raw user ids"):
        ShopPrivacy.of_run({"privacy": ShopPrivacy().to_config()}, pseudonymiser, "run")
    old = ShopPrivacy.of_run({}, None, "run")  # a run from before privacy settings: raw everything
    assert old.pseudonymiser is None and not old.redact_queries
