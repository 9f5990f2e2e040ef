"""The live dashboard at /_coldlab/ in a real headless browser (Debian's chromium driven by Playwright's
driver; never `playwright install`): it loads, shows every function, and a burst of invokes makes the
environment count rise, cold starts get marked and REPORT lines appear on the page; a throttle is counted.
Nothing but the server itself is fetched. A screenshot is saved in the test's directory."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.runtime_scripts import GoBuilder
from support.serve import ServeProcess, code_dir

pytestmark = pytest.mark.go

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
BURST = 6
WAIT_MS = 60_000  # a safety net for polls of the page, never an assertion on time


@pytest.fixture
def served(go_build: GoBuilder, tmp_path: Path) -> Iterator[ServeProcess]:
    hello = go_build("hello-go")
    codes = [code_dir(hello, tmp_path / "code" / name) for name in ("hello", "other")]
    args = (*map(str, codes), "--keep-alive", "3600", "--max-concurrency", "200")
    with ServeProcess(*args, cwd=tmp_path) as serve:
        yield serve


@pytest.fixture
def browser_page(tmp_path: Path) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (scripts/test installs it: apt-get install chromium)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright (the dev extra) is not installed"
    )
    home = tmp_path / "browser-home"  # the browser writes its profile, caches and crash dumps here only
    home.mkdir()
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "user-data"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            env={"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
                 "XDG_CACHE_HOME": str(home / ".cache"), "PATH": "/usr/bin:/bin"},
            viewport={"width": 1000, "height": 900},
        )  # fmt: skip
        try:
            yield context.new_page()
        finally:
            context.close()


def post(url: str, path: str, body: dict[str, Any], method: str = "POST") -> int:
    request = urllib.request.Request(f"{url}{path}", data=json.dumps(body).encode(), method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.read()
        return int(exc.code)


def together(url: str, name: str, event: dict[str, Any], count: int) -> list[int]:
    statuses: list[int] = [0] * count
    barrier = threading.Barrier(count)

    def one(index: int) -> None:
        barrier.wait()
        statuses[index] = post(url, f"/2015-03-31/functions/{name}/invocations", event)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def stat(page: Any, function: str, key: str) -> int:
    return int(page.inner_text(f'section[data-function="{function}"] [data-stat="{key}"]'))


def wait_stat(page: Any, function: str, key: str, at_least: int) -> None:
    page.wait_for_function(
        """([fn, key, n]) => {
            const node = document.querySelector(`section[data-function="${fn}"] [data-stat="${key}"]`);
            return node !== null && Number(node.textContent) >= n;
        }""",
        arg=[function, key, at_least],
        timeout=WAIT_MS,
    )


def marks(page: Any, function: str, kind: str) -> int:
    counts = page.eval_on_selector_all(
        f'section[data-function="{function}"] .{kind}', "nodes => nodes.map(n => Number(n.dataset.count))"
    )
    return int(sum(counts))


def test_the_page_shows_functions_and_a_burst_raises_the_environment_count(
    served: ServeProcess, browser_page: Any, tmp_path: Path
) -> None:
    page = browser_page
    fetched: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)

    page.goto(f"{served.url}/_coldlab/")
    page.wait_for_selector('section[data-function="hello"]', timeout=WAIT_MS)
    page.wait_for_selector('section[data-function="other"]', timeout=WAIT_MS)
    assert page.inner_text("#conn") == "live"
    assert stat(page, "hello", "environments") == 0
    assert marks(page, "hello", "cold-mark") == 0

    assert together(served.url, "hello", {"sleep_ms": 1500}, BURST) == [200] * BURST
    wait_stat(page, "hello", "environments", BURST)
    assert stat(page, "hello", "environments") == BURST
    assert stat(page, "hello", "cold_starts") == BURST
    assert stat(page, "other", "environments") == 0
    # The chart: the idle-frozen layer is drawn and the burst's cold starts are marked, all of them.
    page.wait_for_selector(
        'section[data-function="hello"] polygon[data-layer="idle_frozen"]', state="attached", timeout=WAIT_MS
    )
    page.wait_for_function(
        """() => [...document.querySelectorAll('section[data-function="hello"] .cold-mark')]
                 .reduce((sum, n) => sum + Number(n.dataset.count), 0) >= 6""",
        timeout=WAIT_MS,
    )
    assert marks(page, "hello", "cold-mark") == BURST
    assert page.locator('section[data-function="hello"] .env.idle-frozen').count() == BURST
    page.wait_for_function(
        """() => document.querySelector('section[data-function="hello"] pre.reports')
                 .textContent.split("\\n").filter(l => l.startsWith("REPORT RequestId:")).length >= 6""",
        timeout=WAIT_MS,
    )
    assert "Init Duration" in page.inner_text('section[data-function="hello"] pre.reports')

    # A throttle: `other` may run one at a time, two arrive together.
    assert post(served.url, "/2017-10-31/functions/other/concurrency",
                {"ReservedConcurrentExecutions": 1}, method="PUT") == 200  # fmt: skip
    assert sorted(together(served.url, "other", {"sleep_ms": 1000}, 2)) == [200, 429]
    wait_stat(page, "other", "throttles", 1)
    page.wait_for_selector('section[data-function="other"] .throttle-mark', state="attached", timeout=WAIT_MS)
    assert marks(page, "other", "throttle-mark") == 1
    assert stat(page, "other", "throttles") == 1
    assert "reserved 1" in page.inner_text('section[data-function="other"] .meta')

    shot = tmp_path / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    assert errors == []
    assert fetched and all(url.startswith(f"{served.url}/_coldlab/") for url in fetched), fetched


def test_the_page_says_when_the_server_is_gone(served: ServeProcess, browser_page: Any) -> None:
    page = browser_page
    page.goto(f"{served.url}/_coldlab/")
    page.wait_for_selector('section[data-function="hello"]', timeout=WAIT_MS)
    assert served.stop() == 143
    page.wait_for_function(
        "() => document.querySelector('#conn').textContent.startsWith('disconnected')", timeout=WAIT_MS
    )
    assert page.locator("#conn.down").count() == 1


def test_event_invokes_and_an_unwritable_destination_are_shown(
    served: ServeProcess, browser_page: Any, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    config = {"DestinationConfig": {"OnSuccess": {"Destination": f"file://{blocker}/records/"}}}
    if post(served.url, "/2019-09-25/functions/hello/event-invoke-config", config, method="PUT") != 200:
        pytest.skip("this server has no event invoke configs (PutFunctionEventInvokeConfig)")
    page = browser_page
    page.goto(f"{served.url}/_coldlab/")
    page.wait_for_selector('section[data-function="hello"]', timeout=WAIT_MS)
    request = urllib.request.Request(
        f"{served.url}/2015-03-31/functions/hello/invocations",
        data=b'{"name": "queued"}',
        headers={"X-Amz-Invocation-Type": "Event"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 202
    # The event ran, but its success record cannot be written: it stays in the queue, and the page says so.
    page.wait_for_selector("#problems li", timeout=WAIT_MS)
    assert str(blocker) in page.inner_text("#problems") and "hello" in page.inner_text("#problems")
    wait_stat(page, "hello", "event_queue", 1)
    assert "Event invokes 1" in page.inner_text("#account")
    page.screenshot(path=str(tmp_path / "dashboard-problem.png"), full_page=True)


def test_the_page_shows_the_functions_emf_metrics_and_flags_invalid_emf(
    go_build: GoBuilder, browser_page: Any, tmp_path: Path
) -> None:
    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "serve-emf"
    code = go_build(fixture).parent
    args = ("--template", str(fixture / "template.yaml"), "--parameter-overrides", f"EmfCode={code}")
    with ServeProcess(*args, cwd=tmp_path) as serve:
        page = browser_page
        page.goto(f"{serve.url}/_coldlab/")
        page.wait_for_selector('section[data-function="metrics"]', timeout=WAIT_MS)
        assert page.locator('section[data-function="metrics"] .emf-metric').count() == 0
        assert post(serve.url, "/2015-03-31/functions/metrics/invocations", {}) == 200
        serve.wait_for(
            lambda: {env["state"] for env in serve.function("metrics")["environments"]} == {"idle-frozen"},
            "the environment to be frozen (the next invoke reuses it)",
        )
        assert post(serve.url, "/2015-03-31/functions/metrics/invocations", {"bad": True}) == 200
        metric = 'section[data-function="metrics"] .emf-metric[data-metric="ColdStart"]'
        page.wait_for_selector(f'{metric}[data-count="2"]', timeout=WAIT_MS)
        assert page.get_attribute(metric, "data-sum") == "1"  # the function's own counter: one cold start
        assert stat(page, "metrics", "cold_starts") == 1  # ... and coldlab's count beside it
        flag = page.wait_for_selector('section[data-function="metrics"] .emf-invalid', timeout=WAIT_MS)
        assert flag.get_attribute("data-count") == "1"
        assert "EMFValidationErrors" in flag.inner_text() and "Parsecs" in flag.inner_text()
        page.screenshot(path=str(tmp_path / "dashboard-emf.png"), full_page=True)
