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
from tracemark.db.models.scoring import (
    Comment,
    CommentObjectType,
    Score,
    ScoreChange,
    ScoreConfig,
    ScoreDataType,
    ScoreSource,
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
    "Comment",
    "CommentObjectType",
    "LoginFailure",
    "Media",
    "MediaReference",
    "Membership",
    "ModelPriceRow",
    "Observation",
    "PersonalToken",
    "Project",
    "Role",
    "Score",
    "ScoreChange",
    "ScoreConfig",
    "ScoreDataType",
    "ScoreSource",
    "Trace",
    "TraceSession",
    "TraceTag",
    "User",
    "WebSession",
]
