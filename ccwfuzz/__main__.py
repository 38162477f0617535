from __future__ import annotations

from ccwfuzz.cli import main

raise SystemExit(main())
