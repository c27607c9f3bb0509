"""Resident IDs carried across runs, with merges, splits, new and retired residents."""

import pandas as pd

from matching.identity import carry_ids


def frame(rows):
    return pd.DataFrame(rows, columns=["record_key", "resident_id"])


PREVIOUS = frame([("a", "R1"), ("b", "R1"), ("c", "R2"), ("d", "R3"), ("e", "R3"), ("f", "R4")])


def test_unchanged_people_keep_their_ids_and_nothing_is_recorded():
    current = frame([("a", "X1"), ("b", "X1"), ("c", "X2"), ("d", "X3"), ("e", "X3"),
                     ("f", "X4")])  # fmt: skip
    ids, history = carry_ids(current, PREVIOUS)
    assert list(ids) == ["R1", "R1", "R2", "R3", "R3", "R4"]
    assert history.empty


def test_merge_split_new_and_retired():
    current = frame(
        [
            ("a", "X1"), ("b", "X1"), ("c", "X1"),  # R1 and R2 are one person
            ("d", "X3"), ("e", "X5"),  # R3 is two people
            ("g", "X6"),  # someone new; f (R4) is gone
        ]
    )  # fmt: skip
    ids, history = carry_ids(current, PREVIOUS)
    assert list(ids[:3]) == ["R1", "R1", "R1"]
    assert ids[3] == "R3" and ids[4] not in {"R3", "X5"} and ids[4].startswith("R")
    assert ids[5] == "X6"
    events = {(r.event, r.resident_id, r.related_id) for r in history.itertuples()}
    assert ("merged", "R2", "R1") in events
    assert ("split", ids[4], "R3") in events
    assert ("new", "X6", None) in events
    assert ("retired", "R4", None) in events
    assert len(events) == 4


def test_first_run_everyone_is_new():
    current = frame([("a", "X1"), ("b", "X1"), ("c", "X2")])
    ids, history = carry_ids(current, frame([]))
    assert list(ids) == ["X1", "X1", "X2"]
    assert sorted(history["resident_id"]) == ["X1", "X2"] and set(history["event"]) == {"new"}
