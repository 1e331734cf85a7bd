"""The local stack's moto server answers DynamoDB's and DynamoDB Streams' data operations without moto's
generic serializer (``chatbridge.local.moto_server``): every such answer must be what that serializer
would have written, for items of every attribute type, stream records and errors alike."""

import json

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from chatbridge.local import moto_server


@pytest.fixture
def compared(monkeypatch):
    """Each plain answer is also serialized by moto's own serializer; the pairs are returned to compare."""
    pairs = []
    undo = moto_server.install()
    try:
        from moto.dynamodb.responses import DynamoHandler
        from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

        for owner in (DynamoHandler, DynamoDBStreamsHandler):
            plain, original = owner.serialized, moto_server._installed[owner.__name__]

            def both(self, action_result, plain=plain, original=original):
                answer = plain(self, action_result)
                pairs.append((self._get_action(), answer, original(self, action_result)))
                return answer

            monkeypatch.setattr(owner, "serialized", both)
        with mock_aws():
            yield pairs
    finally:
        undo()


ITEM = {"pk": {"S": "a"}, "sk": {"S": "1"}, "n": {"N": "1.50"}, "b": {"B": b"\x00\xff"}, "t": {"BOOL": True},
        "z": {"NULL": True}, "ss": {"SS": ["x", "y"]}, "ns": {"NS": ["1", "2"]}, "bs": {"BS": [b"\x01"]},
        "m": {"M": {"deep": {"L": [{"S": "é"}, {"N": "3"}, {"M": {"b": {"B": b"\x02"}}}]}}},
        "l": {"L": [{"SS": ["q"]}, {"NULL": True}]}}


def test_data_operations_answer_what_motos_serializer_would_for_every_attribute_type(compared):
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                              {"AttributeName": "sk", "AttributeType": "S"}],
                        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    key = {"pk": {"S": "a"}, "sk": {"S": "1"}}
    client.put_item(TableName="t", Item=ITEM, ReturnConsumedCapacity="TOTAL")
    assert client.get_item(TableName="t", Key=key)["Item"] == {**ITEM, "b": {"B": b"\x00\xff"}}
    client.update_item(TableName="t", Key=key, UpdateExpression="ADD c :one SET m.deep[0] = :s",
                       ExpressionAttributeValues={":one": {"N": "1"}, ":s": {"S": "new"}}, ReturnValues="ALL_NEW")
    client.update_item(TableName="t", Key=key, UpdateExpression="SET c = c + :one",
                       ExpressionAttributeValues={":one": {"N": "1"}}, ReturnValues="UPDATED_OLD")
    client.query(TableName="t", KeyConditionExpression="pk = :a", ExpressionAttributeValues={":a": {"S": "a"}},
                 ReturnConsumedCapacity="TOTAL")
    client.scan(TableName="t", Limit=1)
    client.batch_write_item(RequestItems={"t": [{"PutRequest": {"Item": {"pk": {"S": "b"}, "sk": {"S": str(i)}}}}
                                                for i in range(3)]})
    client.batch_get_item(RequestItems={"t": {"Keys": [key, {"pk": {"S": "b"}, "sk": {"S": "0"}}]}})
    client.transact_write_items(TransactItems=[{"Put": {"TableName": "t", "Item": {"pk": {"S": "c"}, "sk": {"S": "1"}}}}])
    client.transact_get_items(TransactItems=[{"Get": {"TableName": "t", "Key": key}}])
    with pytest.raises(ClientError, match="TransactionCanceled"):
        client.transact_write_items(TransactItems=[{"Put": {
            "TableName": "t", "Item": {"pk": {"S": "c"}, "sk": {"S": "1"}}, "ConditionExpression": "attribute_not_exists(pk)"}}])
    with pytest.raises(ClientError, match="ConditionalCheckFailed"):
        client.put_item(TableName="t", Item={"pk": {"S": "c"}, "sk": {"S": "1"}}, ConditionExpression="attribute_not_exists(pk)")
    client.delete_item(TableName="t", Key=key, ReturnValues="ALL_OLD")
    streams = boto3.client("dynamodbstreams", region_name="us-east-1")
    arn = client.describe_table(TableName="t")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    assert records[0]["dynamodb"]["NewImage"]["b"] == {"B": b"\x00\xff"}
    assert records[0]["dynamodb"]["ApproximateCreationDateTime"].tzinfo is not None

    plain = {action for action, *_ in compared if action in moto_server.PLAIN_ANSWERS["dynamodb"] |
             moto_server.PLAIN_ANSWERS["dynamodbstreams"]}
    assert plain == moto_server.PLAIN_ANSWERS["dynamodb"] | moto_server.PLAIN_ANSWERS["dynamodbstreams"]
    for action, (status, headers, body), (moto_status, moto_headers, moto_body) in compared:
        assert status == moto_status, action
        assert headers["Content-Type"] == moto_headers["Content-Type"], action
        assert json.loads(body) == json.loads(moto_body), action



def test_the_moto_server_answers_many_requests_on_one_kept_alive_connection():
    """One TCP connection carries DynamoDB calls around S3 writes and a HEAD (bodiless, with its length):
    each answer is complete and none says close; boto3 reads the same through the server."""
    import http.client

    server = moto_server.MotoServer("127.0.0.1", 0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        s3 = boto3.client("s3", endpoint_url=f"http://{host}:{port}", region_name="us-east-1",
                          aws_access_key_id="local", aws_secret_access_key="local")
        s3.create_bucket(Bucket="bucket")
        s3.put_object(Bucket="bucket", Key="key", Body=b"twelve bytes")
        assert s3.head_object(Bucket="bucket", Key="key")["ContentLength"] == 12
        assert s3.get_object(Bucket="bucket", Key="key")["Body"].read() == b"twelve bytes"
        connection = http.client.HTTPConnection(host, port, timeout=10)
        dynamodb = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.ListTables",
                    "Host": "dynamodb.us-east-1.amazonaws.com",
                    "Authorization": "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, "
                                     "SignedHeaders=host, Signature=0"}
        head = {"Host": "s3.amazonaws.com", "Authorization": dynamodb["Authorization"].replace("dynamodb", "s3")}
        answers = []
        for method, path, headers, body in [("POST", "/", dynamodb, b"{}"), ("HEAD", "/bucket/key", head, None),
                                            ("POST", "/", dynamodb, b"{}")]:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            answers.append((response.status, response.getheader("Connection"), response.read()))
        assert [status for status, *_ in answers] == [200, 200, 200]
        assert [connection_header for _, connection_header, _ in answers] == [None, None, None]
        assert json.loads(answers[0][2]) == json.loads(answers[-1][2]) == {"TableNames": []}
        connection.close()
    finally:
        server.stop()


def test_dynamodb_requests_get_from_the_direct_route_what_motos_flask_route_answers():
    """The server hands DynamoDB requests straight to moto's handler (no Flask app, no dispatcher lock): for
    answers and errors alike the status, content type and body are what moto's own server gives."""
    import http.client

    from moto.server import ThreadedMotoServer

    ours, theirs = moto_server.MotoServer("127.0.0.1", 0), ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    ours.start()
    theirs.start()
    try:
        host, port = ours.get_host_and_port()
        client = boto3.client("dynamodb", endpoint_url=f"http://{host}:{port}",
                              region_name="us-east-1", aws_access_key_id="local", aws_secret_access_key="local")
        client.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
        client.put_item(TableName="t", Item={"pk": {"S": "a"}, "n": {"N": "1"}})
        requests = [
            ("GetItem", {"TableName": "t", "Key": {"pk": {"S": "a"}}}),
            ("GetItem", {"TableName": "missing", "Key": {"pk": {"S": "a"}}}),
            ("GetItem", {"TableName": "t", "Key": {"other": {"S": "a"}}}),
            ("PutItem", {"TableName": "t", "Item": {"pk": {"S": "a"}}, "ConditionExpression": "attribute_not_exists(pk)"}),
            ("TransactWriteItems", {"TransactItems": [{"Put": {"TableName": "t", "Item": {"pk": {"S": "a"}},
                                                               "ConditionExpression": "attribute_not_exists(pk)",
                                                               "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}]}),
            ("Query", {"TableName": "t", "KeyConditionExpression": "pk = :a",
                       "ExpressionAttributeValues": {":a": {"S": "a"}}}),
            ("UpdateItem", {"TableName": "t", "Key": {"pk": {"S": "a"}}, "UpdateExpression": "SET n = n + ",
                            "ExpressionAttributeValues": {":one": {"N": "1"}}}),
            ("DescribeTable", {"TableName": "t"}),
            ("ListTables", {}),
        ]
        authorization = ("AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, "
                         "SignedHeaders=host, Signature=0")
        for action, body in requests:
            answers = []
            for server in (ours, theirs):
                connection = http.client.HTTPConnection(*server.get_host_and_port(), timeout=10)
                connection.request("POST", "/", body=json.dumps(body), headers={
                    "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"DynamoDB_20120810.{action}",
                    "Host": "dynamodb.us-east-1.amazonaws.com", "Authorization": authorization})
                response = connection.getresponse()
                answers.append((response.status, response.getheader("Content-Type"), json.loads(response.read())))
                connection.close()
            assert answers[0] == answers[1], action
    finally:
        ours.stop()
        theirs.stop()
