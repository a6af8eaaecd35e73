"""Figures (matplotlib) and, later, the dashboard."""
