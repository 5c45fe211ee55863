"""The reports of a run: report.json, junit.xml and report.html."""
