"""Typed models of the AEF schema (the seed's Ticket 001): enums, rows and inputs.

The enums mirror the database's (a test compares them with pg_enum). Input models
validate with the database's own caps and rules, so a bad call fails before a round
trip, naming the field and the rule; the database still enforces every rule itself.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from aef_db.audit.canonical import jsonb_text

# -- enums: the database's, label for label -----------------------------------------


class ExecutionStatus(StrEnum):
    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    ERROR = "error"
    CANCELLED = "cancelled"


class LogEventType(StrEnum):
    STEP_STARTED = "step_started"
    STEP_COMPLETED = "step_completed"
    STEP_FAILED = "step_failed"
    BROWSER_ACTION = "browser_action"
    USER_INPUT = "user_input"
    CHECKPOINT_REACHED = "checkpoint_reached"
    LOOP_ITERATION = "loop_iteration"
    DECISION_MADE = "decision_made"
    ERROR_OCCURRED = "error_occurred"


class CheckpointType(StrEnum):
    BEFORE_EXECUTION = "before_execution"
    AFTER_EXECUTION = "after_execution"
    ON_ERROR = "on_error"
    MANUAL_REVIEW = "manual_review"
    DATA_VALIDATION = "data_validation"
    CUSTOM = "custom"


class CheckpointStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    SKIPPED = "skipped"
    TIMEOUT = "timeout"


class BrowserSessionStatus(StrEnum):
    ACTIVE = "active"
    IDLE = "idle"
    TERMINATED = "terminated"
    ERROR = "error"


DATABASE_ENUMS: dict[str, type[StrEnum]] = {
    "execution_status": ExecutionStatus,
    "log_event_type": LogEventType,
    "checkpoint_type": CheckpointType,
    "checkpoint_status": CheckpointStatus,
    "browser_session_status": BrowserSessionStatus,
}

# -- values kept in text columns (CHECK constraints in the database) ---------------


class ContextLevel(StrEnum):
    """How much of an execution's context is stored (the seed's decision 1)."""

    MINIMAL = "minimal"
    STANDARD = "standard"
    FULL = "full"


class SessionMode(StrEnum):
    ISOLATED = "isolated"
    PERSISTENT = "persistent"
    POOLED = "pooled"


class TimeoutPolicy(StrEnum):
    FAIL_EXECUTION = "fail_execution"
    CANCEL_EXECUTION = "cancel_execution"
    SKIP = "skip"


FINAL_EXECUTION_STATUSES = frozenset({ExecutionStatus.COMPLETED, ExecutionStatus.ERROR, ExecutionStatus.CANCELLED})
# forcing events: the batched writer makes them durable before returning (the seed's decision 3)
FLUSHING_EVENTS = frozenset(
    {
        LogEventType.STEP_COMPLETED,
        LogEventType.STEP_FAILED,
        LogEventType.CHECKPOINT_REACHED,
        LogEventType.ERROR_OCCURRED,
    }
)

# -- the database's caps (docs/errors.md) ----------------------------------------------

KIB = 1024
CAPS = {
    "config": 64 * KIB,
    "execution_context": 1024 * KIB,
    "data": 256 * KIB,
    "browser_state": 256 * KIB,
    "request": 64 * KIB,
    "user_response": 64 * KIB,
    "session_data": 256 * KIB,
}
# levels of nesting below a document's root (the *_depth constraints): deeper
# JSON breaks recursive parsers, Python's json among them
JSON_MAX_DEPTH = 64
STEP_ID_MAX = 256
SESSION_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


def _walk_strings(value: Any) -> Any:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _walk_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk_strings(item)


def check_json(value: Any, *, field: str, object_required: bool = True) -> Any:
    """The database's JSON rules, checked early: an object where one is required, no NUL
    character (jsonb refuses \\u0000), at most JSON_MAX_DEPTH levels of nesting, and the
    column's size cap (measured here on the compact JSON text; the database's check of
    the stored size stays authoritative)."""
    if object_required and not isinstance(value, dict):
        raise ValueError(f"{field} must be a JSON object, not {type(value).__name__}")
    if json_depth(value) > JSON_MAX_DEPTH:
        raise ValueError(f"{field} is nested more than {JSON_MAX_DEPTH} levels deep")
    if any("\x00" in s for s in _walk_strings(value)):
        raise ValueError(f"{field} must not contain NUL characters")
    try:
        size = len(json.dumps(value, separators=(",", ":"), default=_json_default).encode())
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{field} must be JSON-serializable: {exc}") from exc
    if size > CAPS[field]:
        raise ValueError(f"{field} is {size} bytes, over its cap of {CAPS[field]} bytes")
    return value


def stored_json(value: dict[str, Any], *, field: str) -> str:
    """check_json's rules and the jsonb text the database will store, in one walk (the
    log's path: every step pays for it). The size is that text's."""
    try:
        text = jsonb_text(value, JSON_MAX_DEPTH)
    except ValueError as exc:
        raise ValueError(f"{field} {exc}") from None
    except TypeError as exc:
        from aef_db.secrets import SecretsError, contains_secret

        if contains_secret(value):
            # the log is append-only, so a secret in it could never be re-sealed under a new key
            raise SecretsError(
                f"{field}: a Secret does not belong in the audit log; keep it in the execution context"
            ) from None
        raise ValueError(f"{field} must be JSON-serializable: {exc}") from None
    size = len(text) if text.isascii() else len(text.encode())
    if size > CAPS[field]:
        raise ValueError(f"{field} is {size} bytes, over its cap of {CAPS[field]} bytes")
    return text


def json_depth(value: Any) -> int:
    """How many levels below the root the deepest value sits (a scalar root: 0).

    Iterative, so a document too deep for a recursive parser is measured, not fatal.
    """
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, level + 1) for child in children)
    return deepest


def _json_default(value: Any) -> Any:
    # A Secret is stored as its sealed token: count the token's length, not the secret's.
    from aef_db.secrets import Secret, sealed_length

    if isinstance(value, Secret):
        return "x" * sealed_length(value.value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def validate_step_id(value: str | None) -> str | None:
    """The database's rules for a step id: not empty, no NUL, at most 256 characters."""
    if value is None:
        return None
    if value == "":
        raise ValueError("step id must not be empty")
    if "\x00" in value:
        raise ValueError("step id must not contain NUL characters")
    if len(value) > STEP_ID_MAX:
        raise ValueError(f"step id is {len(value)} characters, over the limit of {STEP_ID_MAX}")
    return value


StepId = Annotated[str | None, AfterValidator(validate_step_id)]


def _capped(field: str, object_required: bool = True) -> Any:
    return AfterValidator(lambda v: v if v is None else check_json(v, field=field, object_required=object_required))


# -- inputs --------------------------------------------------------------------------


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class NewExecution(_Input):
    sop_id: uuid.UUID
    user_id: uuid.UUID
    context_level: ContextLevel = ContextLevel.STANDARD
    config: Annotated[dict[str, Any], _capped("config")] = Field(default_factory=dict)
    execution_context: Annotated[dict[str, Any], _capped("execution_context")] = Field(default_factory=dict)
    current_step_id: StepId = None
    browser_session_id: str | None = None

    @field_validator("browser_session_id")
    @classmethod
    def _session_id(cls, value: str | None) -> str | None:
        if value is not None and not SESSION_ID.match(value):
            raise ValueError("browser_session_id must be 1 to 128 letters, digits or _.:-")
        return value

    @field_validator("config")
    @classmethod
    def _no_level_in_config(cls, value: dict[str, Any]) -> dict[str, Any]:
        if "context_level" in value:
            raise ValueError("give context_level as its own argument, not inside config")
        return value


class LogEvent(_Input):
    """One event on its way into the log, with the jsonb text the database will store and
    hash (``texts``): validated and rendered in one walk, since every step pays for it."""

    event_type: LogEventType
    step_id: StepId = None
    data: dict[str, Any] = Field(default_factory=dict)
    browser_state: dict[str, Any] | None = None
    timestamp: datetime | None = None
    _texts: tuple[str, str | None] = PrivateAttr()  # no default: pydantic would deep-copy it per event

    @model_validator(mode="after")
    def _render(self) -> LogEvent:
        state = None if self.browser_state is None else stored_json(self.browser_state, field="browser_state")
        self._texts = (stored_json(self.data, field="data"), state)
        return self

    @property
    def texts(self) -> tuple[str, str | None]:
        """data and browser_state as the jsonb text the database will store, and the hash covers."""
        return self._texts

    @field_validator("timestamp")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("timestamp must carry a time zone")
        return value


class NewCheckpoint(_Input):
    checkpoint_type: CheckpointType
    step_id: StepId = None
    request: Annotated[dict[str, Any], _capped("request")] = Field(default_factory=dict)
    timeout: timedelta | None = None
    timeout_policy: TimeoutPolicy = TimeoutPolicy.FAIL_EXECUTION

    @field_validator("timeout")
    @classmethod
    def _positive(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value <= timedelta(0):
            raise ValueError("timeout must be positive")
        return value


class Resolution(_Input):
    decision: CheckpointStatus
    response: Annotated[Any, _capped("user_response", object_required=False)] = None

    @field_validator("decision")
    @classmethod
    def _human(cls, value: CheckpointStatus) -> CheckpointStatus:
        if value not in (CheckpointStatus.APPROVED, CheckpointStatus.REJECTED, CheckpointStatus.SKIPPED):
            raise ValueError("decision must be approved, rejected or skipped")
        return value


# -- rows ------------------------------------------------------------------------------


class _Row(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Execution(_Row):
    id: uuid.UUID
    sop_id: uuid.UUID | None
    user_id: uuid.UUID
    status: ExecutionStatus
    started_at: datetime | None
    completed_at: datetime | None
    current_step_id: str | None
    execution_context: dict[str, Any]
    browser_session_id: str | None
    config: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @property
    def context_level(self) -> ContextLevel:
        return ContextLevel(self.config.get("context_level", ContextLevel.STANDARD))


class ExecutionLog(_Row):
    id: uuid.UUID
    execution_id: uuid.UUID
    step_id: str | None
    event_type: LogEventType
    timestamp: datetime
    data: dict[str, Any]
    browser_state: dict[str, Any] | None
    user_id: uuid.UUID
    seq: int


class Checkpoint(_Row):
    id: uuid.UUID
    execution_id: uuid.UUID
    step_id: str | None
    checkpoint_type: CheckpointType
    status: CheckpointStatus
    user_response: Any
    created_at: datetime
    resolved_at: datetime | None
    user_id: uuid.UUID
    request: dict[str, Any]
    timeout_at: datetime | None
    timeout_policy: TimeoutPolicy
    resolved_by: uuid.UUID | None


class BrowserSession(_Row):
    id: str
    user_id: uuid.UUID
    status: BrowserSessionStatus
    created_at: datetime
    last_active: datetime
    session_data: Any = None  # decrypted for a key holder, withheld otherwise
    mode: SessionMode
    lease_execution_id: uuid.UUID | None
    lease_holder: str | None
    lease_expires_at: datetime | None
    ended_at: datetime | None
