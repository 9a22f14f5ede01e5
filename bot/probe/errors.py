"""Expected failures of talking to a stranger's SMTP server, and the one seam that makes them.

:func:`translate` is the only place where low-level errors become :class:`ProbeError`
values, most specific first, ``OSError`` last, always ``raise … from exc``::

    ProbeError                      (expected outcomes; each carries a reason code)
     ├── ConnectRefused             ← ConnectionRefusedError while connecting
     ├── ConnectTimeout             ← TimeoutError (OSError ETIMEDOUT) while connecting
     ├── ConnectFailed              ← any other OSError while connecting
     ├── HandshakeFailed            ← ssl.SSLError during the TLS handshake (an alert: the
     │    │                           server said no)
     │    └── HandshakeInterrupted   ← OSError, EOF or ssl.SSLEOFError during the handshake
     │                                (the connection was closed or reset: nothing was said)
     ├── ConnectionLost             ← ssl.SSLError / OSError / EOF later in the dialogue
     └── ProtocolViolation          ← SmtpProtocolError (garbage, oversized line or reply)

``asyncio.CancelledError`` (the overall deadline) is never caught here.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator

from bot.probe.model import Code, Reason
from bot.probe.smtp import SmtpProtocolError, Step


class ProbeError(Exception):
    code = Code.CONNECT_FAILED

    def reason(self) -> Reason:
        return Reason(self.code, str(self))


class ConnectRefused(ProbeError):
    code = Code.CONNECT_REFUSED


class ConnectTimeout(ProbeError):
    code = Code.TIMEOUT


class ConnectFailed(ProbeError):
    code = Code.CONNECT_FAILED


class HandshakeFailed(ProbeError):
    code = Code.HANDSHAKE_FAILED


class HandshakeInterrupted(HandshakeFailed):
    code = Code.CONNECT_FAILED


class ConnectionLost(ProbeError):
    code = Code.CONNECT_FAILED


class ProtocolViolation(ProbeError):
    code = Code.SMTP_PROTOCOL_ERROR


@contextlib.contextmanager
def translate(stage: Step, where: str) -> Iterator[None]:
    """The one place where low-level errors become :class:`ProbeError` values."""
    try:
        yield
    except ProbeError:
        raise
    except SmtpProtocolError as exc:
        raise ProtocolViolation(f"{where} does not speak SMTP: {exc}") from exc
    except (ssl.SSLEOFError, ssl.SSLZeroReturnError) as exc:
        if stage is Step.HANDSHAKE:
            raise HandshakeInterrupted(_ssl_text(exc)) from exc
        raise ConnectionLost(f"TLS error {stage.value} with {where}: {_ssl_text(exc)}") from exc
    except ssl.SSLError as exc:
        if stage is Step.HANDSHAKE:
            raise HandshakeFailed(_ssl_text(exc)) from exc
        raise ConnectionLost(f"TLS error {stage.value} with {where}: {_ssl_text(exc)}") from exc
    except ConnectionRefusedError as exc:
        raise ConnectRefused(f"{where} refused the connection") from exc
    except TimeoutError as exc:
        raise ConnectTimeout(f"connecting to {where} timed out") from exc
    except (OSError, EOFError) as exc:
        text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or "closed"
        if stage is Step.CONNECT:
            raise ConnectFailed(f"cannot connect to {where}: {text}") from exc
        if stage is Step.HANDSHAKE:
            if isinstance(exc, ConnectionResetError) and exc.errno is None:
                text = "closed"  # asyncio's own word for a connection lost mid-handshake
            raise HandshakeInterrupted(text) from exc
        raise ConnectionLost(f"{where} closed the connection {stage.value} ({text})") from exc


def _ssl_text(exc: ssl.SSLError) -> str:
    text = getattr(exc, "reason", None) or exc.strerror or str(exc) or type(exc).__name__
    return str(text).replace("_", " ").lower()
