"""Render a mail from its templates: ``templates/mail/<lang>/<kind>.txt`` and ``.html``.

The ``.txt`` template sets ``subject`` with ``{% set subject %}…{% endset %}``;
the subject always carries the campaign code.
"""

from __future__ import annotations

from flask import current_app

LANGUAGES = ("vi", "en")


def render_mail(kind: str, lang: str, /, **context) -> tuple[str, str, str]:
    """Return (subject, plain text, HTML) for a kind of mail in a language."""
    lang = lang if lang in LANGUAGES else "vi"
    env = current_app.jinja_env
    context["lang"] = lang
    text_module = env.get_template(f"mail/{lang}/{kind}.txt").make_module(context)
    subject = " ".join(str(getattr(text_module, "subject", "")).split())
    if not subject:
        raise ValueError(f"mail/{lang}/{kind}.txt does not set a subject")
    html = env.get_template(f"mail/{lang}/{kind}.html").render(context | {"subject": subject})
    # Both end with one line break, as a MIME text part does (so the outbox holds what is sent).
    return subject, str(text_module).strip() + "\n", html.rstrip() + "\n"
