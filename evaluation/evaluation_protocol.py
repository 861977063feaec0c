"""Which history each model is fitted on, tuned against and tested with, per dataset kind.

Three cases, chosen by the folder's ``dataset.json``:

- ``leave-one-out`` (and a shop's own logs, which have no ``dataset.json``): per user the
  latest positive item is the test target and the one before it the validation target
  (:func:`leave_last_out` twice). Models are fitted on what precedes the validation target
  and tuned on it; the test input history is training + validation, as a deployed profile
  would see it.
- ``given-split`` (e.g. Gowalla): the test pairs are fixed by ``test.parquet``; validation
  is a fraction of each user's training items, so tuning never looks at the test. Which
  fraction is ``dataset.json``'s ``validation_holdout``: ``random`` (the default) or
  ``latest`` — each user's latest items, by time and, among equal times, by their order in
  the file — for a split whose test holds what came after the training file's lines (a
  random hold-out would then tune for a different task than the test poses). A latest
  hold-out is as large a share of the training items as the test is of all items, so that
  validation looks as far ahead of its history as the test does: how strongly recent items
  should count depends on that horizon.

In both, the test input history is everything but the test targets. Which of a user's
input-history items a ranking may list is the *history rule* (``dataset.json``'s
``history_rule``, default ``excluded``; ``both`` reports each):

- ``excluded``: the items a user bought are never ranked (LightGCN's and most collaborative
  filtering papers' rule);
- ``included``: all items are ranked, history too (the rule of the text-aware sequential
  papers on the Amazon splits); re-listing a history item is then each model's own decision,
  a repeat weight chosen on validation under this rule (see
  :meth:`~personagraph.evaluation.ranker.Ranker.choose_repeat_weight`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import torch

from personagraph.errors import PersonaGraphError
from personagraph.shop.leave_last_out import leave_last_out
from personagraph.evaluation.ranking_metrics import Targets, as_csr
from personagraph.shop.shop_data import ShopData
from personagraph.shop.dataset_description import read_dataset_description
from personagraph.shop.shop_reader import read_shop

LEAVE_ONE_OUT = "leave-one-out"
GIVEN_SPLIT = "given-split"
#: Share of each user's training items held out (at random) for validation on a given split.
VALIDATION_FRACTION = 0.1
#: Which of a user's training items a given split holds out for validation (``validation_holdout``).
HOLDOUT_RANDOM, HOLDOUT_LATEST = "random", "latest"
HOLDOUTS: tuple[str, ...] = (HOLDOUT_RANDOM, HOLDOUT_LATEST)
HISTORY_EXCLUDED = "excluded"
HISTORY_INCLUDED = "included"
#: Every history rule, in report order; ``both`` (on the command line, in ``dataset.json``) means all.
HISTORY_RULES: tuple[str, ...] = (HISTORY_EXCLUDED, HISTORY_INCLUDED)
HISTORY_RULE_TEXT: dict[str, str] = {
    HISTORY_EXCLUDED: "history excluded: items in a user's input history are never ranked",
    HISTORY_INCLUDED: "history not excluded: all items ranked, history too, as in the text-aware sequential "
                      "papers; each model lowers history items by a repeat weight it chose on validation",
}


def parse_history_rule(value: str) -> tuple[str, ...]:
    """``excluded``, ``included`` or ``both`` as the rules to report, in :data:`HISTORY_RULES` order."""
    if value == "both":
        return HISTORY_RULES
    if value not in HISTORY_RULES:
        raise PersonaGraphError(f"unknown history rule {value!r}; use {', '.join(HISTORY_RULES)} or both")
    return (value,)


@dataclass
class EvaluationProtocol:
    """The splits of one evaluation.

    ``train`` is what models are fitted on and ``validation`` what they are tuned against;
    ``history`` (training + validation) is the input for the test figure and ``test`` its
    targets. Targets are one item per user (``Tensor``, -1 = none) or a CSR pair.
    """

    name: str
    train: ShopData
    validation: Targets
    history: ShopData
    test: Targets
    description: dict[str, Any]

    @property
    def history_rules(self) -> tuple[str, ...]:
        """The rules to report unless told otherwise: ``dataset.json``'s ``history_rule`` (default excluded)."""
        return parse_history_rule(self.description.get("history_rule", HISTORY_EXCLUDED))

    @classmethod
    def leave_one_out(cls, shop: ShopData, description: dict[str, Any] | None = None) -> "EvaluationProtocol":
        """Last positive item = test, second-to-last = validation."""
        test_split = leave_last_out(shop)
        validation_split = leave_last_out(test_split.train)
        return cls(
            name=LEAVE_ONE_OUT,
            train=validation_split.train,
            validation=torch.from_numpy(validation_split.targets),
            history=test_split.train,
            test=torch.from_numpy(test_split.targets),
            description=description or {},
        )

    @classmethod
    def given_split(
        cls,
        shop: ShopData,
        test_pairs: tuple[np.ndarray, np.ndarray],
        validation_fraction: float | None = None,
        seed: int = 0,
        description: dict[str, Any] | None = None,
        holdout: str = HOLDOUT_RANDOM,
    ) -> "EvaluationProtocol":
        """``shop`` holds all training events, ``test_pairs`` the (user, item) test indices; ``holdout``
        says which training items validate (:data:`HOLDOUT_RANDOM` or :data:`HOLDOUT_LATEST`), and
        ``validation_fraction`` what share of each user's (``None``: :data:`VALIDATION_FRACTION` at
        random, the test's share of all distinct pairs for the latest)."""
        if holdout not in HOLDOUTS:
            raise ValueError(f"unknown validation holdout {holdout!r}")
        users, items = (torch.from_numpy(np.asarray(a, dtype=np.int64)) for a in test_pairs)
        latest = holdout == HOLDOUT_LATEST
        if validation_fraction is None:
            validation_fraction = _test_share(shop, users.numel()) if latest else VALIDATION_FRACTION
        train, validation = _hold_out(shop, validation_fraction, seed, latest=latest)
        return cls(
            name=GIVEN_SPLIT,
            train=train,
            validation=validation,
            history=shop,
            test=as_csr(torch.stack([users, items]), shop.events.num_users),
            description=description or {},
        )

    @classmethod
    def from_folder(cls, data_dir: str | Path, seed: int = 0, progress: bool = False) -> "EvaluationProtocol":
        """Read a shop folder and split it as its ``dataset.json`` says (none: leave-one-out)."""
        data_dir = Path(data_dir)
        description_path = data_dir / "dataset.json"
        description = read_dataset_description(data_dir)
        protocol = description.get("protocol", LEAVE_ONE_OUT)
        holdout = description.get("validation_holdout", HOLDOUT_RANDOM)
        if holdout not in HOLDOUTS:  # before the shop is read
            raise PersonaGraphError(f"{description_path}: unknown validation_holdout {holdout!r}; "
                                    f"use {HOLDOUT_RANDOM!r} or {HOLDOUT_LATEST!r}")
        shop = read_shop(data_dir, progress=progress)
        if protocol == LEAVE_ONE_OUT:
            return cls.leave_one_out(shop, description)
        if protocol == GIVEN_SPLIT:
            test_file = data_dir / description.get("test", "test.parquet")
            return cls.given_split(shop, read_test_pairs(test_file, shop), seed=seed, description=description,
                                   holdout=holdout)
        raise PersonaGraphError(
            f"{description_path}: unknown protocol {protocol!r}; use {LEAVE_ONE_OUT!r} or {GIVEN_SPLIT!r}"
        )

    def counts(self) -> dict[str, int]:
        """Sizes worth printing beside the results."""
        num_users = self.history.events.num_users
        validation_indptr, _ = as_csr(self.validation, num_users)
        test_indptr, test_items = as_csr(self.test, num_users)
        return {
            "users": num_users,
            "items": len(self.history.catalog),
            "history_events": len(self.history.events),
            "train_events": len(self.train.events),
            "validation_users": int((validation_indptr.diff() > 0).sum()),
            "validation_targets": int(validation_indptr[-1]),
            "test_users": int((test_indptr.diff() > 0).sum()),
            "test_targets": int(test_items.numel()),
        }


def read_test_pairs(path: Path, shop: ShopData) -> tuple[np.ndarray, np.ndarray]:
    """``test.parquet`` (user_id, item_id) as user and item indices of ``shop``."""
    if not path.is_file():
        raise PersonaGraphError(f"{path} not found: a given-split dataset needs its test pairs (user_id, item_id)")
    table = pq.read_table(path, columns=["user_id", "item_id"])
    user_index = {user_id: i for i, user_id in enumerate(shop.events.user_ids)}
    user_ids, item_ids = table["user_id"].to_pylist(), table["item_id"].to_pylist()
    unknown_users = {u for u in user_ids if u not in user_index}
    unknown_items = {i for i in item_ids if i not in shop.catalog.index}
    if unknown_users or unknown_items:
        raise PersonaGraphError(
            f"{path}: {len(unknown_users)} user(s) and {len(unknown_items)} item(s) are not in the "
            f"training data (e.g. {sorted(unknown_users)[:3]} {sorted(unknown_items)[:3]}); "
            "test pairs must use the ids of events.* and items.*"
        )
    users = np.fromiter((user_index[u] for u in user_ids), dtype=np.int64, count=len(user_ids))
    items = np.fromiter((shop.catalog.index[i] for i in item_ids), dtype=np.int64, count=len(item_ids))
    return users, items


def _test_share(shop: ShopData, test_pairs: int) -> float:
    """The test pairs' share of all distinct (user, item) pairs, training and test."""
    events = shop.events
    has_item = events.item >= 0
    train_pairs = np.unique(events.user[has_item] * max(len(shop.catalog), 1) + events.item[has_item]).size
    return test_pairs / max(train_pairs + test_pairs, 1)


def _hold_out(shop: ShopData, fraction: float, seed: int,
              latest: bool = False) -> tuple[ShopData, tuple[torch.Tensor, torch.Tensor]]:
    """Hold out ``fraction`` of each user's distinct items (at least one, never all) with all their events:
    random ones, or with ``latest`` the ones whose latest event is newest (ties: later in the log)."""
    events = shop.events
    has_item = events.item >= 0
    stride = max(len(shop.catalog), 1)
    keys = events.user[has_item] * stride + events.item[has_item]
    pairs, pair_of = np.unique(keys, return_inverse=True)
    pair_user, pair_item = pairs // stride, pairs % stride
    if latest:
        # The log is sorted by (user, time), ties in file order: a pair's last row is its latest event.
        last_row = np.zeros(pairs.size, dtype=np.int64)
        np.maximum.at(last_row, pair_of, np.flatnonzero(has_item))
        order = np.lexsort((-last_row, pair_user))  # newest first within each user
    else:
        # Shuffle within users: sort by (user, random key).
        order = np.lexsort((np.random.default_rng(seed).random(pairs.size), pair_user))
    # The first ``n_held`` of each user in that order are held out.
    pair_user, pair_item = pair_user[order], pair_item[order]
    per_user = np.bincount(pair_user, minlength=events.num_users)
    n_held = np.where(per_user >= 2, np.clip(np.rint(per_user * fraction), 1, per_user - 1), 0).astype(np.int64)
    starts = np.cumsum(per_user) - per_user
    position = np.arange(pair_user.size) - starts[pair_user]
    held = position < n_held[pair_user]
    held_keys = pair_user[held] * stride + pair_item[held]
    drop = has_item & np.isin(events.user * stride + events.item, held_keys)
    validation = as_csr(torch.from_numpy(np.stack([pair_user[held], pair_item[held]])), events.num_users)
    return ShopData(catalog=shop.catalog, events=events.select(~drop), social=shop.social), validation
