"""`coldlab anatomy` on real Go bootstraps: each phase moves the way the seed says when its cause is added or
taken away (the same binary, the cause switched by an environment variable), compared run against run with
margins far wider than the noise, or on counts (bytes, allocations, calls) that cannot flake."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from coldlab.anatomy.analyze import Result, analyze
from coldlab.anatomy.runner import RunSpec
from support.runtime_scripts import GoBuilder

pytestmark = pytest.mark.go

STUB_DELAY_S = 0.12  # the configuration service's answer time: the init's network cost


def anatomy(code: Path, *, runs: int = 2, network: bool = False, **environment: str) -> Result:
    spec = RunSpec(code, 1769, runs=runs, warm=2, environment=environment, trace_network=network)
    return asyncio.run(analyze(spec))


def p50(result: Result, phase: str) -> float:
    row = next(p for p in result.anatomy.phases if p.id == phase)
    assert row.p50_ms is not None, row
    return row.p50_ms


def package(result: Result, name: str) -> tuple[float, int, int]:
    found = next((p for p in result.anatomy.packages if p.package == name), None)
    return (0.0, 0, 0) if found is None else (found.clock_ms, found.bytes, found.allocs)


def test_a_heavy_init_shows_in_its_package_and_the_package_inits_row(go_build: GoBuilder) -> None:
    code = go_build("anatomy-heavy-init").parent
    heavy = anatomy(code)
    light = anatomy(code, ANATOMY_HEAVY_ROUNDS="0")
    catalog = "example.com/anatomy-heavy-init/catalog"
    clock, size, allocs = package(heavy, catalog)
    _, light_size, light_allocs = package(light, catalog)
    # counts: 60,000 map entries and hex strings are allocated by the package's init, and none without it
    assert size > 5_000_000 and allocs > 60_000
    assert light_size < 10_000 and light_allocs < 100
    assert heavy.anatomy.packages[0].package == catalog  # the slowest package init, first in the roll-up
    assert clock > 10 * max(package(light, catalog)[0], 0.1)
    # the row the seed names moves by (at least most of) that clock; the other init rows do not take it
    assert p50(heavy, "package_inits") > p50(light, "package_inits") + clock / 2
    assert p50(heavy, "package_inits") > p50(heavy, "main_before_next")
    assert "catalog" in next(p.dominates for p in heavy.anatomy.phases if p.id == "package_inits")
    # advice: the package init, priced at its own clock
    advice = next(a for a in heavy.advice if a.kind == "init")
    assert catalog in advice.title and advice.ms_saved == pytest.approx(clock)
    assert not any(a.kind == "init" and catalog in a.title for a in light.advice)


def test_a_lazy_client_moves_its_cost_from_init_to_the_first_request(go_build: GoBuilder) -> None:
    code = go_build("anatomy-lazy-client").parent
    lazy = anatomy(code)
    eager = anatomy(code, ANATOMY_EAGER="1")
    main_lazy, main_eager = package(lazy, "main"), package(eager, "main")
    assert main_eager[1] > 5_000_000 and main_lazy[1] < 100_000  # the client's bytes: in init only when eager
    moved = main_eager[0] - main_lazy[0]
    assert moved > 5  # ms of init work the eager build pays
    assert p50(eager, "package_inits") > p50(lazy, "package_inits") + moved / 2
    assert p50(lazy, "first_request") > p50(eager, "first_request") + moved / 3
    totals_lazy, totals_eager = lazy.anatomy.totals, eager.anatomy.totals
    assert totals_lazy.init_measured and totals_eager.init_measured
    assert totals_eager.init_measured.p50_ms > totals_lazy.init_measured.p50_ms + moved / 2


class Stubs:
    """A DNS server that answers every A question with 127.0.0.1 (and AAAA with nothing), and an HTTP server
    that answers after STUB_DELAY_S: the configuration service an init calls."""

    def __init__(self) -> None:
        self.dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.dns.bind(("127.0.0.1", 0))
        self.http = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.http.bind(("127.0.0.1", 0))
        self.http.listen(8)
        self.questions: list[str] = []
        self.requests = 0
        for loop in (self._answer_dns, self._answer_http):
            threading.Thread(target=loop, daemon=True).start()

    @property
    def dns_address(self) -> str:
        return f"127.0.0.1:{self.dns.getsockname()[1]}"

    @property
    def http_port(self) -> int:
        return int(self.http.getsockname()[1])

    def _answer_dns(self) -> None:
        while True:
            try:
                query, peer = self.dns.recvfrom(2048)
            except OSError:
                return
            at, labels = 12, []
            while query[at]:
                labels.append(query[at + 1 : at + 1 + query[at]].decode())
                at += 1 + query[at]
            kind = struct.unpack(">H", query[at + 1 : at + 3])[0]
            self.questions.append(".".join(labels))
            answer = b""
            if kind == 1:
                answer = struct.pack(">HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton("127.0.0.1")
            header = query[:2] + struct.pack(">HHHHH", 0x8180, 1, 1 if answer else 0, 0, 0)
            self.dns.sendto(header + query[12 : at + 5] + answer, peer)

    def _answer_http(self) -> None:
        while True:
            try:
                conn, _ = self.http.accept()
            except OSError:
                return
            with conn:
                request = b""
                while b"\r\n\r\n" not in request:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    request += chunk
                self.requests += 1
                time.sleep(STUB_DELAY_S)
                body = b'{"feature": "on"}'
                head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                conn.sendall(head.encode() + body)

    def close(self) -> None:
        self.dns.close()
        self.http.close()


@pytest.fixture
def stubs() -> Iterator[Stubs]:
    served = Stubs()
    yield served
    served.close()


def test_network_during_init_is_found_timed_and_advised(go_build: GoBuilder, stubs: Stubs) -> None:
    code = go_build("anatomy-network-init").parent
    url = f"http://config.anatomy.test:{stubs.http_port}/config"
    calling = anatomy(code, network=True, ANATOMY_CONFIG_URL=url, ANATOMY_DNS=stubs.dns_address)
    quiet = anatomy(code, network=True)
    # strace saw the lookup (named by its question) and the connection (named by the lookup's answer)
    calls = calling.anatomy.network
    assert calls is not None, calling.measured.network_note
    lookups = [c for c in calls if c.kind == "dns"]
    connects = [c for c in calls if c.kind == "connect"]
    assert {c.name for c in lookups} == {"config.anatomy.test"}
    assert {c.destination for c in lookups} == {stubs.dns_address}
    assert [(c.destination, c.name) for c in connects] == [(f"127.0.0.1:{stubs.http_port}", "config.anatomy.test")]
    assert connects[0].ms >= STUB_DELAY_S * 1000 * 0.9  # it waited for the answer (a floor, not a ceiling)
    assert quiet.anatomy.network == ()  # the same binary without the cause: no calls before the first /next
    # the init pays for it on every cold start: the package inits row moves by about the stub's delay
    assert p50(calling, "package_inits") > p50(quiet, "package_inits") + STUB_DELAY_S * 1000 * 0.8
    advice = [a for a in calling.advice if a.kind == "network"]
    assert len(advice) == len(calls) and "sync.OnceValue" in advice[0].fix
    assert advice[0] == max(advice, key=lambda a: a.ms_saved or 0)  # the connection costs most: ranked first
    assert not any(a.kind == "network" for a in quiet.advice)
    assert stubs.requests == 3  # two timed cold starts and the traced one: every init called, once
