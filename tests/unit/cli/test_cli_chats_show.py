"""``chatbridge chats show``: who wrote each message (group authors, the business itself), edits, reactions."""

import argparse

from chatbridge.cli import chats


def run_cli(*argv):
    parser = argparse.ArgumentParser(prog="chatbridge")
    chats.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.func(args)


def test_show_names_group_authors_the_business_and_marks_edits_and_reactions(httpserver, capsys):
    httpserver.expect_request("/admin/chats/7").respond_with_json(
        {"id": 7, "status": "pending", "nick": "Launch team", "phone": None,
         "incoming_chat": {"chat_external_id": "1203@g.us", "chat_type": "group", "incoming": {"name": "WhatsApp"}}})
    httpserver.expect_request("/admin/chats/7/messages").respond_with_json({"messages": [
        {"id": 1, "user_id": 0, "kind": "text", "msg": "Who has the notes?", "time": 1,
         "author": {"name": "Aisha", "id": "4477@c.us"}, "reactions": [{"reaction": "\U0001f44d", "author": None}]},
        {"id": 2, "user_id": 0, "kind": "text", "msg": "Not me (fixed)", "time": 2, "edited_at": 3,
         "history": [{"msg": "Not me", "time": 2}], "author": {"name": "Ben", "id": "4478@c.us"}},
        {"id": 3, "user_id": -2, "kind": "text", "msg": "I will post them", "time": 4, "name_support": "Shop"},
        {"id": 4, "user_id": 5, "kind": "text", "msg": "Thanks all", "time": 5, "delivery": "read"}]})
    assert run_cli("chats", "show", "7", "--endpoint", httpserver.url_for("")) == 0
    out = capsys.readouterr().out
    assert "visitor: Aisha" in out and "visitor: Ben" in out and "business: Shop" in out
    assert "operator 5" in out and "read" in out
    assert "Not me (fixed) (edited, 1 earlier)" in out and "Who has the notes? [\U0001f44d]" in out
