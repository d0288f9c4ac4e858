"""The sandbox's indexes (issue 14): lookups answer from them, every mutation keeps them right, and a request
touches only what it returns (its cost does not grow with the org)."""

from __future__ import annotations

from ledger.sandbox import ids
from ledger.sandbox.state import SandboxState


def _org(n: int) -> tuple[SandboxState, str, str]:
    st = SandboxState(seed=1)
    a = st.add_location("A", calling_enabled=True)
    b = st.add_location("B", calling_enabled=True)
    for i in range(n):
        st.add_number(a, f"+3493100{i:04d}")
        st.add_person(f"u{i}@x.com", location_id=a, extension=str(1000 + i), calling=True,
                      phone_number=f"+3493100{i:04d}" if i % 2 else None)
    return st, a, b


def test_lookups_answer_from_the_indexes_and_stay_right_through_mutations():
    st, a, b = _org(50)
    p = st.person_by_email("U7@x.com")
    assert p is not None and p["emails"] == ["u7@x.com"]
    assert st._extension_owner(a, "1007") is p
    # an email change, a move with a new extension, a licence removal, a delete: every index follows
    st.api_update_person(p["id"], {"emails": ["new7@x.com"]}, calling_data=False)
    assert st.person_by_email("u7@x.com") is None and st.person_by_email("new7@x.com") is p
    q = st.person_by_email("u9@x.com")
    st._move_person(q, {"extension": "5009"}, st.get_location(b))
    assert st._extension_owner(a, "1009") is None and st._extension_owner(b, "5009") is q
    assert [r["phoneNumber"] for r in st.numbers_owned_by(q["id"])] == ["+34931000009"]
    assert "+34931000009" in st.numbers_in(b) and "+34931000009" not in st.numbers_in(a)
    r = st.person_by_email("u11@x.com")
    st._apply_licence_remove(r, st.license_by_sku("BCSTD"))
    assert st._extension_owner(a, "1011") is None and st.numbers_owned_by(r["id"]) == []
    st.api_delete_person(st.person_by_email("u13@x.com")["id"])
    assert st.person_by_email("u13@x.com") is None and st._extension_owner(a, "1013") is None
    w = st.add_workspace("Room 1", a, calling="webexCalling", extension="2001")
    assert st.workspaces_by_name("Room 1")[0]["id"] == w and st._extension_owner(a, "2001")["id"] == w
    assert st.check_indexes() == []


def test_check_indexes_names_a_mutation_that_forgot_to_reindex():
    st, a, _ = _org(3)
    p = st.person_by_email("u1@x.com")
    p["extension"] = "9999"  # changed in place without reindex
    assert st.check_indexes() and "ext" in st.check_indexes()[0]
    st.reindex(p)
    assert st.check_indexes() == []


def test_an_email_lookup_touches_only_the_matching_people():
    """Not a timing: the people dict is replaced by one that counts how often it is walked."""
    st, _, _ = _org(200)
    walked = []
    real_values = type(st.people).values

    def values(self):
        walked.append(1)
        return real_values(self)

    type(st.people).values = values
    try:
        assert st.person_by_email("u150@x.com")["extension"] == "1150"
        assert st._extension_owner(st.location_by_name("A")["id"], "1150") is not None
        assert st.person_by_email("nobody@x.com") is None
    finally:
        type(st.people).values = real_values
    assert walked == []
    assert ids.key(st.person_by_email("u3@x.com")["id"]) in st.people
