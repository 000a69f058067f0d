"""E-mail addresses, validated as addresses (email-validator: syntax only, no DNS) wherever they
enter: campaign files (YAML), unit lists (CSV, XLSX), the setup form, accounts, the API."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

#: The longest address kept (the columns hold 255 characters; RFC 5321 allows 254).
MAX_LENGTH = 254


def email_problem(value: str) -> str | None:
    """None for a usable address, else why not (in English, from email-validator)."""
    if not isinstance(value, str) or not value or len(value) > MAX_LENGTH:
        return "not an e-mail address" if not value else f"longer than {MAX_LENGTH} characters"
    try:
        validate_email(value, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        return str(exc)
    return None


def is_email(value: str) -> bool:
    return email_problem(value) is None
