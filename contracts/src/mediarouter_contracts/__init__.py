"""Contract-test kit for mediarouter provider plugins."""
