"""The hand-written Flask baseline: the same work as the reference app, no framework around it."""
