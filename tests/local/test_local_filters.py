"""FilterCriteria patterns select records locally exactly as Lambda's event filtering does."""

import pytest

from chatbridge.local.filters import FilterPatternError, matches, matches_any, sqs_filter_view

MESSAGE_INSERT = {
    "eventName": "INSERT",
    "dynamodb": {"NewImage": {"type": {"S": "message"}, "user_id": {"N": "5"}, "msg": {"S": "hello"}},
                 "Keys": {"pk": {"S": "chat#1"}}},
    "score": 7,
    "tags": ["a", "b"],
    "nothing": None,
}


@pytest.mark.parametrize("pattern, expected", [
    ({"eventName": ["INSERT"]}, True),
    ({"eventName": ["MODIFY", "INSERT"]}, True),
    ({"eventName": ["REMOVE"]}, False),
    ({"dynamodb": {"NewImage": {"type": {"S": ["message"]}}}}, True),
    ({"dynamodb": {"NewImage": {"type": {"S": ["chat"]}}}}, False),
    ({"dynamodb": {"OldImage": {"type": {"S": ["message"]}}}}, False),
    ({"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "chat#"}]}}}}, True),
    ({"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "msg#"}]}}}}, False),
    ({"dynamodb": {"NewImage": {"msg": {"S": [{"suffix": "llo"}]}}}}, True),
    ({"dynamodb": {"NewImage": {"msg": {"S": [{"equals-ignore-case": "HELLO"}]}}}}, True),
    ({"dynamodb": {"NewImage": {"user_id": {"N": [{"anything-but": ["0"]}]}}}}, True),
    ({"dynamodb": {"NewImage": {"user_id": {"N": [{"anything-but": "5"}]}}}}, False),
    ({"dynamodb": {"NewImage": {"msg": {"S": [{"anything-but": {"prefix": "he"}}]}}}}, False),
    ({"score": [{"numeric": [">", 5, "<=", 7]}]}, True),
    ({"score": [{"numeric": [">", 7]}]}, False),
    ({"score": [7.0]}, True),
    ({"score": ["7"]}, False),
    ({"tags": ["b"]}, True),
    ({"tags": ["c"]}, False),
    ({"nothing": [None]}, True),
    ({"dynamodb": {"NewImage": {"msg": [{"exists": True}]}}}, False),  # exists applies to leaves only
    ({"dynamodb": {"NewImage": {"msg": {"S": [{"exists": True}]}}}}, True),
    ({"dynamodb": {"NewImage": {"delivery": [{"exists": False}]}}}, True),
    ({"dynamodb": {"NewImage": {"msg": {"S": [{"exists": False}]}}}}, False),
    ({"eventName": ["INSERT"], "score": [1]}, False),  # every key must hold
    ({"$or": [{"eventName": ["REMOVE"]}, {"score": [7]}]}, True),
    ({"$or": [{"eventName": ["REMOVE"]}, {"score": [8]}]}, False),
])
def test_pattern_matches_like_lambda_event_filtering(pattern, expected):
    assert matches(pattern, MESSAGE_INSERT) is expected


def test_any_filter_matching_keeps_the_record_and_no_filters_keep_everything():
    assert matches_any([{"eventName": ["REMOVE"]}, {"eventName": ["INSERT"]}], MESSAGE_INSERT)
    assert not matches_any([{"eventName": ["REMOVE"]}], MESSAGE_INSERT)
    assert matches_any([], MESSAGE_INSERT)


def test_malformed_patterns_are_errors_not_silent_matches():
    with pytest.raises(FilterPatternError):
        matches({"eventName": "INSERT"}, MESSAGE_INSERT)
    with pytest.raises(FilterPatternError):
        matches({"score": [{"numeric": [">"]}]}, MESSAGE_INSERT)
    with pytest.raises(FilterPatternError):
        matches({"score": [{"wildcard": "7*"}]}, MESSAGE_INSERT)


def test_sqs_json_bodies_are_filtered_as_objects_and_text_bodies_as_strings():
    assert matches({"body": {"kind": ["reply"]}}, sqs_filter_view({"body": '{"kind": "reply"}'}))
    assert matches({"body": ["plain text"]}, sqs_filter_view({"body": "plain text"}))
