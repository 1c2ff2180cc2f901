"""Whole jobs made of the stages below: the end-to-end demo and the run over an inbox of submissions."""
