"""Cases the product does not pass yet, each with the open problem it shows.

Listed here, a case is an expected failure (strict: when it starts to pass, the test
fails until it is removed from this list), so CI stays green while the table in
benchmarks/README.md keeps every failure visible. Add nothing here to hide a regression:
a case leaves this list when its cause is fixed.
"""

from __future__ import annotations

KNOWN_FAILURES: dict[str, str] = {}
