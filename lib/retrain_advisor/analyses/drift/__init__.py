"""Drift of the features, the label and the predictions per period, and which drift predicts a
quality drop."""
