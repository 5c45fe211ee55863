"""The conformance scenarios, the Target interface they speak, and the harness that runs them."""
