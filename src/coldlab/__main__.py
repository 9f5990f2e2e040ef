from __future__ import annotations

from coldlab.cli import main

main()
