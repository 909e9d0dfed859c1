"""Checks of a spec that generate nothing: API conventions (``lint``), breaking changes
(``diff``)."""
