#!/usr/bin/env python3
"""Write docs/LINTS.md from the lint registry (tests/policy/test_docs.py keeps it in sync).

    python scripts/gen_lints_doc.py          # writes docs/LINTS.md
    python scripts/gen_lints_doc.py --check  # exit 1 if docs/LINTS.md is stale
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from registry.policy import lints_markdown  # noqa: E402

TARGET = ROOT / "docs" / "LINTS.md"


def main(argv: list[str]) -> int:
    text = lints_markdown()
    if "--check" in argv:
        current = TARGET.read_text() if TARGET.exists() else ""
        if current != text:
            print(f"{TARGET} is stale: run scripts/gen_lints_doc.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    print(f"wrote {TARGET} ({text.count(chr(10))} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
