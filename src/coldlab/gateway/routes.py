"""Route matching for HttpApi/Api events: `/items/{id}`, `/{proxy+}`, `ANY` and the `$default` route.

Pure: no I/O. Priority follows API Gateway's HTTP API rule (most specific wins): a route without a greedy
variable beats one with it; among the rest, literal segments beat `{var}` from the left; a named method beats
`ANY`; the `$default` route (HttpApi with no Path/Method) catches what nothing else matched.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from urllib.parse import unquote

from coldlab.errors import UsageError

METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "ANY")
DEFAULT_ROUTE = "$default"
_LITERAL, _VAR, _GREEDY = 0, 1, 2  # also the priority of a segment: lower is more specific
_VAR_SEGMENT = re.compile(r"^\{([A-Za-z0-9._-]+)(\+?)\}$")


@dataclass(frozen=True)
class _Segment:
    kind: int
    text: str  # the literal, or the variable's name (without '+')


@dataclass(frozen=True)
class Route:
    """One route of one API, bound to the function it invokes. Build with `Route.compile`."""

    api: str  # "HttpApi" (payload 2.0) | "Api" (REST, payload 1.0)
    method: str  # upper case, or "ANY"
    template: str  # "/items/{id}", or "$default"
    target: str  # the function's name
    source: str
    segments: tuple[_Segment, ...]

    @classmethod
    def compile(cls, api: str, method: str, template: str, target: str, source: str = "") -> Route:
        """Parse a route template; UsageError naming the route and its source when it is not one."""
        where = f" ({source})" if source else ""
        method = method.upper()
        if method not in METHODS:
            raise UsageError(
                f"route {method} {template}{where}: method {method!r} is not an API Gateway method",
                f"use one of {', '.join(METHODS)}",
            )
        if template in ("", DEFAULT_ROUTE):
            return cls(api, "ANY", DEFAULT_ROUTE, target, source, ())
        if not template.startswith("/"):
            raise UsageError(f"route {method} {template}{where}: the path must start with '/'", "write /path")
        return cls(
            api, method, template, target, source, _parse(template, f"route {method} {template}{where}")
        )

    @property
    def is_default(self) -> bool:
        return self.template == DEFAULT_ROUTE

    @property
    def route_key(self) -> str:
        """`GET /items/{id}` or `$default`, as the event's routeKey carries it."""
        return DEFAULT_ROUTE if self.is_default else f"{self.method} {self.template}"

    def priority(self) -> tuple[bool, bool, tuple[int, ...], bool]:
        """Sort key: the smallest key among matching routes wins."""
        kinds = tuple(segment.kind for segment in self.segments)
        return (self.is_default, _GREEDY in kinds, kinds, self.method == "ANY")

    def match(self, method: str, segments: tuple[str, ...]) -> dict[str, str] | None:
        """The path parameters (decoded) when this route takes the request; None when it does not."""
        if self.method not in ("ANY", method):
            return None
        if self.is_default:
            return {}
        greedy = bool(self.segments) and self.segments[-1].kind == _GREEDY
        fixed = self.segments[:-1] if greedy else self.segments
        # `{proxy+}` needs at least one segment of its own, as on API Gateway
        if len(segments) < len(fixed) + 1 if greedy else len(segments) != len(fixed):
            return None
        params: dict[str, str] = {}
        for segment, part in zip(fixed, segments, strict=False):
            value = unquote(part)
            # a literal must be equal; a variable never matches an empty segment
            if (segment.kind == _LITERAL and value != segment.text) or (segment.kind == _VAR and not value):
                return None
            if segment.kind == _VAR:
                params[segment.text] = value
        if greedy:
            params[self.segments[-1].text] = "/".join(unquote(part) for part in segments[len(fixed) :])
        return params


def _parse(template: str, what: str) -> tuple[_Segment, ...]:
    parts = _split(template)
    segments: list[_Segment] = []
    names: set[str] = set()
    for index, part in enumerate(parts):
        found = _VAR_SEGMENT.match(part)
        if found is None:
            if "{" in part or "}" in part:
                raise UsageError(
                    f"{what}: segment {part!r} mixes text and a variable",
                    "a path variable takes a whole segment, like /items/{id}",
                )
            segments.append(_Segment(_LITERAL, part))
            continue
        name, greedy = found.group(1), bool(found.group(2))
        if greedy and index != len(parts) - 1:
            raise UsageError(f"{what}: {{{name}+}} must be the last segment", "write it as /prefix/{proxy+}")
        if name in names:
            raise UsageError(
                f"{what}: variable {name!r} appears twice", "give each path variable its own name"
            )
        names.add(name)
        segments.append(_Segment(_GREEDY if greedy else _VAR, name))
    return tuple(segments)


def _split(path: str) -> tuple[str, ...]:
    """Path segments; a trailing slash is not a segment of its own (`/items/` is `/items`)."""
    parts = path.split("/")[1:]
    if parts and parts[-1] == "":
        parts.pop()
    return tuple(parts)


@dataclass(frozen=True)
class Match:
    route: Route
    path_parameters: Mapping[str, str]


class RouteTable:
    """Every route of the served template; `match` picks the most specific one for a request."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes: tuple[Route, ...] = tuple(sorted(routes, key=Route.priority))
        seen: dict[tuple[str, str], Route] = {}
        for route in self.routes:
            # One server root serves every API, so the same method and path may be declared only once.
            key = (
                route.method,
                "/".join(_shape(s) for s in route.segments) if route.segments else route.template,
            )
            if key in seen:
                first = seen[key]
                raise UsageError(
                    f"route {route.route_key} of {route.target}{_at(route)} is already declared by "
                    f"{first.target}{_at(first)}",
                    "every route is served at the server's root: give one of them another path or method",
                )
            seen[key] = route

    def __bool__(self) -> bool:
        return bool(self.routes)

    def match(self, method: str, raw_path: str) -> Match | None:
        """The winning route and its path parameters for `method raw_path` (percent-encoded path)."""
        segments = _split(raw_path) if raw_path.startswith("/") else _split("/" + raw_path)
        method = method.upper()
        for route in self.routes:  # sorted by priority: the first that matches is the most specific
            params = route.match(method, segments)
            if params is not None:
                return Match(route, MappingProxyType(params))
        return None


def _shape(segment: _Segment) -> str:
    """A segment as it matters for overlap: `/a/{x}` and `/a/{y}` are the same route."""
    return {_LITERAL: segment.text, _VAR: "{}", _GREEDY: "{+}"}[segment.kind]


def _at(route: Route) -> str:
    return f" ({route.source})" if route.source else ""
