"""The harness testing itself: seeded defects, `clinic2fa defects [--check]`, `serve --defect`."""
