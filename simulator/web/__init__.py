"""The reference web app: the JSON HTTP contract (/api/v1), the guide's pages, test support."""
