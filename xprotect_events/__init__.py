"""asyncio client for Milestone XProtect's RESTful Events API and Events and State WebSocket
API; ``xprotect_events.testing`` is a local simulator of both."""

from .accounting import BatchReport, InvalidTriggerError, TriggerInputError, TriggerResult
from .checkpoints import CheckpointStore, FileCheckpoint, MemoryCheckpoint
from .cleartext import InsecureTransportWarning
from .client import XProtectClient
from .committer import Committer
from .errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    BatchError,
    CheckpointError,
    ClientClosedError,
    ConfigurationError,
    ConnectError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    ProtocolError,
    RateLimitedError,
    ReconcileError,
    RequestError,
    RequestTimeoutError,
    ServerError,
    SessionLostError,
    TLSError,
    TransportError,
    UnauthorizedError,
    XProtectError,
)
from .filters import (
    Condition,
    SessionFilter,
    SessionOrder,
    contains,
    contains_one_of,
    equals,
    gt,
    lt,
    not_equals,
    one_of,
    starts_with,
)
from .live import LiveStream
from .live_buffer import SlowConsumerError
from .live_conn import CommandError
from .models import (
    Camera,
    Event,
    EventPage,
    EventTrigger,
    EventType,
    SessionChange,
    SessionRead,
)
from .policy import RetryPolicy
from .positions import LivePosition, Position, SessionPosition
from .profile import Profile
from .sessions import EventSession
from .ws_wire import Gap, Rule

__version__ = "0.1.0"

__all__ = [
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "BatchError",
    "BatchReport",
    "Camera",
    "CheckpointError",
    "CheckpointStore",
    "ClientClosedError",
    "CommandError",
    "Committer",
    "Condition",
    "ConfigurationError",
    "ConnectError",
    "Event",
    "EventPage",
    "EventSession",
    "EventTrigger",
    "EventType",
    "FileCheckpoint",
    "ForbiddenError",
    "Gap",
    "InsecureTransportWarning",
    "InvalidInputError",
    "InvalidTriggerError",
    "LivePosition",
    "LiveStream",
    "MemoryCheckpoint",
    "NotFoundError",
    "Position",
    "Profile",
    "ProtocolError",
    "RateLimitedError",
    "ReconcileError",
    "RequestError",
    "RequestTimeoutError",
    "RetryPolicy",
    "Rule",
    "ServerError",
    "SessionChange",
    "SessionFilter",
    "SessionLostError",
    "SessionOrder",
    "SessionPosition",
    "SessionRead",
    "SlowConsumerError",
    "TLSError",
    "TransportError",
    "TriggerInputError",
    "TriggerResult",
    "UnauthorizedError",
    "XProtectClient",
    "XProtectError",
    "__version__",
    "contains",
    "contains_one_of",
    "equals",
    "gt",
    "lt",
    "not_equals",
    "one_of",
    "starts_with",
]
