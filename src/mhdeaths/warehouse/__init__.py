"""The national warehouse: one DuckDB file of validated submissions, with history and pseudonyms.

Modules, in the order data flows: ``canonical`` (one model for every spec version, and what
becomes of identifiers), ``store`` (the file, its migrations and views), ``loading`` (validate,
then load in one transaction), ``overview`` (status and history for the receiving team),
``querying`` (read-only queries and the Parquet export for analysts).
"""
