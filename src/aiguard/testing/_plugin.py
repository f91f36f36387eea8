"""pytest plugin: fixtures for aiguard users' tests (stub, being implemented)."""
