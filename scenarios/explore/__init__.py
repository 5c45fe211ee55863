"""Model-based exploration: random action sequences on a target and the reference, compared."""
