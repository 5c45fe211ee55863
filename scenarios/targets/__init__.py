"""The targets a scenario can run against: the in-memory reference, a deployment over HTTP."""
