"""The rules of a Space: pure functions over plain data, no HTTP, no database, no LiveKit."""
