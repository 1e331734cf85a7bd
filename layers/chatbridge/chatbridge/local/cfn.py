"""Reading CloudFormation YAML and evaluating the intrinsic functions a SAM template uses.

The local stack reads template.yaml itself (no second list of tables, queues and routes to drift), so it
needs a YAML loader that accepts the short-form tags (``!Ref``, ``!GetAtt``, ``!Sub``...) and a small
evaluator that turns them into the values the resources get locally.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from chatbridge.errors import ChatbridgeError

NO_VALUE = object()
"""What ``!Ref AWS::NoValue`` evaluates to: the surrounding key or list item is dropped."""


class TemplateError(ChatbridgeError):
    """The template cannot be read or uses something the local stack cannot evaluate."""


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that maps CloudFormation short-form tags to their long-form dicts."""


def _construct_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        resource, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [resource, attribute]}
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_yaml(path: Path) -> dict[str, Any]:
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506 (safe subclass)
    except (OSError, yaml.YAMLError) as exc:
        raise TemplateError(f"cannot read template {path}: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("Resources"), dict):
        raise TemplateError(f"{path} is not a CloudFormation template (no Resources section)")
    return document


Lookup = Callable[[str, str | None], Any]
"""(logical id or pseudo parameter, attribute or None for Ref) -> value."""


class Evaluator:
    """Evaluates intrinsic functions against a lookup of resource references and attributes."""

    def __init__(self, lookup: Lookup, conditions: Mapping[str, Any] | None = None) -> None:
        self._lookup = lookup
        self._conditions_source = dict(conditions or {})
        self._conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            if name not in self._conditions_source:
                raise TemplateError(f"unknown condition {name!r}")
            self._conditions[name] = bool(self.evaluate(self._conditions_source[name]))
        return self._conditions[name]

    def evaluate(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.evaluate(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, argument), = value.items()
            if key == "Ref" or key.startswith("Fn::") or key == "Condition":
                return self._intrinsic(key, argument)
        result = {}
        for key, item in value.items():
            evaluated = self.evaluate(item)
            if evaluated is not NO_VALUE:
                result[key] = evaluated
        return result

    def _intrinsic(self, name: str, argument: Any) -> Any:
        handler = _INTRINSICS.get(name)
        if handler is None:
            raise TemplateError(f"the local stack cannot evaluate {name}")
        return handler(self, argument)

    def _ref(self, argument: Any) -> Any:
        if argument == "AWS::NoValue":
            return NO_VALUE
        return self._lookup(str(argument), None)

    def _get_att(self, argument: Any) -> Any:
        if isinstance(argument, str):
            argument = argument.split(".", 1)
        resource, attribute = self.evaluate(argument)
        return self._lookup(resource, attribute)

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            text, variables = argument[0], self.evaluate(argument[1])
        else:
            text, variables = argument, {}

        def replace(match: re.Match[str]) -> str:
            expression = match.group(1)
            if expression.startswith("!"):
                return "${" + expression[1:] + "}"
            if expression in variables:
                return str(variables[expression])
            if "." in expression and not expression.startswith("AWS::"):
                resource, attribute = expression.split(".", 1)
                return str(self._lookup(resource, attribute))
            return str(self._lookup(expression, None))

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def _join(self, argument: Any) -> str:
        separator, items = self.evaluate(argument)
        return str(separator).join(str(item) for item in items)

    def _select(self, argument: Any) -> Any:
        index, items = self.evaluate(argument)
        return items[int(index)]

    def _split(self, argument: Any) -> list[str]:
        separator, text = self.evaluate(argument)
        return str(text).split(separator)

    def _if(self, argument: Any) -> Any:
        name, when_true, when_false = argument
        return self.evaluate(when_true if self.condition(name) else when_false)

    def _equals(self, argument: Any) -> bool:
        left, right = self.evaluate(argument)
        return str(left) == str(right)

    def _not(self, argument: Any) -> bool:
        return not self.evaluate(argument)[0]

    def _and(self, argument: Any) -> bool:
        return all(self.evaluate(argument))

    def _or(self, argument: Any) -> bool:
        return any(self.evaluate(argument))

    def _condition(self, argument: Any) -> bool:
        return self.condition(str(argument))


_INTRINSICS: dict[str, Callable[[Evaluator, Any], Any]] = {
    "Ref": Evaluator._ref,
    "Fn::GetAtt": Evaluator._get_att,
    "Fn::Sub": Evaluator._sub,
    "Fn::Join": Evaluator._join,
    "Fn::Select": Evaluator._select,
    "Fn::Split": Evaluator._split,
    "Fn::If": Evaluator._if,
    "Fn::Equals": Evaluator._equals,
    "Fn::Not": Evaluator._not,
    "Fn::And": Evaluator._and,
    "Fn::Or": Evaluator._or,
    "Condition": Evaluator._condition,
}
