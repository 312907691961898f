"""The demo: a generated churn history with known drift, written to Delta for the demo study."""
