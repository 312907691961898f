"""The Spark layer: the session, reading and validating the source, and running the planned fits
and evaluations as Spark tasks. The only layer below the analyses that touches raw rows."""
