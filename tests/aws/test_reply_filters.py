"""The evaluator's stream FilterCriteria keep exactly the records that can fire an event.

Applied with the local stack's filter engine (Lambda's pattern semantics) to real moto stream records.
"""

import json

import yaml

from chatbridge.local.filters import matches_any
from chatbridge.reply.events import event_of
from chatbridge.repository import reply_storage as storage
from support.paths import ROOT
from support.pipeline import Pipeline
from support.reply import create_chat


class _Tagless(yaml.SafeLoader):
    pass


_Tagless.add_multi_constructor("!", lambda loader, suffix, node: None)


def evaluator_filters():
    document = yaml.load((ROOT / "template.yaml").read_text(encoding="utf-8"), Loader=_Tagless)
    resources = document["Resources"]
    events = resources["EvaluatorFunction"]["Properties"]["Events"]
    [stream] = [event for event in events.values() if event["Type"] == "DynamoDB"]
    return [json.loads(entry["Pattern"]) for entry in stream["Properties"]["FilterCriteria"]["Filters"]]


def test_filters_pass_exactly_the_records_that_fire_events(reply_aws):
    patterns = evaluator_filters()
    pipeline = Pipeline(reply_aws["chat_table"], reply_aws["queue_url"])
    chat_id = create_chat(external_id="1", identifier="openwa-demo")           # chat INSERT: chat.started
    storage.add_operator_message(chat_id, "operator", 3)                      # chat MODIFY (active) + message INSERT
    storage._append_message(chat_id, msg="visitor", user_id=0)                # chat MODIFY + message INSERT
    storage.set_message_delivery(chat_id, 1, "sent")                          # message MODIFY
    storage.add_system_message(chat_id, "third party said ok")                # chat MODIFY + system message INSERT
    key = storage._chat_key(chat_id)
    for status in ("closed", "closed"):                                       # closed once, then closed again
        storage.chat_table().update_item(Key=key, UpdateExpression="SET #s = :s, updated_at = :s",
                                         ExpressionAttributeNames={"#s": "status"},
                                         ExpressionAttributeValues={":s": status})
    records = pipeline.stream_records()
    kept = [record for record in records if matches_any(patterns, record)]
    firing = [record for record in records if event_of(record) is not None]
    assert [r["eventID"] for r in kept] == [r["eventID"] for r in firing]
    assert [event_of(r).name for r in kept] == ["chat.started", "chat.web_add_msg_admin", "chat.addmsguser",
                                                "chat.close"]
    assert len(records) > len(kept)
