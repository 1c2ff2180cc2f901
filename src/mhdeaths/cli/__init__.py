"""The ``mhdeaths`` command: options, exit codes and sentences for every stage below it.

Only this package and the documentation site know that there is a command line; every stage
below it is a library call."""
