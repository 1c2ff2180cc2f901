"""The expression language the spec's rules and definitions are written in.

A rule or a derivation is text in the spec; this package parses it into a tree, knows its
functions and their types, and is the one description of the language both engines compile from."""
