"""Running the suite: the plan made before pytest starts, the plugin, one scenario's execution."""
