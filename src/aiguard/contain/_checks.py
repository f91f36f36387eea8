"""Output checks (stub, being implemented)."""
__all__: list[str] = []
