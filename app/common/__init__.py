"""Pieces shared by the reference app's domains."""
