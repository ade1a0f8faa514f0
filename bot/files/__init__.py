"""Files people send: fetching them from the platforms, keeping them, and reading their text."""
