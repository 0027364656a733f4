"""Email receipts through the shop's SMTP server.

Configured in shop settings (``smtp.host``, ``smtp.port``, ``smtp.starttls``,
``smtp.ssl``, ``smtp.from``, optional ``smtp.username`` / ``smtp.password``). The body
is :func:`~vaultsync.hardware.receipt_render.receipt_text` — the same layout as the
printed slip — with a simple HTML alternative, so what the customer reads is what the
register printed.

Sending is synchronous with a timeout; callers on the UI thread should run it in a
worker (``run.io_bound``) so a slow mail server never freezes the register. Every
failure is an :class:`EmailError` with a message the cashier can act on ("mail server
refused the login"), and a bad address is a ValidationError before anything is sent.
"""

from __future__ import annotations

import html
import re
import smtplib
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Any

from vaultsync.domain.enums import TransactionKind
from vaultsync.domain.errors import ValidationError, VaultSyncError
from vaultsync.domain.money import format_cents
from vaultsync.domain.receipt import Receipt
from vaultsync.hardware.receipt_render import RenderOptions, receipt_text

DEFAULT_TIMEOUT = 10.0

# Deliberately practical rather than RFC 5322-complete: what shop customers type, minus
# anything that could smuggle headers (CR/LF) or is obviously mistyped (no dot in domain).
_EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
    r"(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)


class EmailError(VaultSyncError):
    """The receipt email could not be sent; nothing about the sale is affected."""

    http_status = 502


def validate_email(address: str | None) -> str:
    """Return the trimmed address or raise ValidationError with a clear message."""
    value = (address or "").strip()
    if not value:
        raise ValidationError("enter an email address for the receipt")
    if len(value) > 254 or not _EMAIL_RE.match(value) or ".." in value or value.startswith("."):
        raise ValidationError(f"{value!r} is not a valid email address")
    return value


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 587
    starttls: bool = True
    ssl: bool = False
    sender: str = ""
    username: str = ""
    password: str = ""
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def from_settings(cls, values: Mapping[str, Any], *, timeout: float = DEFAULT_TIMEOUT) -> SmtpSettings:
        """Build from shop settings (``ShopService.all()``); raises EmailError if not set up."""
        host = str(values.get("smtp.host") or "").strip()
        if not host:
            raise EmailError(
                "email receipts are not set up: enter the mail server (smtp.host) in shop settings"
            )
        try:
            port = int(values.get("smtp.port") or 587)
        except (TypeError, ValueError) as exc:
            raise EmailError("shop setting smtp.port must be a number") from exc
        sender = str(values.get("smtp.from") or "").strip() or str(values.get("smtp.username") or "").strip()
        try:
            sender = validate_email(sender)
        except ValidationError as exc:
            raise EmailError(
                "email receipts need a valid sender address (smtp.from) in shop settings"
            ) from exc
        return cls(
            host=host,
            port=port,
            starttls=_truthy(values.get("smtp.starttls", True)),
            ssl=_truthy(values.get("smtp.ssl", False)),
            sender=sender,
            username=str(values.get("smtp.username") or ""),
            password=str(values.get("smtp.password") or ""),
            timeout=timeout,
        )


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def subject_for(receipt: Receipt) -> str:
    what = "Refund receipt" if receipt.kind == TransactionKind.REFUND.value else "Your receipt"
    return f"{what} {receipt.number} from {receipt.shop_name}"


def build_message(
    receipt: Receipt, to: str, settings: SmtpSettings, *, options: RenderOptions | None = None
) -> EmailMessage:
    """The email for ``receipt``: plain text (the printed layout) plus a simple HTML part."""
    address = validate_email(to)
    text = receipt_text(receipt, options or RenderOptions(width=48))
    msg = EmailMessage()
    msg["Subject"] = subject_for(receipt)
    msg["From"] = formataddr((receipt.shop_name, settings.sender))
    msg["To"] = address
    msg["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2])
    msg.set_content(text)
    total = format_cents(receipt.total_cents, receipt.currency_symbol)
    msg.add_alternative(
        "<!doctype html><html><body>"
        f"<h2>{html.escape(receipt.shop_name)}</h2>"
        f"<p>Receipt <strong>{html.escape(receipt.number)}</strong> &middot; "
        f"Total <strong>{html.escape(total)}</strong></p>"
        f'<pre style="font-family: monospace; font-size: 13px">{html.escape(text)}</pre>'
        "</body></html>",
        subtype="html",
    )
    return msg


def send_receipt_email(
    receipt: Receipt,
    to: str,
    settings: SmtpSettings | Mapping[str, Any],
    *,
    options: RenderOptions | None = None,
) -> None:
    """Send ``receipt`` to ``to``. ``settings`` may be shop settings (``ShopService.all()``).

    Raises ValidationError for a bad address (before connecting) and EmailError for
    anything the mail server or network does.
    """
    address = validate_email(to)
    smtp = settings if isinstance(settings, SmtpSettings) else SmtpSettings.from_settings(settings)
    msg = build_message(receipt, address, smtp, options=options)
    where = f"mail server {smtp.host}:{smtp.port}"
    try:
        client: smtplib.SMTP
        if smtp.ssl:
            client = smtplib.SMTP_SSL(
                smtp.host, smtp.port, timeout=smtp.timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
        with client:
            client.ehlo()
            if smtp.starttls and not smtp.ssl:
                if not client.has_extn("starttls"):
                    raise EmailError(
                        f"{where} does not offer STARTTLS; turn off smtp.starttls or use smtp.ssl"
                    )
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
            if smtp.username:
                client.login(smtp.username, smtp.password)
            client.send_message(msg, from_addr=smtp.sender, to_addrs=[address])
    except EmailError:
        raise
    except smtplib.SMTPAuthenticationError as exc:
        raise EmailError(f"{where} refused the login (check smtp.username / smtp.password)") from exc
    except smtplib.SMTPRecipientsRefused as exc:
        raise EmailError(f"{where} refused the address {address}") from exc
    except smtplib.SMTPSenderRefused as exc:
        raise EmailError(f"{where} refused the sender address {smtp.sender}") from exc
    except smtplib.SMTPNotSupportedError as exc:
        raise EmailError(f"{where} does not support what was asked ({exc})") from exc
    except smtplib.SMTPException as exc:
        raise EmailError(f"{where} failed: {exc}") from exc
    except ConnectionRefusedError as exc:
        raise EmailError(f"cannot reach the {where}: connection refused (is it running?)") from exc
    except TimeoutError as exc:
        raise EmailError(f"{where} did not answer within {smtp.timeout:g}s") from exc
    except socket.gaierror as exc:
        raise EmailError(f"{where}: unknown host name") from exc
    except ssl.SSLError as exc:
        raise EmailError(f"{where}: secure connection failed ({exc.reason or exc})") from exc
    except OSError as exc:
        raise EmailError(f"cannot reach the {where} ({exc.strerror or exc})") from exc
