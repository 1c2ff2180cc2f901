"""mhdeaths: a unified national dataset of deaths in NHS mental health services in England."""

__version__ = "0.1.0"
