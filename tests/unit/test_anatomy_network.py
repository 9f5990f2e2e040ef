"""strace output to the init's network calls: lookups named by their question, connections by the answers,
the Runtime API's first connect ending init, strace's split (unfinished/resumed) lines joined."""

from __future__ import annotations

import socket
import struct

from coldlab.anatomy.network import dns_answers, dns_question, parse, unescape

RUNTIME_API = "127.0.0.1:9001"


def query(name: str, kind: int = 1) -> bytes:
    labels = b"".join(bytes([len(part)]) + part.encode() for part in name.split("."))
    return struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + labels + b"\0" + struct.pack(">HH", kind, 1)


def answer(name: str, address: str) -> bytes:
    question = query(name)[12:]
    record = struct.pack(">HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton(address)
    return struct.pack(">HHHHHH", 0x1234, 0x8180, 1, 1, 0, 0) + question + record


def x(data: bytes | str) -> str:
    """A string as `strace -xx` prints it."""
    raw = data.encode() if isinstance(data, str) else data
    return "".join(f"\\x{b:02x}" for b in raw)


def addr(port: int) -> str:
    return f'{{sa_family=AF_INET, sin_port=htons({port}), sin_addr=inet_addr("{x("127.0.0.1")}")}}'


TRACE = f"""\
500  1000.000000 execve("{x("/var/task/bootstrap")}", ["{x("bootstrap")}"], 0x7ffd /* 30 vars */) = 0 <0.000500>
501  1000.010000 socket(AF_INET, SOCK_DGRAM|SOCK_CLOEXEC|SOCK_NONBLOCK, IPPROTO_IP) = 7 <0.000010>
501  1000.010100 connect(7, {addr(5353)}, 16) = 0 <0.000020>
501  1000.010200 write(7, "{x(query("config.test"))}", 29) = 29 <0.000010>
501  1000.011000 read(7,  <unfinished ...>
502  1000.011500 write(2, "{x("init main @1 ms, 0 ms clock, 0 bytes, 0 allocs")}", 49) = 49 <0.000010>
501  1000.012000 <... read resumed>"{x(answer("config.test", "127.0.0.1"))}", 1232) = 45 <0.001000>
501  1000.012100 close(7) = 0 <0.000010>
501  1000.013000 socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK, IPPROTO_IP) = 8 <0.000010>
501  1000.013100 connect(8, {addr(8080)}, 16) = -1 EINPROGRESS (Operation now in progress) <0.000030>
501  1000.013200 write(8, "{x("GET /config HTTP/1.1")}", 90) = 90 <0.000010>
501  1000.113200 read(8, "{x("HTTP/1.1 200 OK")}", 4096) = 100 <0.000010>
501  1000.200000 socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK, IPPROTO_IP) = 9 <0.000010>
501  1000.200100 connect(9, {addr(9001)}, 16) = -1 EINPROGRESS (Operation now in progress) <0.000030>
501  1000.300000 socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK, IPPROTO_IP) = 10 <0.000010>
501  1000.300100 connect(10, {addr(8443)}, 16) = -1 EINPROGRESS (Operation now in progress) <0.000030>
"""


def test_lookups_and_connections_before_the_first_next() -> None:
    dns, connection = parse(TRACE, RUNTIME_API)
    assert (dns.kind, dns.name, dns.destination) == ("dns", "config.test", "127.0.0.1:5353")
    assert abs(dns.start_ms - 10.1) < 1e-6
    assert abs(dns.ms - 1.9) < 1e-3  # connect to the end of the last read
    assert (connection.kind, connection.name, connection.destination) == ("connect", "config.test", "127.0.0.1:8080")
    assert abs(connection.ms - 100.11) < 1e-3
    assert connection.label() == "connection to config.test (127.0.0.1:8080)"
    assert dns.label() == "DNS lookup of config.test via 127.0.0.1:5353"
    # the Runtime API connect ended init: the connection made after it (port 8443) is the handler's, not init's


def test_without_calls_and_without_a_runtime_api_connect() -> None:
    quiet = "\n".join(line for line in TRACE.splitlines() if "(7" not in line and "(8" not in line)
    assert parse(quiet, RUNTIME_API) == []
    assert [c.destination for c in parse(TRACE, "127.0.0.1:1")][-1] == "127.0.0.1:8443"  # no cutoff seen
    assert parse("strace: Process 12 attached\nnot a trace line\n", RUNTIME_API) == []


def test_dns_messages_and_strace_strings() -> None:
    assert dns_question(query("a.b.example")) == "a.b.example"
    assert dns_question(answer("a.b", "10.0.0.1")) is None  # a response is not a query
    assert dns_question(b"GET / HTTP/1.1\r\n\r\n") is None  # not DNS: no question, and no exception
    assert dns_answers(answer("a.b", "10.0.0.1")) == ["10.0.0.1"]
    assert dns_answers(query("a.b")) == []
    assert dns_answers(b"\x00" * 3) == []
    loop = struct.pack(">HHHHHH", 1, 0x8180, 1, 1, 0, 0) + b"\xc0\x0c"  # a name that points at itself
    assert dns_answers(loop) == []
    assert unescape(r"\x41\x42") == b"AB"
    assert unescape(r"a\n\t\"\\\001") == b'a\n\t"\\\x01'
