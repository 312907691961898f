"""Errors that tell the user what is wrong and what to do about it."""


class RetrainAdvisorError(Exception):
    """Base class: every error the tool raises on purpose."""


class ConfigError(RetrainAdvisorError):
    """The study config is invalid; the message names the key, the value and the fix."""


class SourceError(RetrainAdvisorError):
    """The source data cannot be analysed as configured; the message names the column."""


class PlanError(RetrainAdvisorError):
    """The history is too short (or too sparse) for the requested windows."""


class RecipeError(RetrainAdvisorError):
    """The model recipe cannot be imported or built."""


class OutputError(RetrainAdvisorError):
    """The result tables cannot be written where the config says."""


class ApplyError(RetrainAdvisorError):
    """A recommendation cannot become a change to a retraining job; the message says what is
    missing and what to do."""
