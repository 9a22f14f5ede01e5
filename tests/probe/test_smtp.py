"""The sans-IO SMTP reply parser, as tables of bytes in and replies out."""

from __future__ import annotations

import pytest

from bot.probe.smtp import (
    MAX_LINE,
    MAX_REPLY,
    Capabilities,
    Close,
    Dialogue,
    Reply,
    ReplyParser,
    Send,
    SmtpProtocolError,
    StartTls,
    Step,
    command,
    rcpt_to,
)

GOOD = [
    ("single", [b"220 mx.example ESMTP\r\n"], [Reply(220, ("mx.example ESMTP",))]),
    ("bare-lf", [b"220 hi\n"], [Reply(220, ("hi",))]),
    ("code-only", [b"250\r\n"], [Reply(250, ("",))]),
    (
        "multi-line",
        [b"250-mx.example\r\n250-PIPELINING\r\n250 STARTTLS\r\n"],
        [Reply(250, ("mx.example", "PIPELINING", "STARTTLS"))],
    ),
    (
        "split-inside-code",
        [b"2", b"5", b"0-a\r\n25", b"0 b\r", b"\n"],
        [Reply(250, ("a", "b"))],
    ),
    ("split-between-cr-lf", [b"220 x\r", b"\n"], [Reply(220, ("x",))]),
    (
        "two-replies-one-read",
        [b"250 ok\r\n221 bye\r\n"],
        [Reply(250, ("ok",)), Reply(221, ("bye",))],
    ),
    ("incomplete-stays-pending", [b"250-a\r\n250 b"], []),
    ("utf8-text", ["250 h\u00e9llo\r\n".encode()], [Reply(250, ("h\u00e9llo",))]),
]


@pytest.mark.parametrize(("chunks", "expected"), [c[1:] for c in GOOD], ids=[c[0] for c in GOOD])
def test_parser_yields_complete_replies(chunks: list[bytes], expected: list[Reply]) -> None:
    parser = ReplyParser()
    got: list[Reply] = []
    for chunk in chunks:
        got += parser.feed(chunk)
    assert got == expected


@pytest.mark.parametrize("size", [1, 2, 3, 7])
def test_parser_does_not_care_where_reads_split(size: int) -> None:
    data = b"220-first\r\n220 second\n250-x\r\n250 y\r\n"
    parser = ReplyParser()
    got: list[Reply] = []
    for i in range(0, len(data), size):
        got += parser.feed(data[i : i + size])
    assert got == [Reply(220, ("first", "second")), Reply(250, ("x", "y"))]
    assert parser.pending == 0


BAD = [
    ("not-smtp", [b"HTTP/1.1 400 Bad Request\r\n"], "not an SMTP reply"),
    ("code-out-of-range", [b"620 nope\r\n"], "not an SMTP reply"),
    ("bad-separator", [b"250_x\r\n"], "not an SMTP reply"),
    ("code-changes", [b"250-a\r\n251 b\r\n"], "code changed"),
    ("long-line-no-newline", [b"220 " + b"x" * MAX_LINE], "line longer"),
    ("long-line-with-newline", [b"220 " + b"x" * MAX_LINE + b"\r\n"], "line longer"),
    ("long-line-dripped", [b"220 "] + [b"x" * 1000] * 9, "line longer"),
    ("long-reply", [b"250-" + b"y" * 1000 + b"\r\n"] * (MAX_REPLY // 1000 + 1), "reply longer"),
]


@pytest.mark.parametrize(("chunks", "message"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_parser_refuses_what_is_not_smtp_or_too_big(chunks: list[bytes], message: str) -> None:
    parser = ReplyParser()
    for chunk in chunks[:-1]:
        parser.feed(chunk)
    with pytest.raises(SmtpProtocolError, match=message):
        parser.feed(chunks[-1])


def test_parser_holds_no_more_than_one_line_and_one_read() -> None:
    parser = ReplyParser()
    parser.feed(b"220 " + b"x" * (MAX_LINE - 10))
    assert parser.pending <= MAX_LINE


def test_line_of_exactly_the_limit_is_accepted() -> None:
    line = b"250 " + b"z" * (MAX_LINE - 6) + b"\r\n"
    assert len(line) == MAX_LINE
    assert ReplyParser().feed(line)[0].code == 250


@pytest.mark.parametrize(
    ("lines", "starttls"),
    [
        (("mx", "PIPELINING", "STARTTLS"), True),
        (("mx", "starttls"), True),
        (("mx", "PIPELINING", "SIZE 100"), False),
        (("STARTTLS is in the greeting only",), False),
    ],
    ids=["advertised", "lower-case", "absent", "only-in-first-line"],
)
def test_ehlo_capabilities(lines: tuple[str, ...], starttls: bool) -> None:
    assert Capabilities.from_reply(Reply(250, lines)).starttls is starttls


def test_size_parameter_is_kept() -> None:
    caps = Capabilities.from_reply(Reply(250, ("mx", "SIZE 1000")))
    assert ("SIZE", "1000") in caps.params


def test_reply_classes() -> None:
    assert Reply(250, ()).positive
    assert Reply(421, ()).transient
    assert Reply(554, ()).permanent
    assert str(Reply(250, ("a", "b"))) == "250 a b"


@pytest.mark.parametrize(
    "argument",
    ["TO:<a@b>\r\nDATA", "x\nRSET", "\0", "caf\u00e9"],
    ids=["crlf", "lf", "nul", "8bit"],
)
def test_commands_refuse_smuggled_lines(argument: str) -> None:
    with pytest.raises(ValueError, match="unsafe"):
        command("RCPT", argument)


def test_rcpt_command_bytes() -> None:
    assert rcpt_to("user@example.test") == b"RCPT TO:<user@example.test>\r\n"


# The dialogue: replies in, actions out. "TLS" marks the handshake, "CLOSE" the end.
R220 = Reply(220, ("mx.example ESMTP",))
EHLO_TLS = Reply(250, ("mx.example", "PIPELINING", "STARTTLS"))
EHLO_PLAIN = Reply(250, ("mx.example", "PIPELINING"))
EHLO_AFTER = Reply(250, ("mx.example", "PIPELINING"))
GO = Reply(220, ("Ready to start TLS",))
OK = Reply(250, ("Ok",))
BYE = Reply(221, ("Bye",))
HI = b"EHLO probe.example\r\n"
QUIT = b"QUIT\r\n"

DIALOGUES = [
    (
        "strict-path",
        None,
        [R220, EHLO_TLS, GO, EHLO_AFTER, BYE],
        [HI, b"STARTTLS\r\n", "TLS", HI, QUIT, "CLOSE"],
    ),
    (
        "recipient-inside-tls",
        "who@example.test",
        [R220, EHLO_TLS, GO, EHLO_AFTER, OK, OK, BYE],
        [
            HI,
            b"STARTTLS\r\n",
            "TLS",
            HI,
            b"MAIL FROM:<>\r\n",
            b"RCPT TO:<who@example.test>\r\n",
            QUIT,
            "CLOSE",
        ],
    ),
    ("no-starttls", None, [R220, EHLO_PLAIN, BYE], [HI, QUIT, "CLOSE"]),
    ("greeting-421", None, [Reply(421, ("busy",))], ["CLOSE"]),
    ("ehlo-550", None, [R220, Reply(550, ("no",)), BYE], [HI, QUIT, "CLOSE"]),
    (
        "starttls-454",
        None,
        [R220, EHLO_TLS, Reply(454, ("later",)), BYE],
        [HI, b"STARTTLS\r\n", QUIT, "CLOSE"],
    ),
    (
        "mail-refused-no-rcpt",
        "who@example.test",
        [R220, EHLO_TLS, GO, EHLO_AFTER, Reply(553, ("no null sender",)), BYE],
        [HI, b"STARTTLS\r\n", "TLS", HI, b"MAIL FROM:<>\r\n", QUIT, "CLOSE"],
    ),
    (
        "smtputf8-recipient-not-asked",
        "j\u00f6rg@example.test",
        [R220, EHLO_TLS, GO, EHLO_AFTER, BYE],
        [HI, b"STARTTLS\r\n", "TLS", HI, QUIT, "CLOSE"],
    ),
]


def converse(dialogue: Dialogue, replies: list[Reply]) -> list[bytes | str]:
    said: list[bytes | str] = []
    for reply in replies:
        action = dialogue.receive(reply)
        if isinstance(action, StartTls):
            said.append("TLS")
            action = dialogue.tls_established()
        if isinstance(action, Send):
            said.append(action.data)
        elif isinstance(action, Close):
            said.append("CLOSE")
    return said


@pytest.mark.parametrize(
    ("recipient", "replies", "expected"),
    [d[1:] for d in DIALOGUES],
    ids=[d[0] for d in DIALOGUES],
)
def test_dialogue_sequence_and_never_data(
    recipient: str | None, replies: list[Reply], expected: list[bytes | str]
) -> None:
    dialogue = Dialogue("probe.example", recipient)
    said = converse(dialogue, replies)
    assert said == expected
    assert dialogue.step is Step.DONE
    assert not any(isinstance(s, bytes) and s.upper().startswith(b"DATA") for s in said)


@pytest.mark.parametrize(
    ("answer", "accepted"),
    [(Reply(250, ("ok",)), True), (Reply(550, ("no such user",)), False), (Reply(450, ()), None)],
    ids=["accepted", "rejected", "greylisted"],
)
def test_recipient_answer(answer: Reply, accepted: bool | None) -> None:
    dialogue = Dialogue("probe.example", "who@example.test")
    converse(dialogue, [R220, EHLO_TLS, GO, EHLO_AFTER, OK, answer])
    assert dialogue.recipient_accepted is accepted
    assert dialogue.step is Step.QUIT


def test_dialogue_remembers_why_it_ended() -> None:
    dialogue = Dialogue("probe.example")
    converse(dialogue, [R220, EHLO_TLS, Reply(502, ("not implemented",))])
    assert dialogue.starttls_offered is True
    assert dialogue.refusal == (Step.STARTTLS, Reply(502, ("not implemented",)))


def test_dialogue_refuses_out_of_order_events() -> None:
    dialogue = Dialogue("probe.example")
    with pytest.raises(RuntimeError):
        dialogue.tls_established()
    converse(dialogue, [Reply(421, ("busy",))])
    with pytest.raises(SmtpProtocolError):
        dialogue.receive(R220)


def test_dialogue_refuses_an_unsafe_ehlo_name() -> None:
    with pytest.raises(ValueError, match="unsafe"):
        Dialogue("evil\r\nDATA")
