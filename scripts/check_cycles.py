#!/usr/bin/env python3
"""Fails when the files (modules) of a crate import each other in a cycle.

Layering (abi -> verify -> claims, schema -> verification, types -> rules) holds when no
module reaches back into a module that reaches it. This reads every `crate::a::b` and
`super::a` path in the non-test code of each crate under crates/ (comments and `mod tests`
blocks left out), maps it to the module file it names (the longest existing prefix, not an
ancestor of the importing module), and reports every cycle of that graph.

Usage: scripts/check_cycles.py [CRATE_SRC_DIR ...]   (default: crates/*/src)
"""

import glob
import os
import re
import sys


def module_of(root, path):
    parts = os.path.relpath(path, root)[: -len(".rs")].split(os.sep)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def imports(root, modules, module, path):
    text = open(path, encoding="utf-8").read()
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"#\[cfg\(test\)\]\s*mod tests\s*\{.*", "", text, flags=re.S)
    found = set()
    for m in re.finditer(r"\b(crate|super)((?:::[a-z_][a-z0-9_]*)+)", text):
        kind, rest = m.groups()
        names = [n for n in rest.split("::") if n]
        base = [] if kind == "crate" else list(module[:-1])
        target = base + names
        for k in range(len(target), 0, -1):
            t = tuple(target[:k])
            if t in modules:
                is_ancestor = len(t) < len(module) and module[: len(t)] == t
                if t != module and not is_ancestor:
                    found.add(t)
                break
    return found


def cycles(graph):
    found = set()

    def visit(node, stack, on_stack):
        for dep in graph.get(node, ()):
            if dep in on_stack:
                cycle = stack[stack.index(dep):]
                k = min(range(len(cycle)), key=lambda i: cycle[i])
                found.add(tuple(cycle[k:] + cycle[:k]))
            elif len(stack) < 32:
                visit(dep, stack + [dep], on_stack | {dep})

    for n in graph:
        visit(n, [n], {n})
    return sorted(found)


def main(roots):
    failed = False
    for root in roots:
        files = glob.glob(os.path.join(root, "**", "*.rs"), recursive=True)
        modules = {module_of(root, f): f for f in files}
        graph = {m: imports(root, modules, m, f) for m, f in modules.items()}
        for c in cycles(graph):
            failed = True
            names = ["::".join(m) or "lib" for m in c + (c[0],)]
            print(f"check_cycles: {root}: {' -> '.join(names)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    default = sorted(glob.glob(os.path.join(here, "..", "crates", "*", "src")))
    sys.exit(main(sys.argv[1:] or default))
