"""Evaluates a Terraform module's expressions, far enough to compare it with template.yaml.

python-hcl2 parses the module's files; this walks the parse trees and evaluates
what the module uses: variables (a caller's values, else the defaults), locals,
conditionals, operators, lists, objects, string templates, `for` expressions, and
the functions the module calls. Data sources and resource attributes are symbols:
`data.aws_partition.current.partition` takes its value from the caller's table,
and `aws_sqs_queue.dead_letter.arn` stays `${aws_sqs_queue.dead_letter.arn}`.
A `dynamic` block is expanded as Terraform expands it.
"""

import json
import re
from pathlib import Path

import hcl2
from lark import Token, Tree


class EvalError(Exception):
    """An expression Terraform would refuse (a failed regex, an unknown name)."""


class Symbol:
    """A value only known at apply time: a resource attribute, a data source."""

    def __init__(self, path, table):
        self.path = path
        self.table = table

    def attr(self, name):
        path = f"{self.path}.{name}"
        if path in self.table:
            return self.table[path]
        return Symbol(path, self.table)

    def __str__(self):
        return "${" + self.path + "}"

    def __eq__(self, other):
        return isinstance(other, Symbol) and other.path == self.path

    def __hash__(self):
        return hash(self.path)


def _trees(node):
    """A node's children that matter: no punctuation tokens, no newlines or comments."""
    return [
        c
        for c in node.children
        if isinstance(c, Tree) and c.data != "new_line_or_comment"
    ]


def _name(node):
    """The text of an identifier or a plain string (a block label)."""
    if node.data in ("identifier", "keyword"):
        return str(node.children[0])
    if node.data == "string":
        return "".join(str(p.children[0]) for p in _trees(node))
    raise EvalError(f"not a name: {node.data}")


def _unescape(text):
    return re.sub(r'\\(.)', lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text)


def _text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _regex(pattern, text):
    match = re.search(pattern, text)
    if match is None:
        raise EvalError(f"regex {pattern!r} does not match {text!r}")
    return match.group(0)


FUNCTIONS = {
    "length": len,
    "join": lambda sep, items: sep.join(_text(i) for i in items),
    "split": lambda sep, text: text.split(sep),
    "contains": lambda items, value: value in items,
    "alltrue": lambda items: all(items),
    "anytrue": lambda items: any(items),
    "tostring": _text,
    "jsonencode": lambda value: json.dumps(value, separators=(",", ":"), default=str),
    "regex": _regex,
    "merge": lambda *maps: {k: v for m in maps for k, v in m.items()},
    "concat": lambda *lists: [i for items in lists for i in items],
    "coalesce": lambda *values: next(v for v in values if v not in ("", None)),
    "filebase64sha256": lambda path: Symbol(f"filebase64sha256({path})", {}),
}


class Module:
    """One directory of .tf files: its variables, locals, resources and data sources."""

    def __init__(self, directory, texts=None):
        """`texts` maps a file name to replacement text (a test's edit)."""
        self.variables, self.locals, self.resources, self.data = {}, {}, {}, {}
        for path in sorted(Path(directory).glob("*.tf")):
            text = (texts or {}).get(path.name, path.read_text(encoding="utf-8"))
            body = _trees(hcl2.parses_to_tree(text))[0]
            for block in (c for c in _trees(body) if c.data == "block"):
                parts = _trees(block)
                kind = _name(parts[0])
                labels = [_name(p) for p in parts[1:-1]]
                inner = parts[-1]
                if kind == "variable":
                    self.variables[labels[0]] = inner
                elif kind == "locals":
                    for attr in (c for c in _trees(inner) if c.data == "attribute"):
                        name, expr = _trees(attr)
                        self.locals[_name(name)] = expr
                elif kind == "resource":
                    self.resources.setdefault(labels[0], {})[labels[1]] = inner
                elif kind == "data":
                    self.data.setdefault(labels[0], {})[labels[1]] = inner

    def evaluator(self, values, symbols):
        return Evaluator(self, values, symbols)


class Evaluator:
    def __init__(self, module, values, symbols):
        self.module = module
        self.symbols = symbols
        self.values = dict(values)
        self.local_cache = {}
        unknown = set(values) - set(module.variables)
        if unknown:
            raise EvalError(f"no such variables: {sorted(unknown)}")

    # --- variables and locals ---

    def var(self, name):
        if name not in self.values:
            if name not in self.module.variables:
                raise EvalError(f"no variable {name}")
            attrs, _ = self.body(self.module.variables[name], {}, only=("default",))
            if "default" not in attrs:
                raise EvalError(f"variable {name} has no default and no value")
            self.values[name] = attrs["default"]
        return self.values[name]

    def local(self, name):
        if name not in self.local_cache:
            if name not in self.module.locals:
                raise EvalError(f"no local {name}")
            self.local_cache[name] = self.eval(self.module.locals[name], {})
        return self.local_cache[name]

    def variable_block(self, name):
        """A variable's declaration: type (as written), default, validation blocks."""
        block = self.module.variables[name]
        out = {"validation": []}
        for child in _trees(block):
            if child.data == "attribute":
                key, expr = _trees(child)
                out[_name(key)] = expr
            elif child.data == "block":
                out["validation"].append(child)
        return out

    def validation_passes(self, name, value):
        """Whether every validation block of variable `name` accepts `value`."""
        saved = self.values.get(name, None), name in self.values
        self.values[name] = value
        self.local_cache.clear()
        try:
            for block in self.variable_block(name)["validation"]:
                attrs, _ = self.body(_trees(block)[-1], {}, only=("condition",))
                if attrs["condition"] is not True:
                    return False
            return True
        finally:
            if saved[1]:
                self.values[name] = saved[0]
            else:
                del self.values[name]
            self.local_cache.clear()

    # --- blocks ---

    def body(self, body, env, only=None):
        """A block body: ({attribute: value}, {block type: [(labels, body dict)]}).

        `dynamic "x"` blocks are expanded into `x` blocks, as Terraform does."""
        attrs, blocks = {}, {}
        for child in _trees(body):
            if child.data == "attribute":
                key, expr = _trees(child)
                key = _name(key)
                if only is None or key in only:
                    attrs[key] = self.eval(expr, env)
            elif child.data == "block" and only is None:
                parts = _trees(child)
                kind = _name(parts[0])
                labels = [_name(p) for p in parts[1:-1]]
                if kind == "dynamic":
                    for item in self.expand_dynamic(labels[0], parts[-1], env):
                        blocks.setdefault(labels[0], []).append(item)
                else:
                    blocks.setdefault(kind, []).append((labels, self.body(parts[-1], env)))
        return attrs, blocks

    def expand_dynamic(self, label, body, env):
        for_each, content = None, None
        for child in _trees(body):
            if child.data == "attribute":
                key, expr = _trees(child)
                if _name(key) == "for_each":
                    for_each = self.eval(expr, env)
            elif child.data == "block" and _name(_trees(child)[0]) == "content":
                content = _trees(child)[-1]
        items = for_each.items() if isinstance(for_each, dict) else enumerate(for_each)
        for key, value in items:
            inner = dict(env)
            inner[label] = {"key": key, "value": value}
            yield ([], self.body(content, inner))

    def resource(self, kind, name):
        return self.body(self.module.resources[kind][name], {})

    def data_source(self, kind, name):
        return self.body(self.module.data[kind][name], {})

    # --- expressions ---

    def eval(self, node, env):
        if isinstance(node, Token):
            raise EvalError(f"unexpected token {node!r}")
        method = getattr(self, "_" + node.data, None)
        if method is None:
            raise EvalError(f"expression not supported here: {node.data}")
        return method(node, env)

    def _expr_term(self, node, env):
        (inner,) = _trees(node)
        return self.eval(inner, env)

    def _identifier(self, node, env):
        name = _name(node)
        if name in env:
            return env[name]
        if name in ("var", "local"):
            return (name,)
        return Symbol(name, self.symbols)

    def _get_attr_expr_term(self, node, env):
        base_node, attr = _trees(node)
        base = self.eval(base_node, env)
        name = _name(_trees(attr)[0])
        if base == ("var",):
            return self.var(name)
        if base == ("local",):
            return self.local(name)
        if isinstance(base, Symbol):
            return base.attr(name)
        if isinstance(base, dict):
            if name not in base:
                raise EvalError(f"no attribute {name}")
            return base[name]
        raise EvalError(f"no attribute {name} on {base!r}")

    def _index_expr_term(self, node, env):
        base_node, index = _trees(node)
        base = self.eval(base_node, env)
        key = self.eval(_trees(index)[0], env)
        try:
            return base[key]
        except (KeyError, IndexError, TypeError) as e:
            raise EvalError(f"bad index {key!r}") from e

    def _string(self, node, env):
        out = []
        for part in _trees(node):
            (piece,) = part.children
            if isinstance(piece, Tree) and piece.data == "interpolation":
                out.append(_text(self.eval(_trees(piece)[0], env)))
            else:
                out.append(_unescape(str(piece)))
        return "".join(out)

    def _int_lit(self, node, env):
        return int(str(node.children[0]))

    def _float_lit(self, node, env):
        return float(str(node.children[0]))

    def _literal_value(self, node, env):
        return {"true": True, "false": False, "null": None}[str(node.children[0])]

    def _tuple(self, node, env):
        return [self.eval(c, env) for c in _trees(node)]

    def _object(self, node, env):
        out = {}
        for elem in _trees(node):
            key_node, value = _trees(elem)
            (key,) = _trees(key_node)
            inner = _trees(key)[0] if key.data == "expr_term" else key
            out[_name(inner) if inner.data == "identifier" else self.eval(key, env)] = (
                self.eval(value, env)
            )
        return out

    def _conditional(self, node, env):
        cond, yes, no = _trees(node)
        test = self.eval(cond, env)
        if not isinstance(test, bool):
            raise EvalError(f"condition is not a bool: {test!r}")
        return self.eval(yes if test else no, env)

    def _unary_op(self, node, env):
        op = str(node.children[0])
        value = self.eval(_trees(node)[0], env)
        return (not value) if op == "!" else -value

    def _binary_op(self, node, env):
        left_node, term = _trees(node)
        op_node, right_node = _trees(term)
        op = str(op_node.children[0])
        left = self.eval(left_node, env)
        if op == "&&" and left is False:
            return False
        if op == "||" and left is True:
            return True
        right = self.eval(right_node, env)
        ops = {
            "&&": lambda: left and right,
            "||": lambda: left or right,
            "==": lambda: left == right,
            "!=": lambda: left != right,
            ">": lambda: left > right,
            ">=": lambda: left >= right,
            "<": lambda: left < right,
            "<=": lambda: left <= right,
            "+": lambda: left + right,
            "-": lambda: left - right,
            "*": lambda: left * right,
            "/": lambda: left / right,
        }
        return ops[op]()

    def _function_call(self, node, env):
        parts = _trees(node)
        name = _name(parts[0])
        args = _trees(parts[1]) if len(parts) > 1 else []
        if name == "can":
            try:
                self.eval(args[0], env)
                return True
            except (EvalError, re.error, TypeError, ValueError):
                return False
        if name not in FUNCTIONS:
            raise EvalError(f"function not supported here: {name}")
        return FUNCTIONS[name](*[self.eval(a, env) for a in args])

    def _for_tuple_expr(self, node, env):
        parts = _trees(node)
        intro, body = parts[0], parts[1]
        cond = parts[2] if len(parts) > 2 else None
        names = [_name(n) for n in _trees(intro) if n.data == "identifier"]
        collection = self.eval([n for n in _trees(intro) if n.data != "identifier"][0], env)
        items = collection.items() if isinstance(collection, dict) else enumerate(collection)
        out = []
        for key, value in items:
            inner = dict(env)
            if len(names) == 2:
                inner[names[0]], inner[names[1]] = key, value
            else:
                inner[names[0]] = value
            if cond is not None and not self.eval(_trees(cond)[0], inner):
                continue
            out.append(self.eval(body, inner))
        return out
