"""``chatbridge deliveries redrive [--stream]`` asks the admin API again while it says more remain: each request
does what fits in about 20 s, inside API Gateway's 29 s."""

from __future__ import annotations

import json

from chatbridge.cli import main as chatbridge


def answers(httpserver, path, replies):
    pending = list(replies)

    def handler(request):
        from werkzeug import Response

        return Response(json.dumps(pending.pop(0)), content_type="application/json")

    httpserver.expect_request(path, method="POST").respond_with_handler(handler)
    return pending


def test_redrive_asks_again_while_dead_letters_remain_and_counts_them_all(httpserver, capsys):
    left = answers(httpserver, "/admin/deliveries/redrive",
                   [{"redriven": 1000, "remaining": True}, {"redriven": 7, "remaining": False}])
    assert chatbridge(["deliveries", "redrive", "--endpoint", httpserver.url_for("")]) == 0
    assert capsys.readouterr().out.strip() == "redrove 1007 dead-lettered deliveries"
    assert left == []


def test_stream_redrive_sums_its_rounds_and_exits_1_naming_what_was_lost_or_failed_again(httpserver, capsys):
    lost = {"shard_id": "shard-1", "start_sequence_number": "100", "end_sequence_number": "140", "batch_size": 3,
            "reason": "the stream no longer holds shard shard-1 from sequence number 100"}
    again = {"shard_id": "shard-1", "sequence_number": "200", "reason": "QueueError: SQS refused dispatch jobs"}
    left = answers(httpserver, "/admin/deliveries/redrive-stream", [
        {"batches": 2, "records": 5, "jobs": 4, "expired": [lost], "failed": [], "unreadable": [], "remaining": True},
        {"batches": 1, "records": 1, "jobs": 1, "expired": [], "failed": [again], "unreadable": [], "remaining": False}])
    assert chatbridge(["deliveries", "redrive", "--stream", "--endpoint", httpserver.url_for("")]) == 1
    out, err = capsys.readouterr()
    assert out.strip() == ("redrove 3 failed stream batches: 6 records evaluated again, 5 dispatch jobs queued "
                           "(replies already sent are not sent again)")
    assert "lost: shard shard-1 100..140 (3 records): the stream no longer holds" in err
    assert "failed again (kept for the next redrive): shard shard-1 from 200: QueueError" in err
    assert left == []


def test_stream_redrive_with_nothing_to_do_says_so_and_succeeds(httpserver, capsys):
    answers(httpserver, "/admin/deliveries/redrive-stream", [
        {"batches": 0, "records": 0, "jobs": 0, "expired": [], "failed": [], "unreadable": [], "remaining": False}])
    assert chatbridge(["deliveries", "redrive", "--stream", "--endpoint", httpserver.url_for("")]) == 0
    assert capsys.readouterr().out.startswith("redrove 0 failed stream batches")
