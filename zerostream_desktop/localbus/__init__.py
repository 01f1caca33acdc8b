"""The embedded ZeroBus-compatible endpoint writing a local Delta table."""
