"""Modelling: the model recipe, the metrics and the fit and score kernels (pandas and scikit-learn),
run inside Spark tasks. No pyspark here."""
