"""The simulator pane: fleet size, start/stop and live device values."""
