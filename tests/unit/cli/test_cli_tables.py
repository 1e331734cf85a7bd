"""CLI tables: columns line up by display width (CJK, emoji), long cells wrap to the terminal, nothing is cut."""

import argparse
import re

import pytest
from wcwidth import width

from chatbridge.cli import chats, presets
from chatbridge.cli._table import format_table
from chatbridge.presets import PRESETS

NICKS = ["Aisha", "李小龙", "👨‍👩‍👧 Family", "José", "🇬🇧 Tom", "Ngozi ❤️"]


def run_cli(*argv):
    parser = argparse.ArgumentParser(prog="chatbridge")
    commands = parser.add_subparsers(dest="command", required=True)
    for module in (chats, presets):
        module.register(commands)
    args = parser.parse_args(list(argv))
    return args.func(args)


def chat(number, nick):
    return {"id": number, "status": "pending", "nick": nick, "phone": f"4477009000{number:02d}",
            "updated_at": 1768848000, "incoming_chat": {"chat_external_id": f"4477009000{number:02d}@c.us",
                                                        "incoming": {"identifier": "openwa-demo"}}}


def column_of(line, text):
    """The terminal column ``text`` starts at in ``line``: the display width of what comes before it."""
    return width(line[:line.index(text)])


def test_columns_after_cjk_and_emoji_nicks_line_up_on_screen(httpserver, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    rows = [chat(number, nick) for number, nick in enumerate(NICKS, 1)]
    httpserver.expect_request("/admin/chats").respond_with_json({"chats": rows})
    assert run_cli("chats", "list", "--endpoint", httpserver.url_for("")) == 0
    header, *lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(NICKS)
    phone_at = column_of(header, "PHONE")
    assert [column_of(line, row["phone"]) for line, row in zip(lines, rows, strict=True)] == [phone_at] * len(NICKS)
    assert [column_of(line, "openwa-demo") for line in lines] == [column_of(header, "INCOMING")] * len(NICKS)
    assert all(nick in line for nick, line in zip(NICKS, lines, strict=True))


def test_a_long_message_wraps_within_the_terminal_and_keeps_every_word(httpserver, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    text = " ".join(f"word{index}" for index in range(60)) + " https://example.test/" + "x" * 120 + " 終わり"
    httpserver.expect_request("/admin/chats/7").respond_with_json({"chat": chat(7, "李小龙")})
    httpserver.expect_request("/admin/chats/7/messages").respond_with_json({"messages": [
        {"id": 1, "time": 1768848000, "user_id": 0, "kind": "text", "msg": text, "delivery": None},
        {"id": 2, "time": 1768848060, "user_id": 1, "kind": "text", "msg": "ok", "delivery": "sent"}]})
    assert run_cli("chats", "show", "7", "--endpoint", httpserver.url_for("")) == 0
    lines = capsys.readouterr().out.splitlines()
    table = lines[lines.index(next(line for line in lines if line.startswith("ID"))):]
    assert all(width(line) <= 80 for line in table)
    message_at = table[0].index("MESSAGE")
    delivery_at = table[0].index("DELIVERY")
    message = "".join(line[message_at:delivery_at].rstrip() + " " for line in table[1:-1])
    assert len(table) > 3 and "..." not in message
    assert re.sub(r"\s", "", message) == re.sub(r"\s", "", text)  # every character, in order
    assert message.split()[:60] == text.split()[:60]  # words wrap whole
    assert table[-1].split()[-1] == "sent" and "ok" in table[-1].split()


@pytest.mark.parametrize("columns", ["60", "100", "300"])
def test_presets_list_shows_every_column_and_every_parameter(capsys, monkeypatch, columns):
    """``presets list`` used to cut the parameter list at 60 characters and lose ``media``."""
    monkeypatch.setenv("COLUMNS", columns)
    assert run_cli("presets", "list") == 0
    lines = capsys.readouterr().out.split("\n\n")[0].splitlines()
    assert all(width(line) <= int(columns) for line in lines)
    starts = [index for index, line in enumerate(lines) if line.split(" ")[0] in PRESETS]
    assert [lines[index].split()[0] for index in starts] == list(PRESETS)
    parameters_at = lines[0].index("PARAMETERS")
    provider_at = lines[0].index("PROVIDER")
    for begin, end, preset in zip(starts, [*starts[1:], len(lines)], PRESETS.values(), strict=True):
        block = lines[begin:end]
        provider = " ".join(line[provider_at:parameters_at].strip() for line in block).strip()
        parameters = " ".join(line[parameters_at:].strip() for line in block).strip()
        assert provider == preset.provider
        assert parameters == ", ".join(f"{q.name}{'*' if q.required else ''}" for q in preset.parameters)
        assert "media" in parameters.split(", ")


def test_control_characters_from_a_payload_never_reach_the_terminal():
    lines = format_table(["NICK", "PHONE"], [["\x1b[2JEve\x07", "1\t2"], ["a\nb", "x"]], max_width=None)
    assert "\x1b" not in "".join(lines) and "\x07" not in "".join(lines)
    assert lines[1].startswith("\ufffd[2JEve\ufffd") and "1 2" in lines[1]
    assert lines[2:] == ["a".ljust(8) + "  x", "b"]  # a cell's own line breaks are kept


def test_a_table_narrower_than_its_floors_overflows_rather_than_cutting():
    cells = [["x" * 30, "y" * 30, "z" * 30]]
    lines = format_table(["A", "B", "C"], cells, max_width=20)
    assert "".join(lines).count("x") == 30 and "".join(lines).count("z") == 30
    assert max(width(line) for line in lines) == 8 * 3 + 2 * 2  # every column at its floor, nothing lost
