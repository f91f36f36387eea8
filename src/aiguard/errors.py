"""The exceptions aiguard raises, one tree rooted at :class:`AiguardError`.

Every error also subclasses the builtin it behaves like, so code that already
catches ``ValueError`` or ``RuntimeError`` keeps working, and carries context
as attributes (``.guard``, ``.retry_at``, ...).

::

    AiguardError                          (Exception)
    ├── ConfigurationError                (ValueError)      a parameter is invalid at construction
    ├── InvalidInputError                 (ValueError)      data passed to a function is unusable
    ├── MissingExtraError                 (ImportError)     an optional extra is not installed
    ├── StoreError                        (OSError)         a state store cannot be read or written
    ├── UnknownFlagError                  (KeyError)        a flag name that was never declared
    ├── UnknownVersionError               (KeyError)        a model version not registered here
    └── CallRejectedError                 (RuntimeError)    containment refused to call the model
        ├── CircuitOpenError                                the breaker is open (``.retry_at``)
        ├── FeatureDisabledError                            a kill switch is off (``.flag``)
        ├── RateLimitedError                                load shed (``.retry_at``)
        ├── BulkheadFullError                               too many concurrent calls
        ├── GuardTimeoutError             (TimeoutError)    the model did not answer in time
        ├── RetryBudgetExhaustedError                       retries would exceed the budget
        └── FallbackFailedError                             every fallback tier failed (``.errors``)

Errors raised by the *model* are never wrapped: when no fallback serves, the
model's own exception propagates unchanged.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AiguardError",
    "BulkheadFullError",
    "CallRejectedError",
    "CircuitOpenError",
    "ConfigurationError",
    "FallbackFailedError",
    "FeatureDisabledError",
    "GuardTimeoutError",
    "InvalidInputError",
    "MissingExtraError",
    "RateLimitedError",
    "RetryBudgetExhaustedError",
    "StoreError",
    "UnknownFlagError",
    "UnknownVersionError",
]


class AiguardError(Exception):
    """Base of every exception aiguard raises itself."""


class ConfigurationError(AiguardError, ValueError):
    """A parameter given at construction is invalid.

    The message names the argument, what was expected and what was given:
    ``failure_rate must be in (0, 1], got 1.5``.
    """

    def __init__(self, argument: str, expected: str, got: object) -> None:
        self.argument = argument
        self.expected = expected
        self.got = got
        super().__init__(f"{argument} must be {expected}, got {got!r}")


class InvalidInputError(AiguardError, ValueError):
    """Data passed to a function cannot be used (wrong shape, dtype, empty, ...)."""

    def __init__(self, argument: str, expected: str, got: object) -> None:
        self.argument = argument
        self.expected = expected
        self.got = got
        super().__init__(f"{argument} must be {expected}, got {got}")


class MissingExtraError(AiguardError, ImportError):
    """An optional dependency is needed; the message names the extra to install."""

    def __init__(self, feature: str, extra: str, module: str) -> None:
        self.extra = extra
        super().__init__(
            f"{feature} needs the optional dependency {module!r}: "
            f"pip install 'aiguard[{extra}]'"
        )


class StoreError(AiguardError, OSError):
    """A state store (file, Redis, ...) could not be read or written."""


class UnknownFlagError(AiguardError, KeyError):
    """A flag name that is not known to the flag set."""

    def __init__(self, name: str) -> None:
        self.flag = name
        super().__init__(name)

    def __str__(self) -> str:
        """Return a readable message instead of KeyError's repr of the key."""
        return f"unknown flag {self.flag!r}"


class UnknownVersionError(AiguardError, KeyError):
    """A model version this registry has not registered (``.registry``, ``.version``).

    ``.version`` is None when the registry has no version at all to serve.
    """

    def __init__(self, registry: str, version: str | None) -> None:
        self.registry = registry
        self.version = version
        what = "no version registered" if version is None else f"no version {version!r}"
        super().__init__(f"model registry {registry!r} has {what}")

    def __str__(self) -> str:
        """The message, without KeyError's quotes."""
        return str(self.args[0])


class CallRejectedError(AiguardError, RuntimeError):
    """Containment decided not to call the model and no fallback served the call.

    Attributes:
        guard: name of the guard or breaker that rejected the call (or None).
    """

    reason: str = "rejected"

    def __init__(self, message: str, *, guard: str | None = None) -> None:
        self.guard = guard
        super().__init__(message)


class _RetryAtError(CallRejectedError):
    """A rejection that says when to try again: ``retry_at`` (clock seconds, or None)."""

    def __init__(self, message: str, *, guard: str | None = None, retry_at: float | None) -> None:
        self.retry_at = retry_at
        super().__init__(message, guard=guard)


class CircuitOpenError(_RetryAtError):
    """The circuit breaker is open; ``retry_at`` is when a trial call may be admitted."""

    reason = "open"


class FeatureDisabledError(CallRejectedError):
    """A kill switch turned this AI feature off."""

    reason = "disabled"

    def __init__(self, message: str, *, guard: str | None = None, flag: str) -> None:
        self.flag = flag
        super().__init__(message, guard=guard)


class RateLimitedError(_RetryAtError):
    """The rate limit shed this call; ``retry_at`` is when a token is next available."""

    reason = "rate_limited"


class BulkheadFullError(CallRejectedError):
    """Too many calls are already running through the bulkhead."""

    reason = "bulkhead_full"


class GuardTimeoutError(CallRejectedError, TimeoutError):
    """The model did not answer within the timeout."""

    reason = "timeout"

    def __init__(self, message: str, *, guard: str | None = None, timeout: float) -> None:
        self.timeout = timeout
        super().__init__(message, guard=guard)


class RetryBudgetExhaustedError(CallRejectedError):
    """A retry was needed but the retry budget is spent."""

    reason = "retry_budget"


class FallbackFailedError(CallRejectedError):
    """Every fallback tier failed or produced output that failed its check.

    Attributes:
        errors: what each tier did, in order (an exception or a failed check).
    """

    reason = "fallback_failed"

    def __init__(self, message: str, *, guard: str | None = None, errors: tuple[Any, ...]) -> None:
        self.errors = errors
        super().__init__(message, guard=guard)
