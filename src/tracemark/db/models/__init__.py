"""All models, imported so that Base.metadata knows every table."""

from tracemark.db.models.accounts import (
    ApiKey,
    LoginFailure,
    Membership,
    PersonalToken,
    Project,
    Role,
    User,
    WebSession,
)

__all__ = [
    "ApiKey",
    "LoginFailure",
    "Membership",
    "PersonalToken",
    "Project",
    "Role",
    "User",
    "WebSession",
]
