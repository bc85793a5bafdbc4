#!/usr/bin/env python3
"""Checks that every ```cpp block of a tutorial is a verbatim slice of the example files.

Usage: check_quotes.py TUTORIAL.md EXAMPLE...
Exits 1 naming each block that is not found, so the tutorial and the compiled examples
cannot drift apart unnoticed.
"""
import re
import sys


def main():
    tutorial, examples = sys.argv[1], sys.argv[2:]
    with open(tutorial, encoding="utf-8") as f:
        doc = f.read()
    sources = []
    for path in examples:
        with open(path, encoding="utf-8") as f:
            sources.append(f.read())
    blocks = re.findall(r"^```cpp\n(.*?)^```$", doc, flags=re.S | re.M)
    if not blocks:
        print(f"{tutorial}: no ```cpp blocks found", file=sys.stderr)
        return 1
    missing = [b for b in blocks if not any(b in s for s in sources)]
    for b in missing:
        first = b.splitlines()[0] if b.strip() else "(empty block)"
        print(f"{tutorial}: a cpp block is not in the examples verbatim; it starts: {first}",
              file=sys.stderr)
    print(f"{len(blocks) - len(missing)} of {len(blocks)} cpp blocks quoted verbatim")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
