"""PySide6 widgets and thin Qt models over core objects."""
