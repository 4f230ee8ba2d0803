"""Predictive scoring: learn from past outcomes which signals lead to a sale (issue #14)."""
