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
        "BreakerPermit",
        "BreakerState",
        "Bulkhead",
        "BulkheadFullError",
        "CallRejectedError",
        "CanaryEvent",
        "CanaryRouter",
        "ChampionChange",
        "CircuitBreaker",
        "CircuitOpenError",
        "ConfigurationError",
        "EnvStore",
        "Escalation",
        "FallbackFailedError",
        "FeatureDisabledError",
        "FileStore",
        "FlagChange",
        "FlagSpec",
        "FlagState",
        "Flags",
        "FlagsStatus",
        "FleetBreaker",
        "FleetRule",
        "Guard",
        "GuardConfig",
        "GuardOptions",
        "GuardStats",
        "GuardStatsSnapshot",
        "Incident",
        "IncidentLog",
        "Incidents",
        "GuardTimeoutError",
        "InvalidInputError",
        "Judge",
        "Judgement",
        "MemoryStore",
        "MetricResult",
        "MetricSpec",
        "MissingExtraError",
        "ModelRegistry",
        "Outcome",
        "Policy",
        "RateLimit",
        "RateLimitedError",
        "RedisStore",
        "Hedge",
        "ReplayReport",
        "Retry",
        "RetryBudget",
        "RetryBudgetExhaustedError",
        "Severity",
        "ShadowReport",
        "ShadowRouter",
        "Signal",
        "Status",
        "StoreError",
        "TimeWindow",
        "Timeout",
        "UnknownFlagError",
        "UnknownVersionError",
        "Webhook",
        "__version__",
        "checks",
        "detect",
        "fallback",
        "guard",
        "hedge",
        "kill_switch",
        "replay",
        "retry",
        "rules",
        "share_breaker",
        "timeout",
        "wrap",
    }
    assert expected == set(aiguard.__all__)


def test_state_all_is_pinned() -> None:
    """``aiguard.state.__all__`` lists exactly the stores, boards and fleet types."""
    import aiguard.state

    assert set(aiguard.state.__all__) == {
        "BreakerBoard",
        "EnvStore",
        "FileBoard",
        "FileStore",
        "FleetBreaker",
        "FleetRule",
        "MemoryBoard",
        "MemoryStore",
        "RedisStore",
        "share_breaker",
    }
    assert aiguard.state.FleetBreaker is aiguard.FleetBreaker
    assert all(hasattr(aiguard.state, name) for name in aiguard.state.__all__)


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
    assert issubclass(aiguard.UnknownVersionError, KeyError)
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


def test_recover_names_are_the_same_objects() -> None:
    """The recovery names at the top level are aiguard.recover's."""
    import aiguard.recover

    for name in aiguard.recover.__all__:
        if name in aiguard.__all__:
            assert getattr(aiguard, name) is getattr(aiguard.recover, name)
    missing = aiguard.UnknownVersionError("recs", "v9")
    assert str(missing) == "model registry 'recs' has no version 'v9'"


def test_detect_all_is_pinned() -> None:
    """``aiguard.detect.__all__`` lists the Signal names and the monitors."""
    assert set(aiguard.detect.__all__) == {
        "SIGNAL_KINDS", "Signal", "SignalKind", "SignalStatus", "Monitor", "LogHistogram",
        "LatencyMonitor", "ErrorRateMonitor", "OutputMonitor", "InputDriftMonitor",
        "PerformanceMonitor", "FairnessMonitor", "ConfidenceMonitor",
        "PageHinkley", "ADWIN", "KSWIN", "DDM", "EDDM", "HDDM_A", "HDDM_W", "CUSUM",
    }


def test_checks_exports_the_input_checks() -> None:
    """``aiguard.checks`` holds the input checks beside the output checks."""
    inputs = {"within_reference", "missing", "schema", "ood", "ood_score"}
    assert inputs <= set(aiguard.checks.__all__)
    assert all(callable(getattr(aiguard.checks, name)) for name in inputs)
