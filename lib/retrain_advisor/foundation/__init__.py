"""The foundation: config, errors, the shared vocabulary and statistics, calendar periods and the
output table schemas. Every other layer imports from here; nothing here imports pyspark."""
