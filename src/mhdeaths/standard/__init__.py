"""What a standards team does with a spec version: check it, compare it, publish its artefacts.

Spec versions are released once and never change; this package checks a version against itself
and the ones before it, describes what changed, and writes the data dictionary, schemas, template
and manifest that providers and suppliers read."""
