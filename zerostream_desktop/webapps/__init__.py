"""The two companion web apps (FastAPI): the mobile simulator and the dashboard, built from the core.

`create_mobile_app` and `create_dashboard_app` make one app each, as Databricks Apps runs them;
`local.create_local_app` puts one or both behind one local server for `zerostream webapps serve`.
"""
