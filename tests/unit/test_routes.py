"""Route matching for HttpApi/Api events: specificity, path variables, {proxy+}, ANY, $default, bad routes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coldlab.errors import UsageError
from coldlab.gateway.routes import Route, RouteTable


def table(*routes: tuple[str, str, str]) -> RouteTable:
    return RouteTable(Route.compile("HttpApi", method, path, target) for method, path, target in routes)


def winner(t: RouteTable, method: str, path: str) -> tuple[str, dict[str, str]] | None:
    found = t.match(method, path)
    return None if found is None else (found.route.target, dict(found.path_parameters))


def test_literal_beats_variable_beats_greedy() -> None:
    t = table(
        ("GET", "/items/{id}", "var"),
        ("GET", "/items/special", "literal"),
        ("GET", "/items/{proxy+}", "greedy"),
        ("GET", "/{proxy+}", "root-greedy"),
    )
    assert winner(t, "GET", "/items/special") == ("literal", {})
    assert winner(t, "GET", "/items/42") == ("var", {"id": "42"})
    assert winner(t, "GET", "/items/42/parts") == ("greedy", {"proxy": "42/parts"})
    assert winner(t, "GET", "/other/a/b") == ("root-greedy", {"proxy": "other/a/b"})


def test_literals_from_the_left_win_between_variable_routes() -> None:
    t = table(("GET", "/a/{x}/c", "middle-var"), ("GET", "/a/b/{z}", "last-var"))
    assert winner(t, "GET", "/a/b/c") == ("last-var", {"z": "c"})
    assert winner(t, "GET", "/a/q/c") == ("middle-var", {"x": "q"})


def test_named_method_beats_any_and_method_must_match() -> None:
    t = table(("ANY", "/pets", "any"), ("GET", "/pets", "get"), ("POST", "/orders", "post"))
    assert winner(t, "GET", "/pets") == ("get", {})
    assert winner(t, "delete", "/pets") == ("any", {})
    assert winner(t, "GET", "/orders") is None


def test_default_route_catches_the_rest_and_only_the_rest() -> None:
    t = table(("ANY", "$default", "fallback"), ("GET", "/pets", "pets"))
    assert winner(t, "GET", "/pets") == ("pets", {})
    assert winner(t, "PATCH", "/anything/at/all") == ("fallback", {})
    default, pets = t.match("GET", "/x"), t.match("GET", "/pets")
    assert default is not None
    assert pets is not None
    assert (default.route.route_key, pets.route.route_key) == ("$default", "GET /pets")
    assert Route.compile("HttpApi", "GET", "", "fn").is_default  # no Path at all is the $default route too


def test_greedy_needs_a_segment_and_variables_need_text() -> None:
    t = table(("GET", "/files/{proxy+}", "files"), ("GET", "/users/{id}", "user"))
    assert winner(t, "GET", "/files") is None
    assert winner(t, "GET", "/files/") is None
    assert winner(t, "GET", "/users//") is None
    assert winner(t, "GET", "/users/7/") == ("user", {"id": "7"})  # a trailing slash is not a segment


def test_path_parameters_are_percent_decoded() -> None:
    t = table(("GET", "/items/{id}", "item"), ("GET", "/docs/{proxy+}", "docs"))
    assert winner(t, "GET", "/items/a%20b") == ("item", {"id": "a b"})
    assert winner(t, "GET", "/docs/x%2Fy/z") == ("docs", {"proxy": "x/y/z"})


def test_root_route() -> None:
    t = table(("GET", "/", "root"), ("GET", "/{proxy+}", "rest"))
    assert winner(t, "GET", "/") == ("root", {})
    assert winner(t, "GET", "/x") == ("rest", {"proxy": "x"})


@pytest.mark.parametrize(
    ("method", "path", "words"),
    [
        ("FETCH", "/x", "is not an API Gateway method"),
        ("GET", "items", "must start with '/'"),
        ("GET", "/{proxy+}/more", "must be the last segment"),
        ("GET", "/item{id}", "mixes text and a variable"),
        ("GET", "/{id}/{id}", "appears twice"),
    ],
)
def test_bad_routes_are_usage_errors_naming_the_route_and_source(method: str, path: str, words: str) -> None:
    with pytest.raises(UsageError) as raised:
        Route.compile("HttpApi", method, path, "fn", "template.yaml:12")
    assert words in str(raised.value)
    assert "template.yaml:12" in str(raised.value)
    assert raised.value.exit_code == 2


def test_the_same_route_twice_is_refused_naming_both() -> None:
    routes = [
        Route.compile("HttpApi", "GET", "/items/{id}", "first", "template.yaml:10"),
        Route.compile("Api", "GET", "/items/{key}", "second", "template.yaml:30"),
    ]
    with pytest.raises(UsageError) as raised:
        RouteTable(routes)
    message = str(raised.value)
    assert "first (template.yaml:10)" in message
    assert "second (template.yaml:30)" in message


segment = st.text(alphabet="abcxyz019-_.", min_size=1, max_size=6)


@given(st.lists(segment, min_size=1, max_size=5))
def test_a_literal_route_always_wins_over_variables_for_its_own_path(parts: list[str]) -> None:
    path = "/" + "/".join(parts)
    variable = "/" + "/".join(f"{{v{i}}}" for i in range(len(parts)))
    t = table(("ANY", "$default", "default"), ("ANY", "/{proxy+}", "greedy"), ("GET", variable, "var"))
    t_with_literal = table(
        ("ANY", "$default", "default"),
        ("ANY", "/{proxy+}", "greedy"),
        ("GET", variable, "var"),
        ("GET", path, "lit"),
    )
    assert winner(t_with_literal, "GET", path) == ("lit", {})
    assert winner(t, "GET", path) == ("var", {f"v{i}": part for i, part in enumerate(parts)})
    assert winner(t, "POST", path) == ("greedy", {"proxy": "/".join(parts)})


@given(st.lists(segment, min_size=0, max_size=5), st.sampled_from(["GET", "POST", "PUT"]))
def test_with_a_default_route_every_request_matches(parts: list[str], method: str) -> None:
    t = table(("ANY", "$default", "default"), ("GET", "/a/{b}", "ab"))
    found = t.match(method, "/" + "/".join(parts))
    assert found is not None
