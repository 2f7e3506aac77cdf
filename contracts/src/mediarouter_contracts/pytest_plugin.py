"""pytest plugin entry point of the contract kit."""
