"""Question 5: how often to retrain (replayed retraining policies and the choice among them)."""
