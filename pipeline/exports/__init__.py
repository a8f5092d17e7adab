"""Exports dropped in the inbox: reading any file as rows (:mod:`text`), recognising which export it is from a
registry of formats kept as data (:mod:`registry`, ``formats.yml``, plus user mapping files) and turning its rows
into canonical entities. :mod:`pipeline.filedrop` runs the inbox with them.
"""
