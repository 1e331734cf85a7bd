"""Outgoing webhooks: which chat event fires which REST API, under which rule conditions.

A rule is ``{event, conditions, rest_api_id, enabled}``; its conditions are ``lang.rules`` clauses over the
``args`` of the event (``reply.events``), compiled when the rule is saved.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chatbridge.lang.rules import compile_rule_conditions

EventName = Literal["chat.web_add_msg_admin", "chat.addmsguser", "chat.close", "chat.started", "chat.message_edited"]
EVENTS: tuple[str, ...] = ("chat.web_add_msg_admin", "chat.addmsguser", "chat.close", "chat.started",
                           "chat.message_edited")


class OutgoingWebhook(BaseModel):
    """A stored rule. Conditions are validated when it is saved, so a broken one never reaches the stream."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=128)
    event: EventName
    conditions: list[str] = Field(default_factory=list)
    rest_api_id: str = Field(min_length=1, max_length=128)
    enabled: bool = True

    @field_validator("conditions", mode="before")
    @classmethod
    def _one_per_line(cls, value: Any) -> Any:
        """LHC stores conditions as text, one per line; accept that as well as a list."""
        if isinstance(value, str):
            return [line for line in value.splitlines() if line.strip()]
        return value

    @field_validator("conditions")
    @classmethod
    def _compile(cls, value: list[str]) -> list[str]:
        compile_rule_conditions(value)
        return value

    def matches(self, event: str, args: dict[str, Any]) -> bool:
        return self.enabled and self.event == event and \
            all(clause.holds(args) for clause in compile_rule_conditions(self.conditions))




def matching_rules(rules: list[OutgoingWebhook], event: str, args: dict[str, Any]) -> list[OutgoingWebhook]:
    return [rule for rule in rules if rule.matches(event, args)]

