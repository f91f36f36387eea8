"""OpenFeature both ways (extra ``openfeature``).

* :class:`AiguardProvider` makes an aiguard :class:`~aiguard.Flags` set
  readable through any OpenFeature client (boolean flags; the evaluation
  context's targeting key is the sticky-rollout ``key``).
* :class:`OpenFeatureStore` makes any OpenFeature client (LaunchDarkly,
  Unleash, flagd, ... behind their OpenFeature providers) an aiguard flag
  store, so those systems drive aiguard's kill switches. Read-only.

Importing this module imports ``openfeature``; nothing else in aiguard does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from aiguard.errors import ConfigurationError, MissingExtraError, StoreError
from aiguard.state._readonly import ReadOnlyStore
from aiguard.state._records import make_record

try:
    from openfeature.event import ProviderEventDetails
    from openfeature.exception import ErrorCode
    from openfeature.flag_evaluation import FlagResolutionDetails, Reason
    from openfeature.provider import AbstractProvider, Metadata
except ImportError as exc:  # pragma: no cover - the dev environment has openfeature-sdk
    raise MissingExtraError("the OpenFeature adapter", "openfeature", "openfeature-sdk") from exc

if TYPE_CHECKING:
    from collections.abc import Iterable

    from openfeature.evaluation_context import EvaluationContext

    from aiguard.contain.flags._flags import Flags

__all__ = ["AiguardProvider", "OpenFeatureStore"]

# the provider cannot answer at all: the whole read fails and the flag set keeps its values
_UNREADABLE = frozenset({ErrorCode.PROVIDER_NOT_READY, ErrorCode.PROVIDER_FATAL, ErrorCode.GENERAL})


class _BooleanClient(Protocol):
    def get_boolean_details(
        self, flag_key: str, *, default_value: bool, evaluation_context: Any = None
    ) -> Any: ...


class AiguardProvider(AbstractProvider):
    """An OpenFeature provider answering boolean flags from an aiguard flag set.

    Evaluation reads the flag set's local snapshot (no I/O). The targeting
    key of the evaluation context is the sticky-rollout ``key``. A flag the
    flag set does not know answers ``FLAG_NOT_FOUND``; non-boolean lookups
    answer ``TYPE_MISMATCH``; while the flag set is stale the reason is
    ``STALE``. Flag changes are announced as ``PROVIDER_CONFIGURATION_CHANGED``.

    Args:
        flags: the aiguard :class:`~aiguard.Flags` to expose.

    Example:
        >>> import aiguard as ag
        >>> from openfeature import api
        >>> flags = ag.Flags(refresh=None)
        >>> flags.set("recs.personalized", on=False, reason="3 AM", actor="ops")
        >>> api.set_provider(AiguardProvider(flags), domain="doctest")
        >>> api.get_client("doctest").get_boolean_value("recs.personalized", True)
        False
        >>> api.clear_providers(); flags.close()
    """

    def __init__(self, flags: Flags) -> None:
        if not callable(getattr(flags, "enabled", None)):
            raise ConfigurationError("flags", "an aiguard Flags object", flags)
        super().__init__()
        self.flags = flags
        self._listening = False

    def get_metadata(self) -> Metadata:
        """Name the provider ``aiguard``."""
        return Metadata(name="aiguard")

    def initialize(self, evaluation_context: EvaluationContext) -> None:  # noqa: ARG002
        """Start announcing flag changes to OpenFeature (once)."""
        add_listener = getattr(self.flags, "add_listener", None)
        if add_listener is not None and not self._listening:
            self._listening = True
            add_listener(self._changed)

    def _changed(self, event: Any) -> None:
        name = getattr(event, "name", getattr(event, "flag", None))
        self.emit_provider_configuration_changed(
            ProviderEventDetails(flags_changed=[name] if isinstance(name, str) else None)
        )

    def resolve_boolean_details(
        self,
        flag_key: str,
        default_value: bool,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[bool]:
        """Answer *flag_key* from the flag set (see the class docstring for reasons)."""
        if flag_key not in self.flags:
            return FlagResolutionDetails(
                value=default_value,
                reason=Reason.ERROR,
                error_code=ErrorCode.FLAG_NOT_FOUND,
                error_message=f"aiguard knows no flag {flag_key!r}",
            )
        key = evaluation_context.targeting_key if evaluation_context is not None else None
        value = self.flags.enabled(flag_key, key=key, default=default_value)
        state = self.flags.get(flag_key)
        percent = getattr(state, "percent", None)
        if getattr(self.flags, "stale", False):
            reason = Reason.STALE
        elif percent is not None and 0 < percent < 100:
            reason = Reason.SPLIT
        else:
            reason = Reason.STATIC
        metadata: dict[str, bool | int | float | str] = {}
        if percent is not None:
            metadata["percent"] = float(percent)
        why = getattr(state, "reason", None)
        if isinstance(why, str):
            metadata["reason"] = why
        return FlagResolutionDetails(
            value=value, reason=reason, variant="on" if value else "off", flag_metadata=metadata
        )

    def _mismatch(
        self, flag_key: str, default_value: Any, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[Any]:
        """Answer ``TYPE_MISMATCH``: aiguard flags are boolean."""
        del evaluation_context
        return FlagResolutionDetails(
            value=default_value,
            reason=Reason.ERROR,
            error_code=ErrorCode.TYPE_MISMATCH,
            error_message=f"aiguard flag {flag_key!r} is boolean",
        )

    # every non-boolean lookup gets the same answer, whatever the type asked for
    resolve_string_details = resolve_integer_details = _mismatch
    resolve_float_details = resolve_object_details = _mismatch


class OpenFeatureStore(ReadOnlyStore):
    """An aiguard flag store that reads boolean flags from an OpenFeature client.

    Each :meth:`read_all` evaluates every name in *names* once (with
    *context*, if given) and turns the answers into flag records. A flag the
    provider does not know is left out (the flag set's declared default
    applies); a flag of the wrong type keeps its last good record, counted in
    :attr:`garbage` and logged once; a provider that is not ready, fatal or
    failing makes the whole read raise :class:`~aiguard.errors.StoreError`, so
    the flag set keeps its last values and reports itself stale.
    Read-only: :meth:`write` raises ``StoreError``; change flags in the flag system.

    Args:
        client: an OpenFeature client (anything with ``get_boolean_details``).
        names: the flag names to read.
        context: an optional OpenFeature ``EvaluationContext`` for the reads
            (e.g. the service and region), the same for every replica.

    Example:
        >>> from openfeature import api
        >>> from openfeature.provider.in_memory_provider import InMemoryFlag, InMemoryProvider
        >>> flag = InMemoryFlag("off", {"on": True, "off": False})
        >>> api.set_provider(InMemoryProvider({"recs.personalized": flag}), domain="ofs")
        >>> store = OpenFeatureStore(api.get_client("ofs"), names=["recs.personalized"])
        >>> store.read_all()["recs.personalized"]["on"]
        False
        >>> api.clear_providers()
    """

    def __init__(
        self, client: _BooleanClient, *, names: Iterable[str], context: Any = None
    ) -> None:
        if not callable(getattr(client, "get_boolean_details", None)):
            raise ConfigurationError("client", "an OpenFeature client", client)
        if isinstance(names, str):
            raise ConfigurationError("names", "a list of flag names, not one string", names)
        self.names = tuple(names)
        if not self.names or not all(isinstance(n, str) and n for n in self.names):
            raise ConfigurationError("names", "a non-empty list of flag names", names)
        super().__init__()
        self.client = client
        self.context = context

    def __repr__(self) -> str:
        """Show the flag names read."""
        return f"OpenFeatureStore(names={list(self.names)!r})"

    def read_all(self) -> dict[str, dict[str, Any]]:
        """Evaluate every name and return the flag records.

        Raises:
            StoreError: the provider is not ready, fatal, or failed.
        """
        records: dict[str, dict[str, Any]] = {}
        for name in self.names:
            try:
                details = self.client.get_boolean_details(
                    name, default_value=True, evaluation_context=self.context
                )
            except Exception as exc:
                raise StoreError(f"OpenFeature could not evaluate {name!r}: {exc!r}") from exc
            code = details.error_code
            if code in _UNREADABLE:
                raise StoreError(
                    f"OpenFeature could not evaluate {name!r}: {code} {details.error_message or ''}"
                )
            if code == ErrorCode.FLAG_NOT_FOUND:
                continue
            if code is not None or not isinstance(details.value, bool):
                self._unusable(
                    name, "aiguard: OpenFeature flag %r is not a usable boolean (%s %r); "
                    "keeping its last good value", name, details.error_code, details.value,
                )
                if name in self._last_good:
                    records[name] = dict(self._last_good[name])
                continue
            record = make_record(on=details.value, reason=f"openfeature: {details.reason}")
            self._last_good[name] = record
            records[name] = dict(record)
        return records

    def _refusal(self, name: str) -> str:
        return f"OpenFeatureStore is read-only: change {name!r} in your OpenFeature flag system"
