"""ZeroStream: stream IoT sensor data into Databricks over ZeroBus and watch it arrive."""

__version__ = "0.1.0"
