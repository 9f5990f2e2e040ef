"""Network calls a bootstrap makes before its first /next, found by `strace -f` attached to the sandbox.

strace is attached (as root, from outside the sandbox) to the sandbox's process while it waits to exec the
bootstrap, so it sees every socket from the first instruction on; its output goes to a file in a coldlab
scratch directory. The first connect to the Runtime API's address marks the end of init: sockets connected
before it are the init's calls. UDP sockets that carry DNS queries (port 53, or a payload that parses as a
query) are lookups, named by their question; TCP connections are named by the answers those lookups gave.
Times are wall-clock under strace, so they are larger than without it: they rank calls, the untraced runs
give the phase figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import struct
from dataclasses import dataclass, field
from pathlib import Path

STRACE_ARGS = ("-f", "-ttt", "-T", "-s", "512", "-xx", "-e", "trace=%network,read,write,close,execve")
ATTACH_TIMEOUT_S = 5.0

_LINE = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+(.*)$")
_CALL = re.compile(r"^(\w+)\((.*)\)\s+=\s+(-?\d+|\?)(?:\s+\w+(?:\s+\(.*?\))?)?(?:\s+<([\d.]+)>)?\s*$")
_UNFINISHED = re.compile(r"^(\w+)\((.*?)\s*<unfinished \.\.\.>$")
_RESUMED = re.compile(r"^<\.\.\. (\w+) resumed>(.*)$")
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
_PORT = re.compile(r"sin6?_port=htons\((\d+)\)")
_ADDR4 = re.compile(r'inet_addr\("((?:[^"\\]|\\.)*)"\)')
_ADDR6 = re.compile(r'inet_pton\(AF_INET6,\s*"((?:[^"\\]|\\.)*)"')
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)")
_SIMPLE = {"n": 10, "t": 9, "r": 13, "v": 11, "f": 12, "\\": 92, '"': 34}
_IO = {"read", "write", "sendto", "recvfrom", "sendmsg", "recvmsg"}


@dataclass(frozen=True)
class NetworkCall:
    kind: str  # "dns" (a lookup) or "connect" (a TCP connection)
    destination: str  # ip:port (for a lookup: the server asked)
    name: str  # the host name looked up, or the name the connection's address was resolved from ("" if none)
    start_ms: float  # after the exec
    ms: float  # first syscall to the last one on its sockets before init ended

    def label(self) -> str:
        if self.kind == "dns":
            return f"DNS lookup of {self.name or '?'} via {self.destination}"
        shown = f"{self.name} ({self.destination})" if self.name else self.destination
        return f"connection to {shown}"


@dataclass
class _Socket:
    family: str
    udp: bool
    opened: float
    dest: str = ""
    connected: float | None = None
    last: float = 0.0
    sent: bytes = b""
    received: bytes = b""


@dataclass
class _Parsed:
    exec_ts: float | None = None
    cutoff: float | None = None
    done: list[_Socket] = field(default_factory=list)


def unescape(text: str) -> bytes:
    """Bytes of a string as strace prints it (-xx: every byte \\xHH; C escapes otherwise)."""

    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        if code[0] == "x":
            return chr(int(code[1:], 16))
        if code[0].isdigit():
            return chr(int(code, 8) & 0xFF)
        return chr(_SIMPLE.get(code, ord(code)))

    return _ESCAPE.sub(one, text).encode("latin-1", "replace")


def _destination(args: str) -> str:
    port = _PORT.search(args)
    addr = _ADDR4.search(args) or _ADDR6.search(args)
    if port is None or addr is None:
        return ""
    host = unescape(addr.group(1)).decode("ascii", "replace")
    return f"[{host}]:{port.group(1)}" if ":" in host else f"{host}:{port.group(1)}"


def dns_question(payload: bytes) -> str | None:
    """The name asked by a DNS query message (None when it is not one)."""
    if len(payload) < 17 or payload[2] & 0x80 or struct.unpack(">H", payload[4:6])[0] == 0:
        return None
    try:
        name, _ = _read_name(payload, 12)
    except (IndexError, ValueError):  # not DNS after all (any UDP payload can reach here)
        return None
    return name or None


def dns_answers(payload: bytes) -> list[str]:
    """The A/AAAA addresses in a DNS response (empty when it is not one, or holds none)."""
    try:
        if len(payload) < 12 or not payload[2] & 0x80:
            return []
        qd, an = struct.unpack(">HH", payload[4:8])
        at = 12
        for _ in range(qd):
            _, at = _read_name(payload, at)
            at += 4
        found = []
        for _ in range(an):
            _, at = _read_name(payload, at)
            kind, _cls, _ttl, size = struct.unpack(">HHIH", payload[at : at + 10])
            data = payload[at + 10 : at + 10 + size]
            if kind == 1 and size == 4:
                found.append(".".join(str(b) for b in data))
            elif kind == 28 and size == 16:
                found.append(":".join(data[i : i + 2].hex() for i in range(0, 16, 2)))
            at += 10 + size
        return found
    except (struct.error, IndexError, ValueError):
        return []


def _read_name(payload: bytes, at: int) -> tuple[str, int]:
    labels: list[str] = []
    end = None
    for _ in range(128):  # bounded: a hostile pointer loop cannot spin
        length = payload[at]
        if length & 0xC0 == 0xC0:
            end = at + 2 if end is None else end
            at = ((length & 0x3F) << 8) | payload[at + 1]
            continue
        if length == 0:
            return ".".join(labels), (at + 1 if end is None else end)
        labels.append(payload[at + 1 : at + 1 + length].decode("ascii", "replace"))
        at += 1 + length
    raise ValueError("DNS name too long")


def _join_lines(text: str) -> list[tuple[int, float, str]]:
    """(pid, timestamp, whole call) with strace's unfinished/resumed halves put back together."""
    pending: dict[int, tuple[float, str]] = {}
    out = []
    for line in text.splitlines():
        m = _LINE.match(line)
        if m is None:
            continue
        pid, ts, rest = int(m.group(1)), float(m.group(2)), m.group(3)
        unfinished = _UNFINISHED.match(rest)
        if unfinished:
            pending[pid] = (ts, f"{unfinished.group(1)}({unfinished.group(2)}")
            continue
        resumed = _RESUMED.match(rest)
        if resumed:
            if pid in pending:
                start, head = pending.pop(pid)
                out.append((pid, start, head + resumed.group(2)))
            continue
        out.append((pid, ts, rest))
    return out


def parse(text: str, runtime_api: str) -> list[NetworkCall]:
    """The init's network calls in strace output; `runtime_api` ("127.0.0.1:port") ends init."""
    state = _Parsed()
    socks: dict[int, _Socket] = {}
    for _pid, ts, call in _join_lines(text):
        m = _CALL.match(call)
        if m is None:
            continue
        name, args, ret = m.group(1), m.group(2), m.group(3)
        took = float(m.group(4) or 0)
        if name == "execve" and state.exec_ts is None:
            state.exec_ts = ts
        fd = int(args.split(",", 1)[0]) if args[:1].isdigit() else -1
        if name == "socket" and ret.isdigit() and "AF_INET" in args:
            socks[int(ret)] = _Socket("inet6" if "AF_INET6" in args else "inet", "SOCK_DGRAM" in args, ts)
        elif fd in socks and name == "connect":
            dest = _destination(args)
            if dest == runtime_api and state.cutoff is None:
                state.cutoff = ts
                socks.pop(fd)
                continue
            socks[fd].dest, socks[fd].connected, socks[fd].last = dest, ts, ts + took
        elif fd in socks and name in _IO:
            sock = socks[fd]
            sock.last = max(sock.last, ts + took)
            payload = _STRING.search(args)
            if payload is not None and ret.lstrip("-").isdigit() and int(ret) > 0:
                data = unescape(payload.group(1))
                if name in ("write", "sendto", "sendmsg") and not sock.sent:
                    sock.sent = data
                elif name in ("read", "recvfrom", "recvmsg") and not sock.received:
                    sock.received = data
        elif fd in socks and name == "close":
            state.done.append(socks.pop(fd))
    state.done.extend(socks.values())
    return _calls(state)


def _calls(state: _Parsed) -> list[NetworkCall]:
    cutoff, base = state.cutoff, state.exec_ts or 0.0
    in_init = [s for s in state.done if s.connected is not None and (cutoff is None or s.connected < cutoff)]
    lookups: dict[tuple[str, str], list[_Socket]] = {}
    names: dict[str, str] = {}
    tcp = []
    for sock in in_init:
        question = dns_question(sock.sent) if sock.udp else None
        if sock.udp and (question is not None or sock.dest.endswith(":53")):
            lookups.setdefault((question or "", sock.dest), []).append(sock)
            for address in dns_answers(sock.received):
                names.setdefault(address, question or "")
        elif not sock.udp:
            tcp.append(sock)
    calls = []
    for (question, server), group in lookups.items():
        start = min(s.connected or s.opened for s in group)
        end = max(_end(s, cutoff) for s in group)
        calls.append(NetworkCall("dns", server, question, (start - base) * 1000, (end - start) * 1000))
    for sock in tcp:
        start = sock.connected or sock.opened
        host = sock.dest.rsplit(":", 1)[0].strip("[]")
        calls.append(
            NetworkCall(
                "connect",
                sock.dest,
                names.get(host, ""),
                (start - base) * 1000,
                (_end(sock, cutoff) - start) * 1000,
            )
        )
    return sorted(calls, key=lambda c: c.start_ms)


def _end(sock: _Socket, cutoff: float | None) -> float:
    return min(sock.last, cutoff) if cutoff is not None else sock.last


# --- running strace --------------------------------------------------------------------------------------


def strace_path() -> str | None:
    return shutil.which("strace")


class StraceTracer:
    """Attaches `strace -f` to one waiting sandbox process; `stop()` ends it, `note` says what went wrong."""

    def __init__(self, executable: str, output: Path) -> None:
        self.executable = executable
        self.output = output
        self.process: asyncio.subprocess.Process | None = None
        self.note: str | None = None
        self.attached = False

    async def attach(self, pid: int) -> None:
        if self.process is not None:
            return  # one traced sandbox per tracer
        self.process = await asyncio.create_subprocess_exec(
            self.executable, *STRACE_ARGS, "-o", str(self.output), "-p", str(pid),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert self.process.stderr is not None
        try:
            line = await asyncio.wait_for(self.process.stderr.readline(), ATTACH_TIMEOUT_S)
        except TimeoutError:
            line = b""
        text = line.decode("utf-8", "replace").strip()
        if "attached" in text:
            self.attached = True
            return
        self.note = (
            f"strace could not attach to the sandbox ({text or 'no answer'}): network calls not traced"
        )
        await self.stop()

    async def stop(self) -> None:
        """Wait for strace to finish (it does when the traced sandbox is killed); end it if it lingers."""
        proc = self.process
        if proc is None:
            return
        try:
            await asyncio.wait_for(proc.wait(), 5.0)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        if proc.stderr is not None:
            rest = (await proc.stderr.read()).decode("utf-8", "replace").strip()
            if rest and self.note is None and "ptrace" in rest:
                self.note = f"strace reported: {rest.splitlines()[-1]}"
