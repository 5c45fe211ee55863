"""The targets a scenario can run against: the reference in memory, HTTP, a browser, ..."""
