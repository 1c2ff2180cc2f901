"""A provider's submission, validated: read the files, check them against the spec, report.

Reading (one module per input format), provider profiles, evaluating the rules and the report
model with its renderings. Runs offline on the provider's machine; knows nothing of the
warehouse."""
