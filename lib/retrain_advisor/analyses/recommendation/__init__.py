"""The recommendation: one decision per run and slice from every question's results."""
