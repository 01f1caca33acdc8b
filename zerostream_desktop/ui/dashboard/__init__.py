"""The dashboard pane: what has arrived in the table."""
