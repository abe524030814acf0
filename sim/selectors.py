"""Kubernetes label and field selectors for pods, parsed once and matched many times.

Pure: strings in, frozen selector objects out; no HTTP, no store. The API server parses
the ``labelSelector`` / ``fieldSelector`` query parameters here and answers a
``SelectorError`` with HTTP 400, as the real one does.

Label selector syntax (``k8s.io/apimachinery/pkg/labels``), requirements joined by
commas, all of which must hold::

    a=b   a==b   a!=b   a   !a   a in (x,y)   a notin (x,y)

``!=`` and ``notin`` also match objects that lack the key, as in Kubernetes. Keys are
qualified names (optional DNS prefix + ``/``), values are empty or label values.

Field selectors (``k8s.io/apimachinery/pkg/fields``): ``field=value``, ``field==value``,
``field!=value``, comma = AND, backslash escapes ``\\,`` ``\\=`` ``\\\\``. Only the fields
the real API server indexes for pods are accepted; others are a ``SelectorError``
("field label not supported"), as there. A field the pod lacks compares as ``""``, so
``spec.nodeName=`` selects unscheduled pods.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

Pod = dict[str, Any]

_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_PREFIX = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_KEY = re.compile(rf"^({_PREFIX}/)?{_NAME}$")
_VALUE = re.compile(rf"^({_NAME})?$")
_SET_REQUIREMENT = re.compile(r"^(?P<key>\S+)\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)$")
_VALUE_REQUIREMENT = re.compile(r"^(?P<key>[^\s=!]+)\s*(?P<op>==|=|!=)\s*(?P<value>\S*)$")
_EXISTS_REQUIREMENT = re.compile(r"^(?P<neg>!?)\s*(?P<key>[^\s=!(),]+)$")

# Pod fields the real API server accepts in fieldSelector, and where each lives.
POD_FIELDS: Mapping[str, tuple[str, ...]] = {
    "metadata.name": ("metadata", "name"),
    "metadata.namespace": ("metadata", "namespace"),
    "spec.nodeName": ("spec", "nodeName"),
    "spec.restartPolicy": ("spec", "restartPolicy"),
    "spec.schedulerName": ("spec", "schedulerName"),
    "spec.serviceAccountName": ("spec", "serviceAccountName"),
    "spec.hostNetwork": ("spec", "hostNetwork"),
    "status.phase": ("status", "phase"),
    "status.podIP": ("status", "podIP"),
    "status.nominatedNodeName": ("status", "nominatedNodeName"),
}


class SelectorError(ValueError):
    """A label or field selector that does not parse; the API answers 400."""


class Operator(StrEnum):
    EQUALS = "="
    NOT_EQUALS = "!="
    IN = "in"
    NOT_IN = "notin"
    EXISTS = "exists"
    NOT_EXISTS = "!"


@dataclass(frozen=True)
class Requirement:
    """One label requirement, e.g. ``app in (a,b)``."""

    key: str
    operator: Operator
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        match self.operator:
            case Operator.EXISTS:
                return present
            case Operator.NOT_EXISTS:
                return not present
            case Operator.EQUALS | Operator.IN:
                return present and value in self.values
            case Operator.NOT_EQUALS | Operator.NOT_IN:
                return not present or value not in self.values


@dataclass(frozen=True)
class LabelSelector:
    """All requirements must hold; no requirement selects everything."""

    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        return all(r.matches(labels or {}) for r in self.requirements)


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    value: str
    negated: bool = False

    def matches(self, pod: Pod) -> bool:
        return (field_value(pod, self.field) == self.value) != self.negated


@dataclass(frozen=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, pod: Pod) -> bool:
        return all(r.matches(pod) for r in self.requirements)


@dataclass(frozen=True)
class PodSelector:
    """What one list or watch asks for: a namespace (None = all), labels and fields."""

    namespace: str | None = None
    labels: LabelSelector = LabelSelector()
    fields: FieldSelector = FieldSelector()

    @classmethod
    def parse(
        cls, *, namespace: str | None = None, labels: str | None = None, fields: str | None = None
    ) -> PodSelector:
        """Parse the query parameters' syntax; raise SelectorError."""
        return cls(namespace, parse_label_selector(labels or ""), parse_field_selector(fields or ""))

    def matches(self, pod: Pod) -> bool:
        metadata = pod.get("metadata") or {}
        if self.namespace is not None and metadata.get("namespace") != self.namespace:
            return False
        return self.labels.matches(metadata.get("labels")) and self.fields.matches(pod)


EVERYTHING = PodSelector()


def field_value(pod: Pod, field: str) -> str:
    """The string a field selector compares against; missing → ``""``; booleans as Go prints them."""
    node: Any = pod
    for part in POD_FIELDS[field]:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, bool):
        return "true" if node else "false"
    return "" if node is None else str(node)


def parse_label_selector(text: str) -> LabelSelector:
    """Parse Kubernetes label selector syntax; raise SelectorError with the offending part."""
    parts = [p.strip() for p in _split_outside_parens(text)]
    if parts == [""]:
        return LabelSelector()
    return LabelSelector(tuple(_parse_requirement(p) for p in parts))


def _split_outside_parens(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth not in (0, 1):
            raise SelectorError(f"unbalanced parentheses in label selector {text!r}")
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if depth:
        raise SelectorError(f"unbalanced parentheses in label selector {text!r}")
    return [*parts, "".join(current)]


def _parse_requirement(part: str) -> Requirement:
    if m := _SET_REQUIREMENT.match(part):
        values = frozenset(_value(v.strip()) for v in m["values"].split(","))
        if values == {""} and not m["values"].strip():
            raise SelectorError(f"for 'in', 'notin' operators, values set can't be empty: {part!r}")
        return Requirement(_key(m["key"]), Operator(m["op"]), values)
    if m := _VALUE_REQUIREMENT.match(part):
        operator = Operator.NOT_EQUALS if m["op"] == "!=" else Operator.EQUALS
        return Requirement(_key(m["key"]), operator, frozenset({_value(m["value"])}))
    if m := _EXISTS_REQUIREMENT.match(part):
        return Requirement(_key(m["key"]), Operator.NOT_EXISTS if m["neg"] else Operator.EXISTS)
    raise SelectorError(f"unable to parse requirement {part!r}" if part else "empty requirement in label selector")


def _key(key: str) -> str:
    if len(key) > 316 or not _KEY.match(key):
        raise SelectorError(f"invalid label key {key!r}: expected [prefix/]name, name at most 63 characters")
    return key


def _value(value: str) -> str:
    if not _VALUE.match(value):
        raise SelectorError(f"invalid label value {value!r}: at most 63 characters, alphanumeric, '-', '_', '.'")
    return value


def parse_field_selector(text: str) -> FieldSelector:
    """Parse a pod field selector; unknown fields and malformed terms raise SelectorError."""
    if not text.strip():
        return FieldSelector()
    return FieldSelector(tuple(_parse_field_term(t) for t in _split_escaped(text, ",")))


def _parse_field_term(term: str) -> FieldRequirement:
    for op in ("!=", "==", "="):
        index = _find_unescaped(term, op)
        if index >= 0:
            field, value = term[:index].strip(), _unescape(term[index + len(op) :])
            if field not in POD_FIELDS:
                raise SelectorError(f'"{field}" is not a known field selector: only {", ".join(POD_FIELDS)}')
            return FieldRequirement(field, value, negated=op == "!=")
    raise SelectorError(f"invalid field selector term {term!r}: expected field=value, field==value or field!=value")


def _split_escaped(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    start, index = 0, _find_unescaped(text, separator)
    while index >= 0:
        parts.append(text[start : start + index])
        start += index + 1
        index = _find_unescaped(text[start:], separator)
    return [*parts, text[start:]]


def _find_unescaped(text: str, needle: str) -> int:
    index = 0
    while index < len(text):
        if text[index] == "\\":
            index += 2
        elif text.startswith(needle, index):
            return index
        else:
            index += 1
    return -1


def _unescape(value: str) -> str:
    out: list[str] = []
    chars = iter(value)
    for char in chars:
        if char == "\\":
            escaped = next(chars, None)
            if escaped not in ("\\", ",", "="):
                raise SelectorError(f"invalid escape sequence in field selector value {value!r}")
            out.append(escaped)
        else:
            out.append(char)
    return "".join(out)
