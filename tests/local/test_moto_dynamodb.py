"""The moto patches the local stack runs on: a cancelled transaction puts back exactly what it touched, the
stream forgets trimmed and day-old records, and shard iterators expire."""

import datetime

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from chatbridge.local import moto_dynamodb


@pytest.fixture
def table():
    undo = moto_dynamodb.install()
    try:
        with mock_aws():
            client = boto3.client("dynamodb", region_name="us-east-1")
            client.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                           {"AttributeName": "sk", "KeyType": "RANGE"}],
                                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                      {"AttributeName": "sk", "AttributeType": "S"}],
                                StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
            yield client
    finally:
        undo()


def _moto_table():
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends["123456789012"]["us-east-1"].tables["t"]


def _records(client):
    streams = boto3.client("dynamodbstreams", region_name="us-east-1")
    arn = client.describe_table(TableName="t")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    return streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]


def test_cancelled_transaction_restores_the_items_it_touched_and_leaves_the_rest(table):
    table.put_item(TableName="t", Item={"pk": {"S": "a"}, "sk": {"S": "1"}, "v": {"N": "1"}})
    table.put_item(TableName="t", Item={"pk": {"S": "other"}, "sk": {"S": "1"}, "v": {"N": "7"}})
    before = len(_records(table))
    with pytest.raises(ClientError, match="TransactionCanceled"):
        table.transact_write_items(TransactItems=[
            {"Update": {"TableName": "t", "Key": {"pk": {"S": "a"}, "sk": {"S": "1"}},
                        "UpdateExpression": "SET v = :two", "ExpressionAttributeValues": {":two": {"N": "2"}}}},
            {"Put": {"TableName": "t", "Item": {"pk": {"S": "new"}, "sk": {"S": "1"}}}},
            {"Put": {"TableName": "t", "Item": {"pk": {"S": "other"}, "sk": {"S": "1"}},
                     "ConditionExpression": "attribute_not_exists(pk)"}},
        ])
    assert table.get_item(TableName="t", Key={"pk": {"S": "a"}, "sk": {"S": "1"}})["Item"]["v"] == {"N": "1"}
    assert "Item" not in table.get_item(TableName="t", Key={"pk": {"S": "new"}, "sk": {"S": "1"}})
    assert table.get_item(TableName="t", Key={"pk": {"S": "other"}, "sk": {"S": "1"}})["Item"]["v"] == {"N": "7"}
    assert len(_records(table)) == before  # the cancelled writes left no stream records


def test_transaction_does_not_copy_the_table(table, monkeypatch):
    import copy

    copied = []
    real = copy.deepcopy
    monkeypatch.setattr(copy, "deepcopy", lambda value, memo=None: copied.append(type(value).__name__) or real(value, memo))
    table.transact_write_items(TransactItems=[
        {"Put": {"TableName": "t", "Item": {"pk": {"S": f"p{i}"}, "sk": {"S": "1"}}}} for i in range(5)])
    assert "Table" not in copied
    assert table.scan(TableName="t")["Count"] == 5


def test_trimmed_stream_records_are_gone_and_sequence_numbers_keep_counting(table):
    for i in range(4):
        table.put_item(TableName="t", Item={"pk": {"S": f"p{i}"}, "sk": {"S": "1"}})
    numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in _records(table)]
    assert moto_dynamodb.trim_stream(_moto_table(), numbers[2]) == 3
    assert [int(r["dynamodb"]["SequenceNumber"]) for r in _records(table)] == numbers[3:]
    table.put_item(TableName="t", Item={"pk": {"S": "p9"}, "sk": {"S": "1"}})
    assert [int(r["dynamodb"]["SequenceNumber"]) for r in _records(table)] == [numbers[3], numbers[3] + 1]
    assert len(_moto_table().stream_shard.items) == 2


def test_stream_records_older_than_a_day_are_dropped(table):
    table.put_item(TableName="t", Item={"pk": {"S": "old"}, "sk": {"S": "1"}})
    old = _moto_table().stream_shard.items[0].record["dynamodb"]
    old["ApproximateCreationDateTime"] -= datetime.timedelta(hours=25)
    table.put_item(TableName="t", Item={"pk": {"S": "new"}, "sk": {"S": "1"}})
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in _records(table)] == ["new"]


def test_shard_iterators_expire_after_fifteen_minutes(table, monkeypatch):
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    _records(table)
    iterators = dynamodbstreams_backends["123456789012"]["us-east-1"].shard_iterators
    assert iterators
    for iterator in iterators.values():
        iterator.issued -= moto_dynamodb.SHARD_ITERATOR_SECONDS + 1
    _records(table)
    assert len(iterators) == 2  # only the two this read made


def test_installing_again_after_uninstalling_wraps_moto_once():
    """Two wrappers on one name (the transaction's rollback, then the lock) are undone to moto's own."""
    from moto.dynamodb.models import DynamoDBBackend

    original = DynamoDBBackend.transact_write_items
    for _ in range(2):
        moto_dynamodb.install()
        moto_dynamodb.uninstall()
        assert DynamoDBBackend.transact_write_items is original


def test_a_counter_update_answers_its_own_value_even_when_another_update_comes_right_after_it(table, monkeypatch):
    """moto builds an UpdateItem's answer from the live item after its backend call: without the request
    lock around the whole answer, a second ``ADD`` landing in between made both answer the second value
    (one chat id for two new chats). Thread A is held just after its update while thread B updates."""
    import threading

    from moto.dynamodb.models.dynamo_type import Item

    table.create_table(TableName="counters", BillingMode="PAY_PER_REQUEST",
                       KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                       AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])

    def add_one():
        answer = table.update_item(TableName="counters", Key={"pk": {"S": "chat"}}, UpdateExpression="ADD v :one",
                                   ExpressionAttributeValues={":one": {"N": "1"}}, ReturnValues="UPDATED_NEW")
        return int(answer["Attributes"]["v"]["N"])

    answers = {}
    second = threading.Thread(target=lambda: answers.setdefault("B", add_one()))
    original = Item.to_json
    held = threading.Event()

    def to_json(self):
        if threading.current_thread().name == "A" and "v" in self.attrs and not held.is_set():
            held.set()
            second.start()
            second.join(2)  # with the lock, B cannot update until A has answered: this wait runs out
        return original(self)

    monkeypatch.setattr(Item, "to_json", to_json)
    first = threading.Thread(target=lambda: answers.setdefault("A", add_one()), name="A")
    first.start()
    first.join(30)
    second.join(30)
    assert held.is_set()
    assert sorted(answers.values()) == [1, 2] and answers["A"] == 1


CONDITION = "attribute_exists(pk) AND (v = :expected OR v IN (:a, :b)) AND NOT contains(#tags, :tag)"


def test_a_kept_condition_is_judged_on_each_requests_own_values(table):
    """The same condition text, parsed once, decides each request by the values that request sent."""
    import moto.dynamodb.comparisons as comparisons

    table.put_item(TableName="t", Item={"pk": {"S": "a"}, "sk": {"S": "1"}, "v": {"N": "1"}, "tags": {"SS": ["x"]}})
    parsed = []
    real = comparisons.ConditionExpressionParser.parse
    comparisons.ConditionExpressionParser.parse = lambda self: parsed.append(self.condition_expression) or real(self)
    try:
        outcomes = []
        for expected, tag in [("1", "y"), ("2", "y"), ("1", "x"), ("3", "z"), ("1", "z")]:
            values = {":expected": {"N": expected}, ":a": {"N": "8"}, ":b": {"N": "9"}, ":tag": {"S": tag}}
            for write in ("put", "transaction"):
                item = {"pk": {"S": "a"}, "sk": {"S": "1"}, "v": {"N": "1"}, "tags": {"SS": ["x"]}}
                request = {"TableName": "t", "Item": item, "ConditionExpression": CONDITION,
                           "ExpressionAttributeNames": {"#tags": "tags"}, "ExpressionAttributeValues": values}
                try:
                    if write == "put":
                        table.put_item(**request)
                    else:
                        table.transact_write_items(TransactItems=[{"Put": request}])
                    outcomes.append((write, expected, tag, True))
                except ClientError:
                    outcomes.append((write, expected, tag, False))
    finally:
        comparisons.ConditionExpressionParser.parse = real
    assert outcomes == [(write, expected, tag, expected == "1" and tag != "x")
                        for expected, tag in [("1", "y"), ("2", "y"), ("1", "x"), ("3", "z"), ("1", "z")]
                        for write in ("put", "transaction")]
    assert len(parsed) <= 2, "the text is parsed by moto for its first request (and once with markers), then kept"


def test_a_kept_condition_still_gets_motos_errors_for_unused_names_and_bad_syntax(table):
    values = {":expected": {"N": "1"}, ":a": {"N": "8"}, ":b": {"N": "9"}, ":tag": {"S": "y"}}
    item = {"pk": {"S": "a"}, "sk": {"S": "1"}}
    table.put_item(TableName="t", Item={**item, "v": {"N": "1"}})
    table.put_item(TableName="t", Item={**item, "v": {"N": "1"}}, ConditionExpression=CONDITION,
                   ExpressionAttributeNames={"#tags": "tags"}, ExpressionAttributeValues=values)  # now kept
    with pytest.raises(ClientError, match="unused|Unused"):
        table.put_item(TableName="t", Item=item, ConditionExpression=CONDITION,
                       ExpressionAttributeNames={"#tags": "tags", "#extra": "x"}, ExpressionAttributeValues=values)
    with pytest.raises(ValueError, match="Bad AND expression"):  # moto's own complaint, as without the patch
        table.put_item(TableName="t", Item=item, ConditionExpression=CONDITION + " AND",
                       ExpressionAttributeNames={"#tags": "tags"}, ExpressionAttributeValues=values)


def test_an_updated_item_is_copied_once_per_transaction_and_its_old_image_still_streams(table, monkeypatch):
    """The rollback's copy of an item doubles as the old image moto copies for the stream."""
    from moto.dynamodb.models.dynamo_type import Item

    key = {"pk": {"S": "a"}, "sk": {"S": "1"}}
    table.put_item(TableName="t", Item={**key, "v": {"N": "1"}, "m": {"M": {"deep": {"S": "x"}}}})
    copies = []
    real = Item.__deepcopy__
    monkeypatch.setattr(Item, "__deepcopy__", lambda self, memo: copies.append(self) or real(self, memo))
    table.transact_write_items(TransactItems=[{"Update": {
        "TableName": "t", "Key": key, "UpdateExpression": "SET v = :two, m.deep = :y",
        "ExpressionAttributeValues": {":two": {"N": "2"}, ":y": {"S": "y"}}}}])
    assert len(copies) == 1
    record = _records(table)[-1]["dynamodb"]
    assert record["OldImage"]["v"] == {"N": "1"} and record["OldImage"]["m"] == {"M": {"deep": {"S": "x"}}}
    assert record["NewImage"]["v"] == {"N": "2"} and record["NewImage"]["m"] == {"M": {"deep": {"S": "y"}}}
    with pytest.raises(ClientError, match="TransactionCanceled"):
        table.transact_write_items(TransactItems=[
            {"Update": {"TableName": "t", "Key": key, "UpdateExpression": "SET v = :three",
                        "ExpressionAttributeValues": {":three": {"N": "3"}}}},
            {"ConditionCheck": {"TableName": "t", "Key": {"pk": {"S": "a"}, "sk": {"S": "2"}},
                                "ConditionExpression": "attribute_exists(pk)"}}])
    assert table.get_item(TableName="t", Key=key)["Item"]["v"] == {"N": "2"}  # the copy went back


def test_one_kept_update_text_applies_each_requests_own_values(table):
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    key = {"pk": {"S": "a"}, "sk": {"S": "1"}}
    update = "SET v = :v, m.deep = if_not_exists(m.deep, :first) ADD n :one REMOVE gone"
    table.put_item(TableName="t", Item={**key, "m": {"M": {}}, "gone": {"S": "x"}})
    for number in range(1, 4):
        table.update_item(TableName="t", Key=key, UpdateExpression=update, ExpressionAttributeValues={
            ":v": {"S": f"v{number}"}, ":first": {"N": str(number)}, ":one": {"N": "1"}})
        item = table.get_item(TableName="t", Key=key)["Item"]
        assert (item["v"], item["m"]["M"]["deep"], item["n"], "gone" in item) == (
            {"S": f"v{number}"}, {"N": "1"}, {"N": str(number)}, False)
    assert UpdateExpressionParser.make(update) is UpdateExpressionParser.make(update)


def test_a_transaction_whose_conditions_fail_is_cancelled_with_the_reasons_moto_gives(table, monkeypatch):
    """Judged before any write: the same cancellation reasons (and ALL_OLD items) as moto's own run, and nothing
    written, streamed or journaled."""
    key = {"pk": {"S": "chat"}, "sk": {"S": "1"}}
    table.put_item(TableName="t", Item={**key, "last": {"N": "4"}, "m": {"M": {"raw": {"S": "payload"}}}})
    table.put_item(TableName="t", Item={"pk": {"S": "dedup"}, "sk": {"S": "seen"}})
    transactions = [
        [{"Update": {"TableName": "t", "Key": key, "UpdateExpression": "SET #l = :next",
                     "ConditionExpression": "#l = :known", "ExpressionAttributeNames": {"#l": "last"},
                     "ExpressionAttributeValues": {":next": {"N": "6"}, ":known": {"N": "5"}},
                     "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
         {"Put": {"TableName": "t", "Item": {"pk": {"S": "msg"}, "sk": {"S": "6"}},
                  "ConditionExpression": "attribute_not_exists(pk)"}},
         {"Put": {"TableName": "t", "Item": {"pk": {"S": "dedup"}, "sk": {"S": "seen"}},
                  "ConditionExpression": "attribute_not_exists(pk)", "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}],
        [{"ConditionCheck": {"TableName": "t", "Key": key, "ConditionExpression": "attribute_exists(pk)"}},
         {"Put": {"TableName": "t", "Item": {"pk": {"S": "dedup"}, "sk": {"S": "seen"}},
                  "ConditionExpression": "attribute_not_exists(pk)"}}],
    ]
    before = len(_records(table))

    def reasons(items):
        with pytest.raises(ClientError, match="TransactionCanceled") as raised:
            table.transact_write_items(TransactItems=items)
        return raised.value.response["CancellationReasons"], str(raised.value)

    runs = []
    real_run = moto_dynamodb._items_named
    monkeypatch.setattr(moto_dynamodb, "_items_named", lambda *args: runs.append(1) or real_run(*args))
    judged_first = [reasons(items) for items in transactions]
    assert runs == [] and len(_records(table)) == before
    monkeypatch.setattr(moto_dynamodb, "_failed_conditions", lambda *args: None)  # moto's item-by-item run
    assert [reasons(items) for items in transactions] == judged_first
    assert judged_first[0][0][0]["Item"]["m"] == {"M": {"raw": {"S": "payload"}}}
    assert table.get_item(TableName="t", Key=key)["Item"]["last"] == {"N": "4"}
