"""The simulated server's refusals: :class:`Rejected` carries the status and ``errorText``;
and the media type its JSON answers (refusals or not) say they are."""

from __future__ import annotations

#: What ASP.NET Core's JSON formatter says its answers are [profile: the framework's
#: default]; the identity provider's own (IdentityServer's) spells ``UTF-8`` (:mod:`.idp`).
JSON_TYPE = "application/json; charset=utf-8"


class Rejected(Exception):
    """A request the simulated server refuses: ``status`` and the ``errorText`` to send."""

    def __init__(self, status: int, text: str, text_id: str | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.text_id = text_id


FORBIDDEN_TEXT = "You do not have sufficient permissions to complete the operation."
FORBIDDEN_ID = "VMO61008"  # [sample]


def forbidden() -> Rejected:
    """The 403 of the real sample [sample]."""
    return Rejected(403, FORBIDDEN_TEXT, FORBIDDEN_ID)
