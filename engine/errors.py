"""The domain's errors; the API maps each to one HTTP status."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the engine raises on purpose."""

    code = "error"

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class NotFound(DomainError):
    """The thing does not exist, or the caller may not see it."""

    code = "not_found"


class Forbidden(DomainError):
    """The caller sees the thing but may not do this to it."""

    code = "forbidden"


class Conflict(DomainError):
    """The thing is not in a state that allows this, or someone else changed it first."""

    code = "conflict"


class InvalidInput(DomainError):
    """Field-level validation failed; ``errors`` names each field."""

    code = "validation_error"


class ProcessError(DomainError):
    """The workflow itself failed (a script error, a broken model); nothing was saved."""

    code = "process_error"
