"""Paired comparisons of fits that share training ends and test periods, shared by questions 3
and 4 (the config's `comparisons` section)."""
