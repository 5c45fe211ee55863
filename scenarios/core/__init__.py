"""What every scenario is made of: its model, the Context it runs in, its trace, its verdict."""
