"""Outputs: the result store (Delta tables), the rows of each table, SQL views, figures, the HTML
report, MLflow tracking and the terminal summary."""
