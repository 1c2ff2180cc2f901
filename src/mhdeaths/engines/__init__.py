"""The two engines that run the spec's expressions: polars (the validator) and DuckDB SQL.

The validator evaluates rules on polars frames; the warehouse derives and counts in DuckDB. Both
compile the same parsed expressions, and the tests hold them to the same answer on every example
the spec carries."""
