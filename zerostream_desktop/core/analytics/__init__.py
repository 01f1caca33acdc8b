"""KPIs, clients and tracks from the sensor table, whichever store holds it."""
