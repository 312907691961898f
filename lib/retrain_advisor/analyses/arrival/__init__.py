"""Question 2: how often new data arrives (rows, labels and label delay per period)."""
