"""The local stream pollers read moto's stream backend directly (``chatbridge.local.moto_streams``): what
they get must be what a boto3 DynamoDB Streams client gets from the same stream, record for record, so the
Lambda events the evaluator sees do not change with the reader."""

import boto3
from moto import mock_aws

from chatbridge.local.attributes import lambda_stream_record
from chatbridge.local.moto_streams import BackendStreams

ITEM = {"pk": {"S": "a"}, "sk": {"S": "1"}, "n": {"N": "1.50"}, "b": {"B": b"\x00\xff"}, "bs": {"BS": [b"\x01"]},
        "m": {"M": {"deep": {"L": [{"S": "é"}, {"M": {"b": {"B": b"\x02"}}}]}}}, "ss": {"SS": ["x"]}}


def _all_records(streams, arn):
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    first = streams.get_records(ShardIterator=iterator["ShardIterator"], Limit=2)
    after = first["Records"][-1]["dynamodb"]["SequenceNumber"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                                          SequenceNumber=after)
    rest = streams.get_records(ShardIterator=iterator["ShardIterator"], Limit=1000)
    return [lambda_stream_record(raw, arn, "us-east-1") for raw in first["Records"] + rest["Records"]]


@mock_aws
def test_the_backend_reader_gives_the_records_a_boto3_client_gives_for_every_attribute_type_and_event():
    client = boto3.client("dynamodb", region_name="us-east-1")
    arn = client.create_table(
        TableName="t", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]["LatestStreamArn"]
    key = {"pk": {"S": "a"}, "sk": {"S": "1"}}
    client.put_item(TableName="t", Item=ITEM)
    client.update_item(TableName="t", Key=key, UpdateExpression="SET b = :b",
                       ExpressionAttributeValues={":b": {"B": b"\x03"}})
    client.put_item(TableName="t", Item={"pk": {"S": "a"}, "sk": {"S": "2"}})
    client.delete_item(TableName="t", Key=key)

    expected = _all_records(boto3.client("dynamodbstreams", region_name="us-east-1"), arn)
    got = _all_records(BackendStreams(region="us-east-1", endpoint_url="http://127.0.0.1:1"), arn)

    assert [r["eventName"] for r in expected] == ["INSERT", "MODIFY", "INSERT", "REMOVE"]
    assert got == expected
    assert got[1]["dynamodb"]["NewImage"]["b"] == {"B": "Aw=="}  # base64 text, as Lambda's event carries it
    assert isinstance(got[0]["dynamodb"]["ApproximateCreationDateTime"], int)
