"""The reports a run leaves: report.json, junit.xml and report.html, scrubbed of secrets."""
