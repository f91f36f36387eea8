"""The public surface is a contract: pin it."""

from __future__ import annotations

import aiguard
import aiguard.errors


def test_all_is_pinned() -> None:
    """``aiguard.__all__`` lists exactly the documented public names."""
    expected = {
        "AiguardError",
        "Backoff",
        "BreakerEvent",
        "BreakerMetrics",
        "BreakerState",
        "Bulkhead",
        "BulkheadFullError",
        "CallRejectedError",
        "CircuitBreaker",
        "CircuitOpenError",
        "ConfigurationError",
        "EnvStore",
        "FallbackFailedError",
        "FeatureDisabledError",
        "FileStore",
        "FlagChange",
        "FlagSpec",
        "FlagState",
        "Flags",
        "FlagsStatus",
        "FleetRule",
        "Guard",
        "GuardTimeoutError",
        "InvalidInputError",
        "MemoryStore",
        "MissingExtraError",
        "Outcome",
        "RateLimit",
        "RateLimitedError",
        "RedisStore",
        "RetryBudget",
        "RetryBudgetExhaustedError",
        "StoreError",
        "TimeWindow",
        "UnknownFlagError",
        "__version__",
        "checks",
        "fallback",
        "guard",
        "hedge",
        "kill_switch",
        "retry",
        "share_breaker",
        "timeout",
        "wrap",
    }
    assert expected == set(aiguard.__all__)


def test_every_public_name_resolves() -> None:
    """Every name in ``__all__`` is an attribute of the package."""
    missing = [name for name in aiguard.__all__ if not hasattr(aiguard, name)]
    assert missing == []


def test_drift_all_is_pinned() -> None:
    """``aiguard.drift.__all__`` lists exactly the drift names users import, and each resolves."""
    import aiguard.drift

    expected = {
        "Accumulator",
        "DriftReport",
        "DriftResult",
        "DriftWarning",
        "FeatureDrift",
        "MethodResult",
        "Reference",
        "anderson",
        "chi2",
        "cramervonmises",
        "energy",
        "hellinger",
        "jensenshannon",
        "kl",
        "ks",
        "missing_rate",
        "mmd",
        "psi",
        "wasserstein",
        "ztest",
    }
    assert expected == set(aiguard.drift.__all__)
    assert [name for name in expected if not hasattr(aiguard.drift, name)] == []


def test_errors_are_importable_from_the_package() -> None:
    """Each error in ``aiguard.errors`` is the same object at the top level."""
    for name in aiguard.errors.__all__:
        assert getattr(aiguard, name) is getattr(aiguard.errors, name)


def test_errors_subclass_the_fitting_builtin() -> None:
    """Errors also derive from the builtin they behave like."""
    assert issubclass(aiguard.CircuitOpenError, RuntimeError)
    assert issubclass(aiguard.ConfigurationError, ValueError)
    assert issubclass(aiguard.InvalidInputError, ValueError)
    assert issubclass(aiguard.GuardTimeoutError, TimeoutError)
    assert issubclass(aiguard.StoreError, OSError)
    assert issubclass(aiguard.UnknownFlagError, KeyError)
    assert issubclass(aiguard.MissingExtraError, ImportError)


def test_error_messages_name_argument_expectation_and_value() -> None:
    """A ConfigurationError message reads 'arg must be expected, got value'."""
    err = aiguard.ConfigurationError("failure_rate", "in (0, 1]", 1.5)
    assert str(err) == "failure_rate must be in (0, 1], got 1.5"
    assert (err.argument, err.expected, err.got) == ("failure_rate", "in (0, 1]", 1.5)


def test_error_context_attributes() -> None:
    """Rejections carry the guard name and, where it applies, retry_at."""
    err = aiguard.CircuitOpenError("open", guard="recs", retry_at=12.5)
    assert (err.guard, err.retry_at, err.reason) == ("recs", 12.5, "open")
    missing = aiguard.UnknownFlagError("recs.personalized")
    assert str(missing) == "unknown flag 'recs.personalized'"
    extra = aiguard.MissingExtraError("RedisStore", "redis", "redis")
    assert "pip install 'aiguard[redis]'" in str(extra)


def test_version_is_a_string() -> None:
    """``__version__`` comes from the installed metadata."""
    assert isinstance(aiguard.__version__, str)
    assert aiguard.__version__.count(".") >= 2
