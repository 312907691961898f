"""Question 4: whether to drop old data (lookbacks and recency weights against all history)."""
