"""`coldlab anatomy`: one function's cold start taken apart by phase, measured here or modelled (and how).

Rooms: `runner` (N cold starts in coldlab's execution environment, timestamps), `probe` (the Host wrapper
that times each exec and attaches strace), `timeline` (phases of one run from the init trace), `codeprep`
(the package's unzip and page-in), `platform_model` (the parts only Lambda has: provisioning, code download,
its own work inside Init Duration), `network` (calls before the first /next, from strace), `build` (rows,
totals), `advice`, `analyze` (all of it for one function), `render` (rich, Markdown), `report` (JSON
`coldlab.anatomy/1`), `waterfall` (PNG), `aws` (real Lambda, through tune's AWS backend).
"""

from __future__ import annotations

SCHEMA = "coldlab.anatomy/1"
