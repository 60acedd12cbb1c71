"""AWS credentials: explicit, or resolved through botocore's standard chain off the event loop."""

from __future__ import annotations

from attrs import define, field


@define(frozen=True, slots=True)
class Credentials:
    """An access key pair with an optional session token.

    The secret and the token never appear in ``repr`` or ``str``.
    """

    access_key: str
    secret_key: str = field(repr=False)
    token: str | None = field(default=None, repr=False)
