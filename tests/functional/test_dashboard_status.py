"""What the dashboard reads, over plain HTTP from a real `coldlab serve`: the page itself (self-contained,
same-origin only), the status JSON's timeline (`?since=`), REPORT lines per function, and bad `since`."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from support.runtime_scripts import GoBuilder
from support.serve import ServeProcess, code_dir, lambda_client

pytestmark = pytest.mark.go


@pytest.fixture(scope="module")
def served(go_build: GoBuilder, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    code = code_dir(go_build("hello-go"), tmp_path_factory.mktemp("code") / "hello")
    with ServeProcess(str(code), "--keep-alive", "3600", cwd=tmp_path_factory.mktemp("serve")) as serve:
        yield serve


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return int(response.status), dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), dict(exc.headers), exc.read()


def timeline(served: ServeProcess, since: int) -> dict[str, Any]:
    status, _, body = get(f"{served.url}/_coldlab/status?since={since}")
    assert status == 200
    document: dict[str, Any] = json.loads(body)["timeline"]
    return document


def test_the_page_is_self_contained_and_same_origin_only(served: ServeProcess) -> None:
    status, headers, body = get(f"{served.url}/_coldlab/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp
    html = body.decode()
    assert "<script>" in html and "<style>" in html
    assert not re.search(r"<script[^>]+src=|<link[^>]+stylesheet|@import|url\(", html)
    assert set(re.findall(r"https?://[^\s\"'`]+", html)) == {"http://www.w3.org/2000/svg"}  # a namespace
    redirected, _, again = get(f"{served.url}/_coldlab")  # urllib follows the redirect to the slash
    assert redirected == 200 and again == body


def test_the_timeline_samples_the_pool_and_since_returns_only_newer_samples(served: ServeProcess) -> None:
    first = timeline(served, 0)
    assert first["interval_s"] == 0.5 and first["samples"]
    seqs = [s["seq"] for s in first["samples"]]
    assert seqs == sorted(seqs) and seqs[-1] == first["last_seq"]
    lambda_client(served.url).invoke(FunctionName="hello", Payload=b"{}")
    last = timeline(served, 0)["last_seq"]  # samples after this one were taken after the invoke returned
    assert last >= first["last_seq"]

    def sampled_after_invoke() -> list[dict[str, Any]]:
        return [
            s for s in timeline(served, last)["samples"]
            if s["functions"].get("hello", {}).get("invokes", 0) >= 1
        ]  # fmt: skip

    newer = served.wait_for(sampled_after_invoke, "a sample taken after the invoke")
    assert all(s["seq"] > last for s in newer)
    hello = newer[-1]["functions"]["hello"]
    assert hello["idle_frozen"] == 1 and hello["busy"] == 0 and hello["cold_starts"] == 1
    assert hello["throttles"] == 0
    document = json.loads(get(f"{served.url}/_coldlab/status")[2])
    assert "samples" not in document["timeline"]  # without since the status stays small
    reports = next(f for f in document["functions"] if f["name"] == "hello")["reports"]
    assert len(reports) == 1 and reports[0].startswith("REPORT RequestId:") and "Init Duration" in reports[0]


@pytest.mark.parametrize("since", ["-1", "abc", "1.5"])
def test_a_bad_since_is_a_400_naming_it(served: ServeProcess, since: str) -> None:
    status, headers, body = get(f"{served.url}/_coldlab/status?since={since}")
    assert status == 400
    assert headers["x-amzn-ErrorType"] == "InvalidParameterValueException"
    assert "since must be a sequence number" in json.loads(body)["message"]
