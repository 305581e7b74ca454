"""How alert email is sent: one settings object, read from ``IMTUI_SMTP_*`` environment variables
(plus ``IMTUI_PUBLIC_URL`` and ``IMTUI_DIGEST_HOUR``). The password is a ``SecretStr``: it is
never printed, logged or put in an error message."""

from __future__ import annotations

import os
from enum import StrEnum
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from imtui.domain.contacts import DEFAULT_DAILY_HOUR
from imtui.domain.email_address import InvalidEmailAddress, check_email_address
from imtui.domain.links import LINK_DAYS
from imtui.domain.text import SECRET_MASK, hide_url_passwords, printable

ENV_PREFIX = "IMTUI_SMTP_"


class SmtpSecurity(StrEnum):
    STARTTLS = "starttls"
    """Plain connection upgraded with STARTTLS, which the server must offer (port 587)."""
    TLS = "tls"
    """TLS from the first byte, "SMTPS" (port 465)."""
    NONE = "none"
    """No encryption: only for a relay on localhost or a test server."""


DEFAULT_PORTS = {SmtpSecurity.STARTTLS: 587, SmtpSecurity.TLS: 465, SmtpSecurity.NONE: 25}


class EmailSettingsError(ValueError):
    """Unusable email settings; the message is one line naming the variable."""


class EmailSettings(BaseSettings):
    """Alert email settings. Email is off until ``IMTUI_SMTP_HOST`` is set; alerts still fill
    the outbox meanwhile and go out once it is."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", populate_by_name=True, frozen=True
    )

    host: str | None = None
    """IMTUI_SMTP_HOST: the SMTP server."""
    port: int | None = Field(default=None, ge=1, le=65535)
    """IMTUI_SMTP_PORT: default 587 for starttls, 465 for tls, 25 for none."""
    security: SmtpSecurity = SmtpSecurity.STARTTLS
    """IMTUI_SMTP_SECURITY: starttls, tls or none."""
    username: str | None = None
    """IMTUI_SMTP_USERNAME: log in when set."""
    password: SecretStr | None = None
    """IMTUI_SMTP_PASSWORD."""
    sender: str | None = None
    """IMTUI_SMTP_SENDER: the From address (and the envelope sender); required with a host."""
    sender_name: str = Field(default="imtui", max_length=100)
    """IMTUI_SMTP_SENDER_NAME: the From display name."""
    timeout: float = Field(default=30.0, gt=0, le=600)
    """IMTUI_SMTP_TIMEOUT: seconds per SMTP command."""
    validate_certs: bool = True
    """IMTUI_SMTP_VALIDATE_CERTS: check the server's TLS certificate."""
    ca_file: str | None = None
    """IMTUI_SMTP_CA_FILE: a PEM file of CA certificates to check it against (a private CA);
    the system's by default."""
    html: bool = False
    """IMTUI_SMTP_HTML: add an HTML part (the plain text, escaped) to every email."""
    public_url: str | None = Field(default=None, validation_alias="IMTUI_PUBLIC_URL")
    """IMTUI_PUBLIC_URL: where ``imtui serve`` is reached from outside (behind a TLS proxy).
    Emails carry a link into the browser mode only while a server registered there serves it:
    otherwise the command only, no link to a page nothing serves."""
    link_days: int = Field(default=LINK_DAYS, ge=1, le=90, validation_alias="IMTUI_LINK_DAYS")
    """IMTUI_LINK_DAYS: how long an emailed link opens its one browser session."""
    digest_hour: int = Field(
        default=DEFAULT_DAILY_HOUR, ge=0, le=23, validation_alias="IMTUI_DIGEST_HOUR"
    )
    """IMTUI_DIGEST_HOUR: the hour (UTC) daily digests go out."""
    cap: int = Field(default=20, ge=0, le=10_000, validation_alias="IMTUI_EMAIL_CAP")
    """IMTUI_EMAIL_CAP: the most alert emails one contact is sent within
    IMTUI_EMAIL_CAP_MINUTES; what opens beyond it goes in one summary (0: no cap)."""
    cap_minutes: int = Field(default=10, ge=1, le=1440, validation_alias="IMTUI_EMAIL_CAP_MINUTES")
    """IMTUI_EMAIL_CAP_MINUTES: the window of the cap."""

    @field_validator("host", "username", "sender", "public_url", "ca_file", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("host")
    @classmethod
    def _check_host(cls, value: str | None) -> str | None:
        if value is not None and (any(ch.isspace() for ch in value.strip()) or "/" in value):
            raise ValueError("a host name or address, without scheme or path")
        return value.strip() if value else value

    @field_validator("sender")
    @classmethod
    def _check_sender(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return check_email_address(value)
        except InvalidEmailAddress as exc:
            raise ValueError(str(exc)) from None

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("an http(s) URL, like https://imtui.example.com")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ValueError("a plain http(s) URL: no user, password, query or fragment")
        _ = parts.port  # "https://host:abc" raises ValueError here, not when serving starts
        return value.strip().rstrip("/")

    @field_validator("ca_file")
    @classmethod
    def _check_ca_file(cls, value: str | None) -> str | None:
        if value is not None:
            problem = ca_file_problem(value)
            if problem:
                raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _sender_with_host(self) -> EmailSettings:
        if self.host and not self.sender:
            raise ValueError(f"{ENV_PREFIX}SENDER (the From address) is required with a host")
        return self

    @property
    def enabled(self) -> bool:
        return bool(self.host)

    @property
    def effective_port(self) -> int:
        return self.port or DEFAULT_PORTS[self.security]

    def _password_words(self) -> str:
        if not self.password:
            return "(none)"
        if not self.username:
            return f"{SECRET_MASK} (unused: no IMTUI_SMTP_USERNAME, so no login)"
        return SECRET_MASK

    def describe(self) -> list[tuple[str, str]]:
        """Every setting for a person to read, the password masked."""
        return [
            ("host", self.host or "(not set: email is off)"),
            ("port", str(self.effective_port)),
            ("security", str(self.security)),
            ("username", self.username or "(none: no login)"),
            ("password", self._password_words()),
            ("sender", f"{self.sender_name} <{self.sender}>" if self.sender else "(not set)"),
            ("timeout", f"{self.timeout:g} s"),
            ("validate certs", "yes" if self.validate_certs else "no"),
            ("ca file", self.ca_file or "(the system's)"),
            ("html part", "yes" if self.html else "no"),
            ("public url", hide_url_passwords(self.public_url or "(not set: no links)")),
            ("links open for", f"{self.link_days} days, once"),
            ("daily digest", f"{self.digest_hour:02d}:00 UTC"),
            ("cap", self.cap_words()),
        ]

    def cap_words(self) -> str:
        if not self.cap:
            return "none"
        return f"{self.cap} emails per contact in {self.cap_minutes} minutes, then one summary"


def load_email_settings(**values: object) -> EmailSettings:
    """The settings from the environment (``values`` override it), or one line that names the
    variable at fault. Never echoes a value: it might be the password."""
    try:
        # pydantic checks the values: a wrong one is the ValidationError below
        return EmailSettings(**values)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        where = error["loc"][0] if error["loc"] else ""
        name = _env_name(str(where)) if where else "email settings"
        message = str(error["msg"]).removeprefix("Value error, ")
        raise EmailSettingsError(f"{name}: {message}") from None


def ca_file_problem(path: str) -> str | None:
    """Why ``path`` cannot be the CA file, in a few plain words with the path (None if it can):
    found now, at settings time, rather than at the first TLS handshake, where it would read as
    a mail server that cannot be reached."""
    shown = printable(path)
    if not os.path.exists(path):
        return f"no such file: {shown}"
    if not os.path.isfile(path):
        return f"not a file: {shown}"
    if not os.access(path, os.R_OK):
        return f"cannot be read: {shown}"
    return None


def _env_name(field: str) -> str:
    if field.startswith("IMTUI_"):
        return field
    aliases = {
        "public_url": "IMTUI_PUBLIC_URL",
        "digest_hour": "IMTUI_DIGEST_HOUR",
        "cap": "IMTUI_EMAIL_CAP",
        "cap_minutes": "IMTUI_EMAIL_CAP_MINUTES",
        "link_days": "IMTUI_LINK_DAYS",
    }
    return aliases.get(field, f"{ENV_PREFIX}{field.upper()}")
