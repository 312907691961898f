"""Question 3: how much data the model needs (learning curve and minimum training size)."""
