"""Question 1: how quickly quality goes down (decay curve, shelf life, decay pattern)."""
