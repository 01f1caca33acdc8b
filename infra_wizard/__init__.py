"""Provisioning of a Databricks workspace for ZeroStream (engine, command line, QWizard)."""
