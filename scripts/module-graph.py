#!/usr/bin/env python3
"""Module graph of hv-monitor's src/: who imports whom, cycles, imports against the layer order.

Reads src/**/*.rs starting from src/lib.rs and src/main.rs, follows `mod` declarations
(including `#[path = ...]` and inline `mod x { .. }`), and resolves every `use` tree and every
`crate::`/`super::`/`self::` path in code (comments, strings and char literals are blanked first;
intra-doc links in `//!`/`///` are comments, so they do not count). Paths are resolved to the
deepest module they name, then folded to --depth segments (default 2: `emit::xymon`,
`collect::libvirt`, `rates`, `app`...). In main.rs, `hv_monitor::` is the library's root.

Prints the edges (each with the file:line of its first use, and `[test]` when only
`#[cfg(test)]` code makes it), the cycles (strongly connected components of more than one node)
and the edges that break LAYERS below. Exit 1 if there is a cycle or a broken layer, else 0.
`--dot` prints Graphviz instead (cycle nodes red, bad edges red). `--no-tests` ignores
`#[cfg(test)]` modules, to see the shape of the shipped code alone.

Standard library only, on purpose: it runs in CI and on a newcomer's machine without setup.
"""

import argparse
import os
import re
import signal
import sys
from collections import defaultdict

# The declared order, lowest first (issue 17: model -> collect -> emit -> transport -> app).
# `xymon_wire` is the Xymon wire vocabulary (formats, metric names, VM keys, markers, limits);
# `hash` the stable name hash both emitters' keys use; `diag` the stderr line that never panics.
# A module may import from any group below its own. Two different top-level modules in the
# same group are peers and must not import each other (rrd_script and rates must take the Xymon
# wire vocabulary from `xymon_wire`, not from the emitter). A module is placed by the longest
# prefix listed here; a module under the same top-level module as its target (a child using its
# parent, `collect::libvirt` -> `collect`) is inside one layer and only the cycle check applies.
LAYERS = [
    ["model"],
    ["text", "seconds", "hash", "diag"],
    ["error"],
    ["safe_file"],
    ["output"],
    ["xymon_wire"],
    ["collect", "rates"],
    ["emit", "rrd_script"],
    ["transport"],
    ["app"],
    ["cli"],
    ["main"],
]

ROOT = ()  # the crate root module (lib.rs)


def blank_comments_and_strings(src):
    """Same text with comments, string and char literals replaced by spaces (newlines kept)."""
    out = []
    i, n = 0, len(src)

    def keep_lines(chunk):
        return "".join(c if c == "\n" else " " for c in chunk)

    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            out.append(keep_lines(src[i:j]))
            i = j
        elif src.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(keep_lines(src[i:j]))
            i = j
        elif (m := re.match(r'b?r(#*)"', src[i:i + 260])) and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")):
            close = '"' + m.group(1)
            j = src.find(close, i + m.end())
            j = n if j < 0 else j + len(close)
            out.append(keep_lines(src[i:j]))
            i = j
        elif c == '"' or (c == "b" and src.startswith('b"', i) and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_"))):
            j = i + (2 if c == "b" else 1)
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            j += 1
            out.append(keep_lines(src[i:j]))
            i = j
        elif c == "'":
            # A char literal ('x', '\n', '\u{1F600}') or a lifetime ('a): only the former closes.
            m = re.match(r"'(\\u\{[0-9a-fA-F]+\}|\\.|[^\\'\n])'", src[i:i + 16])
            if m:
                out.append(" " * m.end())
                i += m.end()
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def expand_use_tree(tree):
    """`a::{b, c::{d, self}}` -> [['a','b'], ['a','c','d'], ['a','c']] (aliases and `*` dropped)."""
    tree = re.sub(r"\s+as\s+\w+", "", tree)
    tree = re.sub(r"\s+", "", tree)
    results = []

    def walk(prefix, text):
        depth, start, parts = 0, 0, []
        for k, ch in enumerate(text):
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            elif ch == "," and depth == 0:
                parts.append(text[start:k])
                start = k + 1
        parts.append(text[start:])
        for part in parts:
            if not part:
                continue
            if "{" in part:
                head, _, rest = part.partition("{")
                segs = [s for s in head.split("::") if s]
                walk(prefix + segs, rest[: rest.rfind("}")])
                continue
            segs = [s for s in part.split("::") if s and s != "*"]
            if segs and segs[-1] == "self":
                segs = segs[:-1]
            results.append(prefix + segs)

    walk([], tree)
    return results


class Crate:
    def __init__(self, src_dir, with_tests):
        self.src_dir = src_dir
        self.with_tests = with_tests
        self.modules = {ROOT: "lib.rs"}  # module path -> file (relative to src/)
        self.test_modules = set()
        self.children = defaultdict(set)  # module -> names of child modules
        self.files = []  # (file, blanked text, [(line, module, is_test)] spans)
        self.unreached = []

    def load(self):
        self.read_file("lib.rs", ROOT, is_test=False)
        self.read_file("main.rs", ("main",), is_test=False, binary=True)
        self.children[ROOT].add("main")
        self.modules[("main",)] = "main.rs"
        reached = {f for f, _, _, _ in self.files}
        for dirpath, _, names in os.walk(self.src_dir):
            for name in names:
                if name.endswith(".rs"):
                    rel = os.path.relpath(os.path.join(dirpath, name), self.src_dir)
                    if rel not in reached:
                        self.unreached.append(rel)

    def read_file(self, rel, module, is_test, binary=False):
        with open(os.path.join(self.src_dir, rel), encoding="utf-8") as f:
            text = blank_comments_and_strings(f.read())
        # Which module (inline `mod x { }` included) and test-ness each line belongs to.
        stack = [(module, is_test, -1)]
        depth = 0
        line_ctx = []
        pending_cfg_test = False
        pending_path = None
        file_dir = os.path.dirname(rel)
        # Child files of `x.rs` live in `x/`, of `mod.rs`/`lib.rs`/`main.rs` beside it.
        base = os.path.basename(rel)
        child_dir = file_dir if base in ("mod.rs", "lib.rs", "main.rs") else os.path.join(file_dir, base[:-3])
        token = re.compile(r"#\s*\[\s*cfg\s*\(\s*test\s*\)\s*\]|#\s*\[\s*path\s*=\s*\"?|"
                           r"\b(?:pub(?:\s*\([^)]*\))?\s+)?mod\s+(\w+)\s*([;{])|[{}]|#\s*\[")
        # Strings are blanked, so read the #[path] value from the original line.
        with open(os.path.join(self.src_dir, rel), encoding="utf-8") as f:
            raw_lines = f.read().split("\n")
        for lineno, line in enumerate(text.split("\n"), 1):
            line_ctx.append((stack[-1][0], stack[-1][1]))
            for m in token.finditer(line):
                tok = m.group(0)
                if re.match(r"#\s*\[\s*cfg\s*\(\s*test", tok):
                    pending_cfg_test = True
                elif re.match(r"#\s*\[\s*path", tok):
                    pm = re.search(r'#\s*\[\s*path\s*=\s*"([^"]+)"', raw_lines[lineno - 1])
                    pending_path = pm.group(1) if pm else None
                elif tok.startswith("#"):
                    pass
                elif m.group(1):
                    name, kind = m.group(1), m.group(2)
                    parent, parent_test, _ = stack[-1]
                    child = parent + (name,)
                    child_test = parent_test or pending_cfg_test
                    pending_cfg_test = False
                    if child_test and not self.with_tests:
                        if kind == "{":
                            depth += 1
                            stack.append((None, True, depth))
                        pending_path = None
                        continue
                    self.children[parent].add(name)
                    # An inline test module (`mod tests { }`) is part of the module holding it;
                    # a test module in its own file (a shared test builder) is a node of its own,
                    # so a folder's `pub use` of a child and that child's tests using the builder
                    # do not fold into a cycle.
                    if child_test and kind == "{":
                        self.test_modules.add(child)
                    if kind == "{":
                        depth += 1
                        stack.append((child, child_test, depth))
                        self.modules[child] = rel
                    else:
                        if pending_path:
                            path = os.path.normpath(os.path.join(file_dir, pending_path))
                        else:
                            inline_dirs = [s[0][-1] for s in stack[1:] if s[0]]
                            d = os.path.join(child_dir, *inline_dirs)
                            path = os.path.join(d, name + ".rs")
                            if not os.path.exists(os.path.join(self.src_dir, path)):
                                path = os.path.join(d, name, "mod.rs")
                        pending_path = None
                        self.modules[child] = path
                        self.read_file(path, child, child_test)
                elif tok == "{":
                    depth += 1
                    pending_cfg_test = False
                elif tok == "}":
                    if stack[-1][2] == depth:
                        stack.pop()
                    depth -= 1
            # An attribute covers the next item only: any other code line ends it.
            stripped = line.strip()
            if stripped and not stripped.startswith("#") and not re.search(r"\bmod\s+\w+", line):
                pending_cfg_test = False
                pending_path = None
        self.files.append((rel, text, line_ctx, binary))

    def is_module(self, path):
        return tuple(path) in self.modules

    def resolve(self, module, segs, binary):
        """The deepest module a path names, or None when it leaves the crate (std, virt, ...)."""
        if not segs:
            return None
        first = segs[0]
        if first == "crate" or (binary and first == "hv_monitor"):
            base, rest = ROOT, segs[1:]
        elif first in ("super", "self"):
            base, rest = module, segs
            while rest and rest[0] in ("super", "self"):
                if rest[0] == "super":
                    base = base[:-1]
                rest = rest[1:]
        elif first in self.children.get(module, ()):
            base, rest = module, segs
        else:
            return None
        cur = tuple(base)
        for s in rest:
            if cur + (s,) in self.modules:
                cur = cur + (s,)
            else:
                break
        return cur


def module_name(path):
    return "::".join(path) if path else "crate"


def fold(path, depth, test_modules=frozenset()):
    """The node a module belongs to: an inline `#[cfg(test)]` module counts as the one holding it."""
    path = tuple(path)
    while path in test_modules:
        path = path[:-1]
    return module_name(path[:depth])


def collect_edges(crate, depth):
    """{(from, to): (first 'file:line', test_only)} at the given depth."""
    edges = {}
    use_re = re.compile(r"\buse\s+([^;]+);")
    # Any path's head; resolve() keeps crate::, super::, self::, and names of child modules.
    path_re = re.compile(r"(?<![\w:])(\w+(?:\s*::\s*\w+)+)")
    for rel, text, line_ctx, binary in crate.files:
        offsets = [0]
        for line in text.split("\n"):
            offsets.append(offsets[-1] + len(line) + 1)

        def line_of(pos):
            lo, hi = 0, len(offsets) - 1
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if offsets[mid] <= pos:
                    lo = mid
                else:
                    hi = mid - 1
            return lo + 1

        found = []  # (pos, segs)
        use_spans = []
        for m in use_re.finditer(text):
            use_spans.append((m.start(), m.end()))
            for segs in expand_use_tree(m.group(1)):
                found.append((m.start(), segs))
        for m in path_re.finditer(text):
            if any(a <= m.start() < b for a, b in use_spans):
                continue
            found.append((m.start(), [s.strip() for s in m.group(1).split("::")]))
        for pos, segs in found:
            line = line_of(pos)
            module, is_test = line_ctx[line - 1]
            if module is None:
                continue
            target = crate.resolve(module, segs, binary)
            if target is None:
                continue
            a, b = fold(module, depth, crate.test_modules), fold(target, depth, crate.test_modules)
            if a == b or b == "crate":
                continue
            where = f"src/{rel}:{line}"
            if (a, b) not in edges:
                edges[(a, b)] = [where, is_test]
            elif edges[(a, b)][1] and not is_test:
                edges[(a, b)] = [where, False]
    return {k: tuple(v) for k, v in edges.items()}


def strongly_connected(nodes, edges):
    graph = defaultdict(list)
    for a, b in edges:
        graph[a].append(b)
    index, low, on_stack, stack, comps, counter = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            comps.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return [c for c in comps if len(c) > 1]


def layer_of(name):
    """(group index, the prefix that placed it) or (None, None) for a module not in LAYERS."""
    best = (None, None)
    for i, group in enumerate(LAYERS):
        for prefix in group:
            if name == prefix or name.startswith(prefix + "::"):
                if best[1] is None or len(prefix) > len(best[1]):
                    best = (i, prefix)
    return best


def bad_layer_edges(edges):
    bad = []
    for (a, b), info in sorted(edges.items()):
        la, pa = layer_of(a)
        lb, pb = layer_of(b)
        if la is None or lb is None or a.split("::")[0] == b.split("::")[0] and pa == pb:
            continue
        if lb > la:
            bad.append((a, b, info, f"up: {pa} (layer {la}) imports {pb} (layer {lb})"))
        elif lb == la and pa != pb:
            bad.append((a, b, info, f"sideways: {pa} and {pb} are peers (layer {la})"))
    return bad


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--src", default=os.path.join(here, "..", "src"), help="the src/ directory")
    parser.add_argument("--depth", type=int, default=2, help="module path segments kept (default 2)")
    parser.add_argument("--dot", action="store_true", help="print Graphviz instead of text")
    parser.add_argument("--no-tests", action="store_true", help="ignore #[cfg(test)] modules")
    args = parser.parse_args()
    # `| head` closing the pipe is not an error worth a traceback.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)

    crate = Crate(os.path.normpath(args.src), with_tests=not args.no_tests)
    crate.load()
    edges = collect_edges(crate, args.depth)
    nodes = {fold(m, args.depth, crate.test_modules) for m in crate.modules if m}
    nodes |= {n for e in edges for n in e}
    nodes.discard("crate")
    cycles = strongly_connected(nodes, edges)
    in_cycle = {n for c in cycles for n in c}
    bad = bad_layer_edges(edges)
    bad_pairs = {(a, b) for a, b, _, _ in bad}

    if args.dot:
        print("digraph modules {\n  rankdir=BT;\n  node [shape=box, fontname=monospace];")
        for n in sorted(nodes):
            colour = ', color=red, fontcolor=red' if n in in_cycle else ""
            print(f'  "{n}" [label="{n}"{colour}];')
        for (a, b), (where, test_only) in sorted(edges.items()):
            style = []
            if (a, b) in bad_pairs:
                style.append("color=red")
            if test_only:
                style.append("style=dashed")
            attrs = f" [{', '.join(style)}]" if style else ""
            print(f'  "{a}" -> "{b}"{attrs};')
        print("}")
    else:
        print(f"# modules at depth {args.depth}: {len(nodes)}; edges: {len(edges)}"
              f"{' (tests ignored)' if args.no_tests else ' ([test]: only #[cfg(test)] code)'}")
        for (a, b), (where, test_only) in sorted(edges.items()):
            print(f"{a} -> {b}    {where}{'  [test]' if test_only else ''}")
        print(f"\n# cycles (strongly connected components of more than one node): {len(cycles)}")
        for c in cycles:
            inner = sorted((a, b) for (a, b) in edges if a in c and b in c)
            shortest = min(c, key=len)
            kind = ("a parent and its children: the parent file holds code its children use"
                    if all(n == shortest or n.startswith(shortest + "::") for n in c)
                    else "across modules")
            print("  {" + ", ".join(c) + "}  (" + kind + ")")
            for a, b in inner:
                where, test_only = edges[(a, b)]
                print(f"    {a} -> {b}    {where}{'  [test]' if test_only else ''}")
        print(f"\n# edges against the layer order: {len(bad)}")
        for a, b, (where, test_only), why in bad:
            print(f"  {a} -> {b}    {where}{'  [test]' if test_only else ''}    ({why})")
        unplaced = sorted(n for n in nodes if layer_of(n)[0] is None)
        if unplaced:
            print(f"\n# modules not in LAYERS (not checked): {', '.join(unplaced)}")
        # With --no-tests the test files are left out on purpose.
        if crate.unreached and not args.no_tests:
            print(f"\n# files no `mod` reaches: {', '.join(sorted(crate.unreached))}")
    sys.exit(1 if cycles or bad else 0)


if __name__ == "__main__":
    main()
