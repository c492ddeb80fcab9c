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
from tracemark.db.models.tracing import (
    Media,
    MediaReference,
    ModelPriceRow,
    Observation,
    Trace,
    TraceSession,
    TraceTag,
)

__all__ = [
    "ApiKey",
    "LoginFailure",
    "Media",
    "MediaReference",
    "Membership",
    "ModelPriceRow",
    "Observation",
    "PersonalToken",
    "Project",
    "Role",
    "Trace",
    "TraceSession",
    "TraceTag",
    "User",
    "WebSession",
]
