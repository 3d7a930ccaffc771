#!/usr/bin/env python3
"""The longest functions in core/**/*.c and lua/**/*.lua at a git revision, as
a markdown table (lines from the opening line to the closing brace or `end`).
C: a definition starts at column 0 and ends at the next `}` in column 0. Lua:
block keywords are matched after blanking comments and strings.

usage: core/tools/function_lengths.py REPO REV [N [NAME,PATH-PART,...]]
  e.g. core/tools/function_lengths.py . HEAD 12"""
import re, subprocess, sys
repo, rev = sys.argv[1], sys.argv[2]
N = int(sys.argv[3]) if len(sys.argv) > 3 else 12
files = subprocess.run(["git", "-C", repo, "ls-tree", "-r", "--name-only", rev], capture_output=True, text=True).stdout.split()
def show(p): return subprocess.run(["git", "-C", repo, "show", f"{rev}:{p}"], capture_output=True, text=True).stdout
out = []
for p in files:
    if p.startswith("core/") and p.endswith(".c"):
        lines = show(p).split("\n")
        start = name = None
        for i, l in enumerate(lines, 1):
            m = re.match(r"^[A-Za-z_][\w \*]*?\b(\w+)\s*\([^;]*$", l)
            if start is None and m and not l.startswith(("typedef", "struct", "enum", "#")):
                # body opens on this line or the next few
                start, name = i, m.group(1)
            if start is not None and l.startswith("}"):
                out.append((i - start + 1, f"{p}:{start}", name)); start = None
            if start is not None and l.rstrip().endswith(";") and not l.startswith(" ") and i == start:
                start = None
    elif p.startswith("lua/") and p.endswith(".lua"):
        src = show(p)
        # blank out comments and strings, keeping newlines
        def blank(m): return re.sub(r"[^\n]", " ", m.group(0))
        tok = re.compile(r"--\[(=*)\[.*?\]\1\]|\[(=*)\[.*?\]\2\]|--[^\n]*|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'", re.S)
        src = tok.sub(blank, src)
        stack = []
        for m in re.finditer(r"\b(function|if|do|repeat|until|end)\b|\n", src):
            if m.group(0) == "\n": continue
            line = src.count("\n", 0, m.start()) + 1
            w = m.group(1)
            if w in ("function", "if", "do", "repeat"):
                nm = ""
                if w == "function":
                    after = re.match(r"\s*([\w\.:]*)", src[m.end():]).group(1)
                    before = re.search(r"([\w\.\[\]\"]+)\s*=\s*$", src[max(0, m.start()-80):m.start()])
                    nm = after or (before.group(1) if before else "(anonymous)")
                stack.append((w, line, nm))
            elif w in ("end", "until"):
                if not stack: continue
                kind, l0, nm = stack.pop()
                if kind == "function":
                    out.append((line - l0 + 1, f"{p}:{l0}", nm))
out.sort(reverse=True)
print(f"| lines | where | function |\n|---:|---|---|")
sel = sys.argv[4].split(",") if len(sys.argv) > 4 else None
for n, where, name in (out if sel else out[:N]):
    if sel and not any(s in where or s == name for s in sel): continue
    print(f"| {n} | {where} | {name} |")
