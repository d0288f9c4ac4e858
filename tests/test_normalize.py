"""Value normalisers: examples, and Hypothesis round-trips (normal form is a fixed point;
format → parse returns the same normal form)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.importing import normalize as n
from ledger.spec import Column, ColType

ENUM = n.make_enum(("ROUTE_GROUP", "TRUNK"))


def webex_id(kind: str, uuid: str) -> str:
    return base64.b64encode(f"ciscospark://us/{kind}/{uuid}".encode()).decode().rstrip("=")


# --- examples -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [("TRUE", True), ("false", False), ("1", True), ("0", False), ("Sí", True), ("si", True), ("YES", True), ("no", False)],
)
def test_bool(text: str, value: bool) -> None:
    assert n.norm_bool(text) is value


@pytest.mark.parametrize(
    ("text", "value"),
    [("+34 935 678 901", "+34935678901"), ("34935678901", "+34935678901"), ("+1-212-555-0100", "+12125550100"),
     ("(+34) 93.567.89.01", "+34935678901")],
)
def test_e164(text: str, value: str) -> None:
    assert n.norm_e164(text) == value


@pytest.mark.parametrize(
    ("fn", "text", "reason"),
    [
        (n.norm_bool, "maybe", "not a boolean ('maybe'; use TRUE or FALSE)"),
        (n.norm_e164, "3,49357E+10", "scientific notation"),
        (n.norm_e164, "034935678901", "start with the country code"),
        (n.norm_e164, "+34 93x", "not an E.164 phone number"),
        (n.norm_e164, "+12345", "5 digits"),
        (n.norm_e164, "935678901", "no country code ('935678901'; write it as +34…"),
        (n.norm_email, "foo@", "not a valid email address ('foo@')"),
        (n.norm_email, "a b@x.com", "not a valid email address"),
        (n.norm_webex_id, "not-an-id!", "not a Webex id"),
        (n.norm_webex_id, base64.b64encode(b"hello world").decode(), "does not decode to ciscospark"),
        (n.norm_extension, "12a", "digits only"),
        (n.norm_extension, "80347245.0", "digits only"),
        (n.norm_int, "1.5", "not a whole number"),
        (ENUM, "route", "not one of ROUTE_GROUP, TRUNK ('route')"),
    ],
)
def test_rejections_say_why(fn: Callable[[str], Any], text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=None) as info:
        fn(text)
    assert reason in str(info.value)


def test_email_lower_cased() -> None:
    assert n.norm_email("  Ana.Perez@Example.COM ") == "ana.perez@example.com"


def test_webex_id_padding_removed_and_urlsafe_accepted() -> None:
    raw = base64.b64encode(b"ciscospark://us/PEOPLE/abc").decode()
    assert raw.endswith("=")
    assert n.norm_webex_id(raw) == raw.rstrip("=")
    urlsafe = base64.urlsafe_b64encode(b"ciscospark://us/PEOPLE/\xfb\xff").decode()
    assert n.norm_webex_id(urlsafe) == urlsafe.rstrip("=")


def test_lists_trim_drop_empty_dedupe_in_order() -> None:
    assert n.norm_list(" b, a,,b , c ") == ["b", "a", "c"]
    assert n.norm_e164_list("+34935678901, 34935678901,+34935678902") == ["+34935678901", "+34935678902"]
    one, two = webex_id("LICENSE", "1"), webex_id("LICENSE", "2")
    assert n.norm_id_list(f"{one}=,{two},{one}") == [one, two]


def test_enum_case_insensitive_to_canonical() -> None:
    assert ENUM("route group") == "ROUTE_GROUP"
    assert ENUM("trunk") == "TRUNK"


def test_extension_keeps_leading_zeros() -> None:
    assert n.norm_extension("0042") == "0042"


def test_normalizer_for_every_coltype() -> None:
    for t in ColType:
        col = Column("c", t, choices=("A", "B") if t is ColType.ENUM else ())
        assert callable(n.normalizer_for(col))


# --- round trips ---------------------------------------------------------------------------------

word = st.text(st.characters(codec="utf-8", exclude_characters=",\r\n\x00"), min_size=1, max_size=20).map(str.strip).filter(bool)
e164 = st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True)
email = st.from_regex(r"[a-z0-9._%+-]{1,20}@[a-z0-9]{1,10}(\.[a-z]{2,6}){1,2}", fullmatch=True)
ids = st.builds(webex_id, st.sampled_from(["PEOPLE", "LICENSE", "LOCATION"]), st.uuids().map(str)).map(n.norm_webex_id)
extension = st.from_regex(r"[0-9]{1,10}", fullmatch=True)


def _unique(xs: list[Any]) -> list[Any]:
    return list(dict.fromkeys(xs))


CASES: list[tuple[Callable[[str], Any], st.SearchStrategy[Any]]] = [
    (n.norm_string, word),
    (n.norm_bool, st.booleans()),
    (n.norm_e164, e164),
    (n.norm_email, email),
    (n.norm_webex_id, ids),
    (n.norm_extension, extension),
    (n.norm_int, st.integers(-(10**12), 10**12)),
    (ENUM, st.sampled_from(["ROUTE_GROUP", "TRUNK"])),
    (n.norm_list, st.lists(word, max_size=6).map(_unique).filter(bool)),
    (n.norm_e164_list, st.lists(e164, max_size=6).map(_unique).filter(bool)),
    (n.norm_id_list, st.lists(ids, max_size=4).map(_unique).filter(bool)),
]


@pytest.mark.parametrize(("parse", "strategy"), CASES, ids=lambda x: getattr(x, "__name__", ""))
def test_format_then_parse_round_trips(parse: Callable[[str], Any], strategy: st.SearchStrategy[Any]) -> None:
    @given(strategy)
    def check(value: Any) -> None:
        text = n.format_value(value)
        assert parse(text) == value  # format → parse is the identity on normal forms
        assert parse(n.format_value(parse(text))) == parse(text)  # the normal form is a fixed point

    check()


@given(st.text(max_size=30))
def test_parsers_raise_only_valueerror(text: str) -> None:
    for parse, _ in CASES:
        try:
            parse(text.strip() or "x")
        except ValueError:
            pass


@given(st.text(st.characters(codec="utf-8", exclude_characters=",\r\n\x00"), max_size=40))
def test_parsed_normal_form_is_fixed_point(text: str) -> None:
    """Whatever a parser accepts, parsing its own formatted output changes nothing."""
    for parse, _ in CASES:
        try:
            value = parse(text)
        except ValueError:
            continue
        assert parse(n.format_value(value)) == value
