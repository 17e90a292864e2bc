"""gridcare: electricity billing and customer service for power-supply companies."""

__version__ = "0.1.0"
