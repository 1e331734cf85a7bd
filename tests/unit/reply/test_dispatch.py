"""Dispatch: job ids, retry policy, and real HTTP sends to a local server."""

import time

import pytest
from werkzeug import Response

from chatbridge.reply.dispatch import (
    HttpResult,
    backoff_seconds,
    job_id_for,
    judge,
    redacted_request,
    retry_after_seconds,
    send,
)
from chatbridge.reply.rest_api import RenderedRequest

LOOPBACK = "127.0.0.1"


def request(url, body='{"a": 1}', timeout=5):
    return RenderedRequest(method="POST", url=url, headers={"Content-Type": "application/json"}, body=body,
                           timeout=timeout)


def verdict(status=None, **kwargs):
    return judge(HttpResult(status=status, **kwargs), is_success=lambda s: 200 <= s < 300, attempt=2)


def test_job_id_is_deterministic_per_message_and_rule():
    assert job_id_for(1, 2, "w", "chat.web_add_msg_admin") == job_id_for(1, 2, "w", "chat.web_add_msg_admin")
    assert len({job_id_for(1, 2, "w", "e"), job_id_for(1, 3, "w", "e"), job_id_for(1, 2, "v", "e"),
                job_id_for(2, 2, "w", "e"), job_id_for(1, None, "w", "chat.close")}) == 5


def test_policy_retries_network_errors_429_and_5xx_and_fails_other_4xx():
    assert verdict(200).outcome == "sent"
    assert verdict(error="timed out").outcome == "retry"
    assert verdict(503).outcome == "retry" and verdict(503).delay_seconds == backoff_seconds(2) == 10
    assert verdict(429, retry_after="42").delay_seconds == 42
    assert verdict(429).delay_seconds == 10
    assert verdict(404).outcome == "failed" and verdict(302).outcome == "failed"
    assert verdict(refused=True, error="internal").outcome == "failed"


def test_backoff_grows_and_is_capped():
    assert [backoff_seconds(n) for n in (1, 2, 3)] == [5, 10, 20] and backoff_seconds(30) == 900


def test_retry_after_reads_seconds_and_http_dates():
    now = 1_700_000_000
    assert retry_after_seconds("120") == 120 and retry_after_seconds("99999") == 900
    assert retry_after_seconds("Tue, 14 Nov 2023 22:14:20 GMT", now=now) == 60
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_send_delivers_body_and_reads_the_answer(httpserver):
    httpserver.expect_oneshot_request("/send", method="POST", data='{"a": "😀 </script>"}').respond_with_data("ok")
    result = send(request(httpserver.url_for("/send"), body='{"a": "😀 </script>"}'), allow=LOOPBACK)
    assert result.status == 200 and result.excerpt == "ok" and result.error is None
    httpserver.check_assertions()


def test_send_reports_error_statuses_with_retry_after_and_capped_excerpt(httpserver):
    httpserver.expect_request("/busy").respond_with_response(
        Response("x" * 10_000, status=429, headers={"Retry-After": "3"}))
    result = send(request(httpserver.url_for("/busy")), allow=LOOPBACK)
    assert result.status == 429 and result.retry_after == "3" and len(result.excerpt) == 2000


def test_send_does_not_follow_redirects(httpserver):
    httpserver.expect_request("/moved").respond_with_response(
        Response("", status=302, headers={"Location": "http://169.254.169.254/"}))
    assert send(request(httpserver.url_for("/moved")), allow=LOOPBACK).status == 302


def test_send_refuses_loopback_unless_allowed(httpserver):
    result = send(request(httpserver.url_for("/send")), allow="")
    assert result.refused and "internal address" in result.error
    assert len(httpserver.log) == 0


def test_send_times_out_as_a_network_error(httpserver):
    def slow(_request):
        time.sleep(1.5)
        return Response("late")
    httpserver.expect_request("/slow").respond_with_handler(slow)
    result = send(request(httpserver.url_for("/slow"), timeout=0.3), allow=LOOPBACK)
    assert result.status is None and "network error" in result.error


def test_send_to_a_closed_port_is_a_network_error():
    result = send(request("http://127.0.0.1:9/none"), allow=LOOPBACK)
    assert result.status is None and result.error


def test_delivery_record_masks_secret_headers():
    rendered = RenderedRequest(method="POST", url="https://x/y", body="b", timeout=1,
                               headers={"api_key": "k", "Authorization": "Bearer t", "X": "v"})
    assert redacted_request(rendered, {"api_key"})["headers"] == {"api_key": "***", "Authorization": "***", "X": "v"}


def test_an_unsendable_request_is_a_permanent_failure_not_a_crash(httpserver):
    bad = RenderedRequest(method="POST", url=httpserver.url_for("/x"), headers={"X": "caf\u00e9 \u2603"}, body="b",
                          timeout=2)
    result = send(bad, allow=LOOPBACK)
    assert result.refused and "cannot be sent" in result.error


@pytest.mark.parametrize("url, reason", [("http://[::1/x", "Invalid IPv6 URL"),
                                         ("http://127.0.0.1:99999/x", "Port out of range"),
                                         ("http://127.0.0.1:0/x", "port 0"),
                                         ("http://" + "a" * 64 + ".example/x", "not a valid host name")])
def test_send_refuses_a_url_that_can_never_be_called_for_good_instead_of_raising(url, reason):
    result = send(request(url), allow=LOOPBACK)
    assert result.refused and reason in result.error and result.status is None
    assert verdict(refused=result.refused, error=result.error).outcome == "failed"


def test_send_connects_to_the_address_the_guard_checked_not_a_second_dns_answer(httpserver, monkeypatch):
    """DNS rebinding: the name is resolved once, by the guard; the connection goes to that address."""
    from chatbridge.outbound import url_guard

    answers = iter([[LOOPBACK]])  # a second lookup would raise StopIteration: there must be none
    monkeypatch.setattr(url_guard, "_system_resolver", lambda host, port: next(answers))
    httpserver.expect_oneshot_request("/send", method="POST", headers={"Host": f"rebind.test:{httpserver.port}"}) \
        .respond_with_data("ok")
    result = send(request(f"http://rebind.test:{httpserver.port}/send"), allow=LOOPBACK)
    assert result.status == 200, result
    httpserver.check_assertions()
