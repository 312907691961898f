"""retrain-advisor: how fast a model decays on your own history, and how often to retrain it."""

__version__ = "0.1.0"
