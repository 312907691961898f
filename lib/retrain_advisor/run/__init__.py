"""The run: prepare, fit, score, analyse and publish, in that order."""
