"""Domain errors. Services raise these; the API's exception handler maps them to 4xx."""


class DomainError(Exception):
    """A business rule said no. The message is safe to show to the caller."""

    status_code = 400


class NotFound(DomainError):
    status_code = 404


class PermissionDenied(DomainError):
    status_code = 403


class Conflict(DomainError):
    status_code = 409


class InvalidTransition(Conflict):
    """An order (or campaign, conversation...) cannot move from its status to the one asked for."""
