#!/usr/bin/env python3
"""Replaces the text between `<!-- BEGIN name -->` and `<!-- END name -->` in a Markdown file
with standard input, so that the experiment scripts write their tables into docs/ themselves.

Usage: some-command | scripts/fill-table.py docs/caf.md caf-2d
"""
import sys

path, name = sys.argv[1], sys.argv[2]
begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
text = open(path, encoding="utf-8").read()
if begin not in text or end not in text:
    sys.exit(f"{path}: no {begin} … {end} block")
head, rest = text.split(begin, 1)
_, tail = rest.split(end, 1)
body = sys.stdin.read().strip("\n")
open(path, "w", encoding="utf-8").write(f"{head}{begin}\n{body}\n{end}{tail}")
print(f"{path}: wrote block {name}", file=sys.stderr)
