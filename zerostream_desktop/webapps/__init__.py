"""Generator of the two companion FastAPI web apps."""
