"""The Great Expectations side of the quality gate."""
