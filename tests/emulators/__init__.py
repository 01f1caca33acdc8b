"""Emulators of services that cannot be reached from here, driven by the real official clients."""
