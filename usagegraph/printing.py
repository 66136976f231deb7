"""Print executable GraphQL documents exactly as graphql-js 16's `print()` does.

Persisted-query hashes are SHA-256 digests of a document's text, and JavaScript clients (Apollo
Client's persisted-query link, a typed-document-node client calling `print(document)`) hash what
graphql-js 16 prints. graphql-core 3.3 prints like graphql-js 17 (e.g. `{ a: 1 }` where 16
prints `{a: 1}`), so the manifest's ids would not match theirs; this printer follows graphql-js
16's `printer.ts` rule for rule, for operations and fragments (what clients send). A test
compares it with graphql-js itself over every example operation.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from graphql import print_ast
from graphql.language import ast

__all__ = ["print_document"]

MAX_LINE_LENGTH = 80


def print_document(document: ast.DocumentNode) -> str:
    """`document` as graphql-js 16 prints it (executable definitions only)."""
    return "\n\n".join(_definition(d) for d in document.definitions)


def _definition(node: ast.DefinitionNode) -> str:
    if isinstance(node, ast.OperationDefinitionNode):
        return _operation(node)
    if isinstance(node, ast.FragmentDefinitionNode):
        return _fragment(node)
    return print_ast(node)  # type system definitions: never part of an operation


def _operation(node: ast.OperationDefinitionNode) -> str:
    var_defs = _wrap("(", _join((_variable(v) for v in node.variable_definitions or ()), ", "), ")")
    prefix = _join(
        [
            node.operation.value,
            _join([node.name.value if node.name else "", var_defs]),
            _directives(node.directives),
        ],
        " ",
    )
    # an anonymous query without variables or directives prints as its selection set alone
    if prefix == "query":
        return _selection_set(node.selection_set)
    return prefix + " " + _selection_set(node.selection_set)


def _variable(node: ast.VariableDefinitionNode) -> str:
    default = _wrap(" = ", _value(node.default_value) if node.default_value else "")
    return (
        "$"
        + node.variable.name.value
        + ": "
        + _type(node.type)
        + default
        + _wrap(" ", _directives(node.directives))
    )


def _fragment(node: ast.FragmentDefinitionNode) -> str:
    var_defs = _wrap(
        "(",
        _join((_variable(v) for v in getattr(node, "variable_definitions", None) or ()), ", "),
        ")",
    )
    return (
        f"fragment {node.name.value}{var_defs} on {node.type_condition.name.value} "
        + _wrap("", _directives(node.directives), " ")
        + _selection_set(node.selection_set)
    )


def _selection_set(node: ast.SelectionSetNode | None) -> str:
    if node is None:
        return ""
    return _block(_selection(s) for s in node.selections)


def _selection(node: ast.SelectionNode) -> str:
    if isinstance(node, ast.FieldNode):
        return _field(node)
    if isinstance(node, ast.FragmentSpreadNode):
        return "..." + node.name.value + _wrap(" ", _directives(node.directives))
    if isinstance(node, ast.InlineFragmentNode):
        condition = _wrap("on ", node.type_condition.name.value if node.type_condition else "")
        return _join(
            ["...", condition, _directives(node.directives), _selection_set(node.selection_set)],
            " ",
        )
    raise TypeError(f"not a selection: {node!r}")


def _field(node: ast.FieldNode) -> str:
    prefix = _wrap("", node.alias.value if node.alias else "", ": ") + node.name.value
    arguments = [_argument(a) for a in node.arguments or ()]
    args_line = prefix + _wrap("(", _join(arguments, ", "), ")")
    if len(args_line) > MAX_LINE_LENGTH:
        args_line = prefix + _wrap("(\n", _indent(_join(arguments, "\n")), "\n)")
    return _join([args_line, _directives(node.directives), _selection_set(node.selection_set)], " ")


def _argument(node: ast.ArgumentNode | ast.ObjectFieldNode) -> str:
    return node.name.value + ": " + _value(node.value)


def _directives(nodes: Iterable[ast.DirectiveNode] | None) -> str:
    return _join((_directive(d) for d in nodes or ()), " ")


def _directive(node: ast.DirectiveNode) -> str:
    arguments = _join((_argument(a) for a in node.arguments or ()), ", ")
    return "@" + node.name.value + _wrap("(", arguments, ")")


def _value(node: ast.ValueNode) -> str:
    if isinstance(node, ast.VariableNode):
        return "$" + node.name.value
    if isinstance(node, ast.IntValueNode | ast.FloatValueNode | ast.EnumValueNode):
        return node.value
    if isinstance(node, ast.StringValueNode):
        if node.block:
            return print_ast(node)
        return _string(node.value)
    if isinstance(node, ast.BooleanValueNode):
        return "true" if node.value else "false"
    if isinstance(node, ast.NullValueNode):
        return "null"
    if isinstance(node, ast.ListValueNode):
        return "[" + _join((_value(v) for v in node.values), ", ") + "]"
    if isinstance(node, ast.ObjectValueNode):
        return "{" + _join((_argument(f) for f in node.fields), ", ") + "}"
    raise TypeError(f"not a value: {node!r}")


def _type(node: ast.TypeNode) -> str:
    if isinstance(node, ast.NonNullTypeNode):
        return _type(node.type) + "!"
    if isinstance(node, ast.ListTypeNode):
        return "[" + _type(node.type) + "]"
    if isinstance(node, ast.NamedTypeNode):
        return node.name.value
    raise TypeError(f"not a type: {node!r}")


_NAMED_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _string(text: str) -> str:
    """graphql-js's printString: `"` and `\\` escaped, control characters (C0, DEL and C1) as
    `\\b \\t \\n \\f \\r` or `\\u00XX` with uppercase hex."""
    out: list[str] = []
    for char in text:
        code = ord(char)
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif char in _NAMED_ESCAPES:
            out.append(_NAMED_ESCAPES[char])
        elif code < 0x20 or 0x7F <= code <= 0x9F:
            out.append(f"\\u{code:04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


# -- graphql-js's helpers -------------------------------------------------------------------------


def _join(parts: Iterable[Any], separator: str = "") -> str:
    return separator.join(p for p in parts if p)


def _wrap(start: str, text: str, end: str = "") -> str:
    return start + text + end if text else ""


def _indent(text: str) -> str:
    return _wrap("  ", text.replace("\n", "\n  "))


def _block(parts: Iterable[str]) -> str:
    return _wrap("{\n", _indent(_join(parts, "\n")), "\n}")
