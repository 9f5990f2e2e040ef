"""Findings: what makes the binary big or slow to start, with the bytes involved and what a fix saves."""

from __future__ import annotations

from collections.abc import Sequence

from coldlab.inspect.ledger import CODE, DWARF, DYNAMIC, SYMTAB
from coldlab.inspect.model import Finding, Report
from coldlab.inspect.names import CGO

MiB = 1 << 20
LAMBDA_ZIPPED_LIMIT = 50 * MiB
LAMBDA_UNZIPPED_LIMIT = 250 * MiB

# the seed's download-time bands for a deployment package of this size
BANDS = (
    (5 * MiB, "< 5 MiB", "~20 ms"),
    (20 * MiB, "5-20 MiB", "30-80 ms"),
    (50 * MiB, "20-50 MiB", "80-200 ms"),
)
BAND_OVER = ("> 50 MiB", "200 ms+")

HEAVY = (
    (
        "aws-sdk-go-v1",
        "AWS SDK for Go v1",
        ("github.com/aws/aws-sdk-go/",),
        "migrate to aws-sdk-go-v2 (per-service modules, no global endpoints table)",
    ),
    (
        "grpc",
        "gRPC",
        ("google.golang.org/grpc",),
        "avoid xDS/DirectPath imports; use build tags such as disable_grpc_modules",
    ),
    (
        "k8s-client",
        "Kubernetes client libraries",
        ("k8s.io/client-go", "k8s.io/api", "k8s.io/apimachinery"),
        "call the API over plain HTTP or import only the typed clients you use",
    ),
    (
        "protobuf",
        "protobuf runtime",
        ("google.golang.org/protobuf", "github.com/golang/protobuf", "github.com/gogo/protobuf"),
        "needed when you speak protobuf; check that it is not pulled in only transitively",
    ),
)
V2_SERVICE = "github.com/aws/aws-sdk-go-v2/service/"
DCE_SIGNALS = (
    "reflect.Value.MethodByName",
    "reflect.(*rtype).MethodByName",
    "text/template.(*state).evalField",
    "reflect.Value.Method",
    "reflect.(*rtype).Method",
)


def band(size: int) -> tuple[str, str]:
    for limit, label, ms in BANDS:
        if size < limit:
            return label, ms
    return BAND_OVER


def find(
    report: Report, names: Sequence[str], packages: Sequence[str], code: Sequence[int]
) -> tuple[Finding, ...]:
    """All findings. `names`, `packages` and `code` describe each function (code = exact bytes)."""
    out: list[Finding] = []
    kind_total: dict[str, int] = {}
    for row in report.ledger:
        kind_total[row.kind] = kind_total.get(row.kind, 0) + row.size
    pkg_size = {p.name: p.size for p in report.packages}
    facts = report.facts

    if not facts.dwarf_stripped:
        n = kind_total.get(DWARF, 0)
        out.append(
            Finding(
                "dwarf",
                "warn",
                "DWARF debug info is not stripped",
                f"{n} bytes of .debug_* sections are shipped but never used at run time",
                n,
                n,
                'build with -ldflags="-s -w"',
            )
        )
    if not facts.symbols_stripped:
        n = kind_total.get(SYMTAB, 0)
        out.append(
            Finding(
                "symbols",
                "warn",
                "the symbol table is not stripped",
                f"{n} bytes of .symtab/.strtab (the pclntab keeps panics readable without it)",
                n,
                n,
                'build with -ldflags="-s -w"',
            )
        )
    if facts.cgo_enabled or facts.dynamically_linked:
        c_code = sum(r.size for r in report.ledger if r.kind == CODE and r.package == CGO)
        dyn = kind_total.get(DYNAMIC, 0)
        libs = ", ".join(facts.needed) or "none"
        title = (
            "cgo is on: the binary is dynamically linked against the C library"
            if facts.cgo_enabled
            else "the binary is dynamically linked (PIE or external linking)"
        )
        out.append(
            Finding(
                "cgo" if facts.cgo_enabled else "dynamic",
                "warn",
                title,
                f"interpreter {facts.interpreter or 'none'}, needs {libs}; {c_code} bytes of C code and "
                f"{dyn} bytes of dynamic-linking tables (fails where glibc differs)",
                c_code + dyn,
                c_code + dyn,
                "build with CGO_ENABLED=0 (and without -buildmode=pie) for a static binary",
            )
        )
    for fid, title, prefixes, fix in HEAVY:
        hits = {p: s for p, s in pkg_size.items() if p.startswith(prefixes)}
        if hits:
            n = sum(hits.values())
            out.append(
                Finding(
                    f"heavy:{fid}",
                    "warn",
                    f"heavy dependency: {title}",
                    f"{len(hits)} packages, {n} bytes (largest: {max(hits, key=hits.__getitem__)})",
                    n,
                    0,
                    fix,
                )
            )
    out += _aws_v2(pkg_size)
    out += _dce(names, packages, code)
    v1 = any(p.startswith("github.com/aws/aws-sdk-go/") for p in pkg_size)
    v2 = any(p.startswith("github.com/aws/aws-sdk-go-v2/") for p in pkg_size)
    if v1 and v2:
        n = sum(s for p, s in pkg_size.items() if p.startswith("github.com/aws/aws-sdk-go/"))
        out.append(
            Finding(
                "aws-sdk-v1-and-v2",
                "warn",
                "both AWS SDK v1 and v2 are linked",
                "usually a dependency (e.g. aws-xray-sdk-go) drags in v1 next to your v2 clients",
                n,
                n,
                "find the importer of github.com/aws/aws-sdk-go and replace or upgrade it",
            )
        )
    if facts.lambda_rpc.startswith(("compiled in", "probably compiled in")):
        n = sum(s for p, s in pkg_size.items() if p in ("net/rpc", "encoding/gob"))
        out.append(
            Finding(
                "lambda-rpc",
                "warn",
                "aws-lambda-go's RPC mode (go1.x runtime) is compiled in",
                f"net/rpc and encoding/gob add {n} bytes (less where your own code uses them); "
                f"provided.al2023 never uses the RPC mode. Evidence: {facts.lambda_rpc_evidence}",
                n,
                n,
                "build with -tags lambda.norpc",
            )
        )
    label, ms = band(report.file_size)
    out.append(
        Finding(
            "download-band",
            "warn" if report.file_size >= 20 * MiB else "info",
            f"size band {label}: ~{ms} to download on a cold start",
            f"{report.file_size} bytes unzipped, {report.zipped_size} bytes zipped "
            "(fast deflate, an upper bound of a default zip)",
            report.file_size,
            0,
            "shrink the binary to move to a faster band",
        )
    )
    zip_pct = 100 * report.zipped_size / LAMBDA_ZIPPED_LIMIT
    raw_pct = 100 * report.file_size / LAMBDA_UNZIPPED_LIMIT
    over = report.zipped_size > LAMBDA_ZIPPED_LIMIT or report.file_size > LAMBDA_UNZIPPED_LIMIT
    out.append(
        Finding(
            "lambda-limits",
            "warn" if over or zip_pct > 80 else "info",
            "over Lambda's package limits" if over else "within Lambda's package limits",
            f"zipped {zip_pct:.1f}% of 50 MiB, unzipped {raw_pct:.1f}% of 250 MiB",
            report.zipped_size,
            0,
            "use a container image or shrink the binary" if over else "nothing to do",
        )
    )
    return tuple(out)


def _aws_v2(pkg_size: dict[str, int]) -> list[Finding]:
    services: dict[str, int] = {}
    for p, s in pkg_size.items():
        if p.startswith(V2_SERVICE) and not p.startswith(V2_SERVICE + "internal/"):
            svc = p[len(V2_SERVICE) :].split("/", 1)[0]
            services[svc] = services.get(svc, 0) + s
    if not services:
        return []
    out = []
    listing = ", ".join(f"{k} {v}" for k, v in sorted(services.items(), key=lambda kv: -kv[1]))
    total = sum(services.values())
    out.append(
        Finding(
            "heavy:aws-sdk-go-v2-services",
            "warn" if total > 5 * MiB else "info",
            f"{len(services)} AWS SDK v2 service client(s) linked",
            f"bytes per service: {listing}; each client you do not call is pure weight",
            total,
            0,
            "import only the service packages the function calls",
        )
    )
    return out


def _dce(names: Sequence[str], packages: Sequence[str], code: Sequence[int]) -> list[Finding]:
    """reflect Method/MethodByName reachable: the linker keeps every exported method of reachable types."""
    linked = set(names)
    present = [n for n in DCE_SIGNALS if n in linked]
    if not present:
        return []
    kept = [
        size
        for n, p, size in zip(names, packages, code, strict=True)
        if p.startswith(V2_SERVICE) and ".(*Client)." in n
    ]
    detail = (
        f"{', '.join(present)} is linked, so the linker keeps every exported method of every reachable type"
    )
    if kept:
        detail += f"; {len(kept)} AWS SDK v2 client methods ({sum(kept)} bytes of code) are among them"
    return [
        Finding(
            "dce-disabled",
            "warn",
            "dead-code elimination is partly disabled",
            detail,
            sum(kept),
            0,
            "avoid reflect Method/MethodByName (and text/template) on values that reach large types",
        )
    ]
