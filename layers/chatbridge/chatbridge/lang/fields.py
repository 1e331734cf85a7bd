"""Spec field types that check their own little language when a spec is saved.

A location, a condition or a template that cannot be understood is refused at save time, on the field that
holds it (``text.0.body``, ``image.fetch.location``), instead of failing on a third party's first message.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from chatbridge.lang.conditions import compile_condition
from chatbridge.lang.locations import compile_location
from chatbridge.lang.templates import check_template_syntax


def _location(value: str) -> str:
    compile_location(value)
    return value


def _condition(value: str) -> str:
    compile_condition(value)
    return value


def _template(value: str) -> str:
    check_template_syntax(value)
    return value


LocationText = Annotated[str, AfterValidator(_location)]
ConditionText = Annotated[str, AfterValidator(_condition)]
TemplateText = Annotated[str, AfterValidator(_template)]
