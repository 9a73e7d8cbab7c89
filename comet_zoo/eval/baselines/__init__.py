"""Baselines evaluated by the same code as COMET: trivial segmenters (`trivial`)."""
