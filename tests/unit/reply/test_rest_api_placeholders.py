"""REST API placeholders end where LHC's do: one never spans another ``{{``."""

from chatbridge.reply.rest_api import RestApi, context_for

ARGS = {"chat": {"id": 7}, "msg": {"id": 1, "msg": "Hi"}}


def test_a_stray_brace_stays_text_and_the_next_placeholder_still_renders():
    text = RestApi(id="t", url="https://api.example.com/x", body="{{msg} and {{msg}}", body_format="text")
    assert text.render(context_for(ARGS)).body == "{{msg} and Hi"
    json_body = RestApi(id="j", url="https://api.example.com/x", body='{"text": "{{msg} and {{msg}}"}')
    assert json_body.render(context_for(ARGS)).body == '{"text": "{{msg} and Hi"}'
