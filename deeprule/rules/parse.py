"""Rule text (a whitelisted Python subset) -> IR. LLM text is parsed, never executed.

Accepted:

    def stock(row):
        share = row["cat_share"] * 2.0        # local names: substituted, not stored
        if row.price_sensitivity > 0.7:
            return share > 0.3
        return share > 0.1

    def price(row):
        return max(row.cost * 1.1, row.list_price * (1 - 0.05 * row.loyalty))

Statements: assignments to plain names, `if`/`elif`/`else` (a branch that
does not return falls through, as in Python), and `return`; every path must
return. Expressions: numbers, True/False, + - * / **, unary
-, `not`, comparisons (chained too), `and`/`or`, `a if c else b`, the calls in
`ir.FUNCTIONS`, local names, and `row["feature"]` / `row.feature` for features
in the caller's vocabulary. A near-miss feature name (within `max_edits(name)`
edits of exactly one known name, as the paper's compiler corrects them) is
read as that name and listed in `Program.corrections`. Anything else — imports,
attributes other than `row.<feature>`, other calls, lambdas, loops, comprehensions, strings, dunder
names — is a `RuleSyntaxError` naming line and column. Size is bounded before
anything is built (source length, then nodes and depth).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass, field

from deeprule.rules import ir

RULE_FUNCTIONS = ("stock", "price")
MAX_SOURCE_CHARS = 4_000
MAX_NODES = 200
MAX_DEPTH = 16
MAX_PARSE_STEPS = 20 * MAX_NODES

_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_CMPOPS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==",
           ast.NotEq: "!="}


class RuleSyntaxError(ValueError):
    """Rule text outside the language, with where it happened."""

    def __init__(self, message: str, node: ast.AST | None = None, *,
                 line: int | None = None, col: int | None = None) -> None:
        """Where: `node`'s position, else `line` and the 0-based `col` (a Python syntax
        error has no node)."""
        line = getattr(node, "lineno", line)
        col = getattr(node, "col_offset", col)
        where = f"line {line}, column {col + 1}: " if line is not None and col is not None else ""
        super().__init__(where + message)
        self.line, self.column = line, col


@dataclass
class _Parser:
    """One parse: the allowed features and the constants met so far."""

    features: frozenset[str]
    constants: list[float]
    corrections: dict[str, str] = field(default_factory=dict)
    work: int = 0

    def function(self, fn: ast.FunctionDef) -> ir.Node:
        args = fn.args
        if ([a.arg for a in args.args] != ["row"] or args.vararg or args.kwarg
                or args.kwonlyargs or args.posonlyargs or args.defaults or fn.decorator_list):
            raise RuleSyntaxError(f"{fn.name} must be declared as `def {fn.name}(row):`", fn)
        return self.block(fn.body, {}, fn)

    def block(self, body: list[ast.stmt], env: dict[str, ir.Node], owner: ast.AST) -> ir.Node:
        """Statements up to the first return; every path must return."""
        env = dict(env)
        for position, stmt in enumerate(body):
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) \
                    and isinstance(stmt.value.value, str):
                continue  # a docstring
            if isinstance(stmt, ast.Assign):
                self.assign(stmt, env)
            elif isinstance(stmt, ast.Return):
                if stmt.value is None:
                    raise RuleSyntaxError("return needs a value", stmt)
                return self.expr(stmt.value, env)
            elif isinstance(stmt, ast.If):
                # a branch that does not return falls through to the statements after the if
                rest = body[position + 1:]
                test = self.expr(stmt.test, env)
                then = self.block(stmt.body + rest, env, stmt)
                return ir.Where(test, then, self.block(stmt.orelse + rest, env, stmt))
            else:
                raise RuleSyntaxError(f"statement not allowed: {type(stmt).__name__}", stmt)
        raise RuleSyntaxError("this path ends without a return", owner)

    def assign(self, stmt: ast.Assign, env: dict[str, ir.Node]) -> None:
        if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
            raise RuleSyntaxError("assign to one plain name", stmt)
        name = stmt.targets[0].id
        if name == "row" or name.startswith("_") or name in ir.FUNCTIONS:
            raise RuleSyntaxError(f"cannot assign to {name!r}", stmt)
        env[name] = self.expr(stmt.value, env)

    def expr(self, node: ast.expr, env: dict[str, ir.Node]) -> ir.Node:
        self.work += 1
        if self.work > MAX_PARSE_STEPS:
            raise RuleSyntaxError(f"rule too large: over {MAX_PARSE_STEPS} expression steps "
                                  "(if-statements repeat the code after them per branch)", node)
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            raise RuleSyntaxError(f"expression not allowed: {type(node).__name__}", node)
        return method(node, env)

    def _Constant(self, node: ast.Constant, env: dict[str, ir.Node]) -> ir.Node:
        if isinstance(node.value, bool):
            return ir.Flag(node.value)
        if isinstance(node.value, int | float):
            self.constants.append(float(node.value))
            return ir.Const(float(node.value), len(self.constants) - 1)
        raise RuleSyntaxError(f"only numbers and True/False are literals, not {node.value!r}",
                              node)

    def _Name(self, node: ast.Name, env: dict[str, ir.Node]) -> ir.Node:
        if node.id in env:
            return env[node.id]
        raise RuleSyntaxError(f"unknown name {node.id!r} (features are row['name'])", node)

    def _Subscript(self, node: ast.Subscript, env: dict[str, ir.Node]) -> ir.Node:
        key = node.slice
        if not (isinstance(node.value, ast.Name) and node.value.id == "row"
                and isinstance(key, ast.Constant) and isinstance(key.value, str)):
            raise RuleSyntaxError("only row['feature'] may be subscripted", node)
        return self.feature(key.value, node)

    def _Attribute(self, node: ast.Attribute, env: dict[str, ir.Node]) -> ir.Node:
        if not (isinstance(node.value, ast.Name) and node.value.id == "row"):
            raise RuleSyntaxError("only row.<feature> attributes are allowed", node)
        return self.feature(node.attr, node)

    def feature(self, name: str, node: ast.AST) -> ir.Node:
        if name in self.features:
            return ir.Feature(name)
        match = nearest_name(name, self.features)
        if match is None:
            known = ", ".join(sorted(self.features)[:40])
            raise RuleSyntaxError(f"unknown feature {name!r}; known: {known}", node)
        self.corrections[name] = match
        return ir.Feature(match)

    def _BinOp(self, node: ast.BinOp, env: dict[str, ir.Node]) -> ir.Node:
        op = _BINOPS.get(type(node.op))
        if op is None:
            raise RuleSyntaxError(f"operator not allowed: {type(node.op).__name__}", node)
        return ir.BinOp(op, self.expr(node.left, env), self.expr(node.right, env))

    def _UnaryOp(self, node: ast.UnaryOp, env: dict[str, ir.Node]) -> ir.Node:
        operand = self.expr(node.operand, env)
        if isinstance(node.op, ast.UAdd):
            return operand
        if isinstance(node.op, ast.USub) and isinstance(operand, ir.Const):
            self.constants[operand.index] = -operand.value  # `-0.05` is one literal
            return ir.Const(-operand.value, operand.index)
        if isinstance(node.op, ast.USub):
            return ir.Unary("-", operand)
        if isinstance(node.op, ast.Not):
            return ir.Unary("not", operand)
        raise RuleSyntaxError(f"operator not allowed: {type(node.op).__name__}", node)

    def _Compare(self, node: ast.Compare, env: dict[str, ir.Node]) -> ir.Node:
        """`a < b < c` is `a < b and b < c`, as in Python."""
        operands = [self.expr(node.left, env), *(self.expr(c, env) for c in node.comparators)]
        parts = []
        for op, left, right in zip(node.ops, operands, operands[1:], strict=False):
            symbol = _CMPOPS.get(type(op))
            if symbol is None:
                raise RuleSyntaxError(f"comparison not allowed: {type(op).__name__}", node)
            parts.append(ir.Compare(symbol, left, right))
        return parts[0] if len(parts) == 1 else ir.Logic("and", tuple(parts))

    def _BoolOp(self, node: ast.BoolOp, env: dict[str, ir.Node]) -> ir.Node:
        op = "and" if isinstance(node.op, ast.And) else "or"
        return ir.Logic(op, tuple(self.expr(v, env) for v in node.values))

    def _IfExp(self, node: ast.IfExp, env: dict[str, ir.Node]) -> ir.Node:
        return ir.Where(self.expr(node.test, env), self.expr(node.body, env),
                     self.expr(node.orelse, env))

    def _Call(self, node: ast.Call, env: dict[str, ir.Node]) -> ir.Node:
        if not isinstance(node.func, ast.Name) or node.func.id not in ir.FUNCTIONS:
            raise RuleSyntaxError(f"call not allowed; allowed: {', '.join(ir.FUNCTIONS)}", node)
        if node.keywords:
            raise RuleSyntaxError("keyword arguments are not allowed", node)
        low, high = ir.FUNCTIONS[node.func.id]
        if len(node.args) < low or (high is not None and len(node.args) > high):
            raise RuleSyntaxError(f"{node.func.id} takes {low}"
                                  f"{'' if high == low else '+' if high is None else f'-{high}'}"
                                  f" arguments, got {len(node.args)}", node)
        return ir.Call(node.func.id, tuple(self.expr(a, env) for a in node.args))


def parse_program(source: str, features: Iterable[str],
                  required: Iterable[str] = RULE_FUNCTIONS) -> ir.Program:
    """Parse rule text into a `ir.Program` with one expression per rule function."""
    if len(source) > MAX_SOURCE_CHARS:
        raise RuleSyntaxError(f"rule text is {len(source)} characters; the limit is "
                              f"{MAX_SOURCE_CHARS}")
    try:
        tree = ast.parse(source, mode="exec")
    except SyntaxError as err:
        raise RuleSyntaxError(f"not valid Python syntax: {err.msg}", line=err.lineno,
                              col=max((err.offset or 1) - 1, 0)) from err
    parser = _Parser(frozenset(features), [])
    functions: dict[str, ir.Node] = {}
    for stmt in tree.body:
        if not isinstance(stmt, ast.FunctionDef) or stmt.name not in RULE_FUNCTIONS:
            raise RuleSyntaxError(f"only `def {'(row)` / `def '.join(RULE_FUNCTIONS)}(row)` "
                                  "may appear at the top level", stmt)
        if stmt.name in functions:
            raise RuleSyntaxError(f"{stmt.name} is defined twice", stmt)
        try:
            root = parser.function(stmt)
        except RecursionError as err:
            raise RuleSyntaxError(f"{stmt.name} is nested too deeply", stmt) from err
        functions[stmt.name] = check_size(root, stmt)
    missing = [name for name in required if name not in functions]
    if missing:
        raise RuleSyntaxError(f"missing rule function(s): {', '.join(missing)}")
    return ir.Program(functions, tuple(parser.constants), tuple(parser.corrections.items()))


def max_edits(name: str) -> int:
    """Edits forgiven in a feature name: 1 up to 8 characters, 2 beyond (short names are
    too close to each other to guess)."""
    return 1 if len(name) <= 8 else 2


def nearest_name(name: str, known: Iterable[str]) -> str | None:
    """The one known name within `max_edits(name)` edits of `name`; None if none or a tie."""
    limit = max_edits(name)
    scored = sorted((edit_distance(name, k, limit), k) for k in known)
    close = [(d, k) for d, k in scored if d <= limit]
    if not close or (len(close) > 1 and close[0][0] == close[1][0]):
        return None
    return close[0][1]


def edit_distance(a: str, b: str, limit: int) -> int:
    """Edits (insert, delete, substitute, swap two neighbours: `cots` is one from `cost`)
    between `a` and `b`, or `limit + 1` once it must exceed `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    before, previous = None, list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i]
        for j in range(1, len(b) + 1):
            cost = min(previous[j] + 1, current[j - 1] + 1,
                       previous[j - 1] + (a[i - 1] != b[j - 1]))
            if before and i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cost = min(cost, before[j - 2] + 1)
            current.append(cost)
        if min(current) > limit and min(previous) > limit:  # a swap reaches back two rows
            return limit + 1
        before, previous = previous, current
    return min(previous[-1], limit + 1)


def check_size(root: ir.Node, where: ast.AST | str) -> ir.Node:
    """Refuse trees too large to audit; `where` is the defining statement or a rule name.

    Local names are substituted, so a short text can describe a huge tree
    (`x = x + x` repeated): sizes are counted over shared subtrees once each.
    """
    sizes: dict[int, tuple[int, int]] = {}

    def size_and_depth(node: ir.Node) -> tuple[int, int]:
        if id(node) not in sizes:
            parts = [size_and_depth(c) for c in node.children()]
            sizes[id(node)] = (1 + sum(p[0] for p in parts),
                               1 + max((p[1] for p in parts), default=0))
        return sizes[id(node)]

    nodes, levels = size_and_depth(root)
    if nodes > MAX_NODES or levels > MAX_DEPTH:
        label = f"{where}: " if isinstance(where, str) else ""
        raise RuleSyntaxError(f"{label}rule too large: {nodes} nodes, depth {levels} "
                              f"(limits {MAX_NODES} nodes, depth {MAX_DEPTH})",
                              where if isinstance(where, ast.AST) else None)
    return root
