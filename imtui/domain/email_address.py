"""Is this an email address we can send alerts to? A strict check, without DNS.

Only a bare ``local@domain`` is accepted: no display name, no comments, no quoted local parts,
no IP literals, nothing that could add a header or a second recipient. The domain may be
internationalised (it is sent IDNA-encoded); the local part must be ASCII, because not every
SMTP server speaks SMTPUTF8.
"""

from __future__ import annotations

import re
import unicodedata
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.utils import parseaddr

from email_validator import EmailNotValidError, validate_email

MAX_ADDRESS = 254
MAX_LOCAL = 64
MAX_DOMAIN = 253
MAX_LABEL = 63

_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
_NOT_IN_A_BARE_ADDRESS = set('<>(),;:"[]\\')


class InvalidEmailAddress(ValueError):
    """The message says, in one line, what is wrong with the address."""


def check_email_address(text: str) -> str:
    """The address, trimmed, its domain lower-cased; or :class:`InvalidEmailAddress`."""
    address = text.strip()
    shown = address[:80]
    if not address:
        raise InvalidEmailAddress("an email address is required")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in address):
        raise InvalidEmailAddress("the email address contains control characters or line breaks")
    if _NOT_IN_A_BARE_ADDRESS & set(address):
        raise InvalidEmailAddress(
            f"{shown!r}: give the bare address, like ops@example.com "
            "(no name, quotes, brackets, commas or semicolons)"
        )
    if any(ch.isspace() for ch in address):
        raise InvalidEmailAddress(f"the email address {shown!r} contains spaces")
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise InvalidEmailAddress(
            f"{shown!r} is not an email address: it must look like ops@example.com"
        )
    if "@" in local:
        raise InvalidEmailAddress(f"{shown!r} has more than one @")
    if len(address) > MAX_ADDRESS:
        raise InvalidEmailAddress(f"the email address is longer than {MAX_ADDRESS} characters")
    if len(local) > MAX_LOCAL:
        raise InvalidEmailAddress(f"the part before @ is longer than {MAX_LOCAL} characters")
    if not local.isascii():
        raise InvalidEmailAddress(f"{shown!r}: the part before @ must be plain ASCII")
    if not all(_ATOM.fullmatch(atom) for atom in local.split(".")):
        raise InvalidEmailAddress(
            f"{shown!r}: the part before @ has a character or a dot where none may be"
        )
    domain = domain.lower()
    ascii_domain = idna_domain(domain)
    checked = f"{local}@{ascii_domain}"
    if parseaddr(checked) != ("", checked) or _parsed_spec(checked) != checked:
        raise InvalidEmailAddress(f"{shown!r} is not an email address")
    return f"{local}@{domain}"


def idna_domain(domain: str) -> str:
    """The domain as sent over SMTP (``bücher.example`` → ``xn--bcher-kva.example``): IDNA 2008
    by email-validator (syntax only, no DNS), so ``straße.example`` stays itself
    (``xn--strae-oqa.example``) rather than becoming another domain, ``strasse.example``, as
    IDNA 2003 made it; invalid punycode and special-use names (``.local``) are refused."""
    shown = domain[:80]
    try:
        ascii_domain = str(
            validate_email(
                f"x@{domain}", check_deliverability=False, allow_smtputf8=False
            ).ascii_domain
        )
    except EmailNotValidError as exc:
        if "." not in domain:
            raise InvalidEmailAddress(
                f"the domain {shown!r} needs a dot, like example.com"
            ) from None
        said = str(exc).replace("The part after the @-sign", "it").rstrip(".")
        raise InvalidEmailAddress(
            f"{shown!r} is not a valid domain name: {said[:1].lower()}{said[1:]}"
        ) from None
    labels = ascii_domain.split(".")
    if len(labels) < 2:
        raise InvalidEmailAddress(f"the domain {shown!r} needs a dot, like example.com")
    if len(ascii_domain) > MAX_DOMAIN:
        raise InvalidEmailAddress(f"the domain is longer than {MAX_DOMAIN} characters")
    for label in labels:
        if len(label) > MAX_LABEL or not _LABEL.fullmatch(label):
            raise InvalidEmailAddress(f"{shown!r} is not a valid domain name")
    top = labels[-1]
    if not (top.isalpha() or top.startswith("xn--")):
        raise InvalidEmailAddress(f"{shown!r} does not end in a top-level domain like .com")
    return ascii_domain


def smtp_address(address: str) -> str:
    """A checked address in the ASCII form used on the wire (envelope and headers)."""
    local, _, domain = address.rpartition("@")
    return f"{local}@{idna_domain(domain)}"


def _parsed_spec(address: str) -> str | None:
    try:
        return Address(addr_spec=address).addr_spec
    except (HeaderParseError, ValueError, IndexError):
        return None
