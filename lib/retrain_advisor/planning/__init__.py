"""Planning: which models to fit and on which periods to score them, for every analysis at once.
Pure Python: no Spark, no scikit-learn."""
