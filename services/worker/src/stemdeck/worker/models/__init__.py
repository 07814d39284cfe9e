"""Separation models, one module per family, behind ``base.SeparationModel``."""
